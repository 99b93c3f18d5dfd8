"""The statement catalogue (id → category, default urgency, French, English), the AI code map
and the lead territories. The texts live in the one message catalogue (:mod:`ecgpilot.messages`,
sections ``reading.statement`` and ``reading.ai_label``); this module holds the codes and read-only
views of those texts. No logic beyond the lookup."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ecgpilot import messages

__all__ = ["STATEMENTS", "STATEMENT_KINDS", "AI_MAP", "AI_LABELS_FR", "AI_TERRITORY", "TERRITORIES", "CONTIGUOUS",
           "LEAD_ORDER", "CATEGORIES", "statement_text", "ai_label"]

#: Lead order for display and sorting.
LEAD_ORDER: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: Category order of the statement list.
CATEGORIES: tuple[str, ...] = ("quality", "rhythm", "rate", "conduction", "axis", "hypertrophy", "ischaemia",
                               "qt", "other")
#: Contiguous lead pairs (Cabrera order for the limb leads, then the precordial sequence), as the 4th
#: universal definition of MI (Thygesen et al. 2018) groups them.
CONTIGUOUS: tuple[tuple[str, str], ...] = (
    ("aVL", "I"), ("II", "aVF"), ("aVF", "III"), ("II", "III"),
    ("V1", "V2"), ("V2", "V3"), ("V3", "V4"), ("V4", "V5"), ("V5", "V6"), ("I", "V6"),
)
#: Territories (lead groups) named in statements.
TERRITORIES: dict[str, tuple[str, ...]] = {
    "inferior": ("II", "III", "aVF"),
    "lateral": ("I", "aVL", "V5", "V6"),
    "anterior": ("V1", "V2", "V3", "V4"),
}
# --- statement kinds: id -> (category, default urgency); the texts are the catalogue's
# ``reading.statement.<id>`` (ecgpilot/messages/fr.toml, en.toml) --------------------------------
STATEMENT_KINDS: dict[str, tuple[str, str]] = {
    # rhythm
    "sinus_rhythm": ("rhythm", "normal"),
    "sinus_arrhythmia": ("rhythm", "routine"),
    "atrial_fibrillation": ("rhythm", "soon"),
    "irregular_rhythm_no_p": ("rhythm", "soon"),
    "atrial_flutter": ("rhythm", "soon"),
    "svt": ("rhythm", "emergency"),
    "supraventricular_arrhythmia": ("rhythm", "soon"),
    "paced_rhythm": ("rhythm", "routine"),
    "bigeminy": ("rhythm", "routine"),
    "trigeminy": ("rhythm", "routine"),
    "pvc": ("rhythm", "routine"),
    "pac": ("rhythm", "routine"),
    "wide_complex_tachycardia": ("rhythm", "emergency"),
    # rate
    "very_fast_rate": ("rate", "emergency"),
    "tachycardia": ("rate", "routine"),
    "sinus_tachycardia": ("rate", "routine"),
    "bradycardia": ("rate", "routine"),
    "sinus_bradycardia": ("rate", "normal"),
    "very_slow_rate": ("rate", "emergency"),
    # conduction
    "first_degree_avb": ("conduction", "routine"),
    "high_degree_avb": ("conduction", "emergency"),
    "av_block": ("conduction", "routine"),
    "lbbb": ("conduction", "soon"),
    "rbbb": ("conduction", "routine"),
    "incomplete_lbbb": ("conduction", "routine"),
    "incomplete_rbbb": ("conduction", "routine"),
    "lafb": ("conduction", "routine"),
    "lpfb": ("conduction", "routine"),
    "fascicular_block": ("conduction", "routine"),
    "bifascicular_block": ("conduction", "soon"),
    "ivcd": ("conduction", "routine"),
    "wide_qrs": ("conduction", "routine"),
    "wpw": ("conduction", "soon"),
    "possible_preexcitation": ("conduction", "soon"),
    # axis
    "axis_normal": ("axis", "normal"),
    "left_axis_deviation": ("axis", "routine"),
    "right_axis_deviation": ("axis", "routine"),
    "extreme_axis": ("axis", "routine"),
    # hypertrophy
    "lvh": ("hypertrophy", "routine"),
    "rvh": ("hypertrophy", "soon"),
    "septal_hypertrophy": ("hypertrophy", "soon"),
    "left_atrial_enlargement": ("hypertrophy", "routine"),
    "right_atrial_enlargement": ("hypertrophy", "routine"),
    "high_voltage": ("hypertrophy", "routine"),
    "low_voltage": ("other", "routine"),
    # ischaemia / infarction
    "acute_st_elevation": ("ischaemia", "emergency"),
    "infarction": ("ischaemia", "soon"),
    "ischaemic_st_t": ("ischaemia", "soon"),
    "nonspecific_st_t": ("ischaemia", "routine"),
    "st_depression": ("ischaemia", "soon"),
    "q_waves": ("ischaemia", "routine"),
    "aneurysm": ("ischaemia", "soon"),
    # QT
    "long_qtc": ("qt", "soon"),
    "very_long_qtc": ("qt", "emergency"),
    # other
    "drug_or_electrolyte": ("other", "routine"),
    "normal_ecg": ("other", "normal"),
    # quality
    "not_measured": ("quality", "routine"),
    "repeat_recording": ("quality", "routine"),
    # --- added in rules 2026.12 (per-lead matrix criteria, rhythm from the tracing) ---
    "sinus_bradycardia_marked": ("rate", "routine"),
    "junctional_rhythm": ("rhythm", "routine"),
    "complete_avb": ("conduction", "emergency"),
    "mobitz1": ("conduction", "routine"),
    "mobitz2": ("conduction", "emergency"),
    "avb_2to1": ("conduction", "soon"),
    "stemi": ("ischaemia", "emergency"),
    "posterior_stemi": ("ischaemia", "emergency"),
    "avr_stemi_equivalent": ("ischaemia", "emergency"),
    "de_winter": ("ischaemia", "emergency"),
    "sgarbossa": ("ischaemia", "emergency"),
    "wellens": ("ischaemia", "soon"),
    "st_elevation_mimic": ("ischaemia", "routine"),
    "st_elevation_subthreshold": ("ischaemia", "routine"),
    "pericarditis_pattern": ("ischaemia", "soon"),
    "early_repolarisation": ("ischaemia", "normal"),
    "lvh_strain": ("hypertrophy", "soon"),
    "t_wave_inversion": ("ischaemia", "routine"),
    "pathological_q": ("ischaemia", "soon"),
    "brugada_type1": ("conduction", "soon"),
    "qt_unreliable": ("qt", "routine"),
    "possible_on_poor_tracing": ("quality", "repeat_now"),
    "paediatric": ("other", "routine"),
    "one_lead": ("other", "normal"),
}

# AI statement codes (PTB-XL statement and subclass codes) -> statement id.
AI_MAP: dict[str, str] = {
    "SR": "sinus_rhythm", "SARRH": "sinus_arrhythmia", "AFIB": "atrial_fibrillation",
    "AFLT": "atrial_flutter", "SVTAC": "svt", "PSVT": "svt", "SVARR": "supraventricular_arrhythmia",
    "PACE": "paced_rhythm", "BIGU": "bigeminy", "TRIGU": "trigeminy", "PVC": "pvc", "PAC": "pac",
    "STACH": "sinus_tachycardia", "SBRAD": "sinus_bradycardia",
    "1AVB": "first_degree_avb", "LPR": "first_degree_avb", "2AVB": "high_degree_avb",
    "3AVB": "high_degree_avb", "AVB": "av_block", "_AVB": "av_block",
    "CLBBB": "lbbb", "CRBBB": "rbbb", "ILBBB": "incomplete_lbbb", "IRBBB": "incomplete_rbbb",
    "LAFB": "lafb", "LPFB": "lpfb", "LAFB/LPFB": "fascicular_block", "IVCD": "ivcd", "WPW": "wpw",
    "LVH": "lvh", "VCLVH": "lvh", "RVH": "rvh", "SEHYP": "septal_hypertrophy",
    "LAO/LAE": "left_atrial_enlargement", "RAO/RAE": "right_atrial_enlargement",
    "HVOLT": "high_voltage", "LVOLT": "low_voltage",
    "INJAS": "acute_st_elevation", "INJAL": "acute_st_elevation", "INJIN": "acute_st_elevation",
    "INJLA": "acute_st_elevation", "INJIL": "acute_st_elevation", "STE_": "acute_st_elevation",
    "STE": "acute_st_elevation",
    "AMI": "infarction", "ASMI": "infarction", "ALMI": "infarction", "IMI": "infarction",
    "ILMI": "infarction", "IPMI": "infarction", "IPLMI": "infarction", "LMI": "infarction",
    "PMI": "infarction",
    "ISCAL": "ischaemic_st_t", "ISCIN": "ischaemic_st_t", "ISCIL": "ischaemic_st_t",
    "ISCAS": "ischaemic_st_t", "ISCLA": "ischaemic_st_t", "ISCAN": "ischaemic_st_t",
    "ISC_": "ischaemic_st_t", "ISCA": "ischaemic_st_t", "ISCI": "ischaemic_st_t", "ISC": "ischaemic_st_t",
    "STD_": "st_depression", "STD": "st_depression",
    "NST_": "nonspecific_st_t", "NST": "nonspecific_st_t", "NDT": "nonspecific_st_t",
    "NT_": "nonspecific_st_t", "NT": "nonspecific_st_t", "INVT": "nonspecific_st_t",
    "LOWT": "nonspecific_st_t", "TAB_": "nonspecific_st_t", "TAB": "nonspecific_st_t",
    "STTC": "nonspecific_st_t", "QWAVE": "q_waves", "ANEUR": "aneurysm",
    "DIG": "drug_or_electrolyte", "EL": "drug_or_electrolyte", "LNGQT": "long_qtc",
}

# Territory (leads) of localised PTB-XL codes.
AI_TERRITORY: dict[str, list[str]] = {
    "INJAS": ["V1", "V2", "V3", "V4"], "ASMI": ["V1", "V2", "V3", "V4"], "ISCAS": ["V1", "V2", "V3", "V4"],
    "INJAL": ["I", "aVL", "V3", "V4", "V5", "V6"], "ALMI": ["I", "aVL", "V3", "V4", "V5", "V6"],
    "ISCAL": ["I", "aVL", "V3", "V4", "V5", "V6"],
    "INJIN": ["II", "III", "aVF"], "IMI": ["II", "III", "aVF"], "ISCIN": ["II", "III", "aVF"],
    "INJLA": ["I", "aVL", "V5", "V6"], "LMI": ["I", "aVL", "V5", "V6"], "ISCLA": ["I", "aVL", "V5", "V6"],
    "INJIL": ["II", "III", "aVF", "V5", "V6"], "ILMI": ["II", "III", "aVF", "V5", "V6"],
    "ISCIL": ["II", "III", "aVF", "V5", "V6"],
    "AMI": ["V1", "V2", "V3", "V4"], "ISCAN": ["V1", "V2", "V3", "V4"], "ISCA": ["V1", "V2", "V3", "V4", "V5", "V6"],
    "ISCI": ["II", "III", "aVF"], "PMI": ["V1", "V2", "V3"], "IPMI": ["II", "III", "aVF", "V1", "V2", "V3"],
    "IPLMI": ["II", "III", "aVF", "V1", "V2", "V3", "V5", "V6"],
}


def statement_text(sid: str, lang: str) -> str:
    """The statement ``sid``'s text in ``lang`` (catalogue key ``reading.statement.<sid>``)."""
    return messages.text(f"reading.statement.{sid}", lang)


def ai_label(code: str, lang: str) -> str | None:
    """The catalogue's label of a classifier code that has no statement of its own (``None`` for the others)."""
    key = f"reading.ai_label.{code}"
    return messages.text(key, lang) if messages.has(key, lang) else None


class _Statements(Mapping[str, tuple[str, str, str, str]]):
    """``id → (category, urgency, French, English)``: :data:`STATEMENT_KINDS` joined with the catalogue's
    texts when read (nothing is read at import)."""

    def __getitem__(self, sid: str) -> tuple[str, str, str, str]:
        category, urgency = STATEMENT_KINDS[sid]
        return category, urgency, statement_text(sid, "fr"), statement_text(sid, "en")

    def __iter__(self) -> Iterator[str]:
        return iter(STATEMENT_KINDS)

    def __len__(self) -> int:
        return len(STATEMENT_KINDS)

    def __contains__(self, sid: object) -> bool:
        return sid in STATEMENT_KINDS


class _FrenchAILabels(Mapping[str, str]):
    """``code → French label`` of the classifier's codes that have no statement of their own."""

    def __getitem__(self, code: str) -> str:
        label = ai_label(code, "fr")
        if label is None:
            raise KeyError(code)
        return label

    def __iter__(self) -> Iterator[str]:
        return iter(messages.section("reading.ai_label", "fr"))

    def __len__(self) -> int:
        return len(messages.section("reading.ai_label", "fr"))


#: id → (category, default urgency, French text, English text) (a read-only view).
STATEMENTS: Mapping[str, tuple[str, str, str, str]] = _Statements()
#: French labels of the classifier's codes that have no statement of their own (the others take
#: their statement's French text); a read-only view of the catalogue's ``reading.ai_label``.
AI_LABELS_FR: Mapping[str, str] = _FrenchAILabels()
