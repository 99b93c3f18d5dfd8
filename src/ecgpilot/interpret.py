"""The GP's reading: explicit, versioned rules over the analysis document, and urgency triage.

``interpret(analysis)`` turns the analysis document (``docs/analysis-schema.md``: quality,
measurements, AI statements) into readable statements, each with its category, confidence,
evidence and urgency, plus an overall urgency level:

* ``emergency``: send now (acute ST elevation / injury, rate > 130 or < 40, high-degree AV
  block, QTc ≥ 500 ms, wide fast rhythm);
* ``soon``: see a cardiologist soon (AF/flutter, LBBB, LVH, pre-excitation, infarction of
  indeterminate age, ischaemic ST-T, bifascicular block, long QTc...);
* ``routine``: minor findings (1st-degree AV block, RBBB alone, axis deviation, nonspecific
  ST-T...), or a tracing to record again;
* ``normal``: sinus rhythm, measurements in range, no abnormal AI statement.

The rules are documented in ``docs/rules.md`` and versioned by :data:`RULES_VERSION`; the
critical (emergency) rules are tuned for sensitivity. Quality problems become statements
too, and never hide a critical finding: the finding is kept, with a caveat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecgpilot.errors import ConfigError

__all__ = ["RULES_VERSION", "LEVELS", "LANGS", "THRESHOLDS", "interpret", "level_rank", "st_elevation_leads"]

#: Version of the rule set (bump on any change of a rule or threshold; see docs/rules.md).
RULES_VERSION = "2026.11.5"

#: Urgency levels, least to most urgent.
LEVELS: tuple[str, ...] = ("normal", "routine", "soon", "emergency")
LANGS: tuple[str, ...] = ("fr", "en")

#: Numeric thresholds of the rules (ms, bpm, degrees). Emergency ones tuned on PTB-XL fold 9.
THRESHOLDS: dict[str, float] = {
    "hr_very_slow": 40.0,       # < : emergency
    "hr_slow": 50.0,            # < : bradycardia
    "hr_fast": 100.0,           # > : tachycardia
    "hr_very_fast": 130.0,      # > : emergency (tuned on PTB-XL fold 9; NEWS2 scores ≥ 131 /min highest)
    "hr_wide_fast": 120.0,      # > with QRS ≥ qrs_wide: wide-complex tachycardia (VT-like)
    "pr_long": 200.0,           # > : 1st-degree AV block
    "pr_short": 120.0,          # < with QRS ≥ qrs_delta: possible pre-excitation
    "qrs_delta": 110.0,
    "qrs_wide": 120.0,          # ≥ : complete bundle branch block / wide QRS
    "qrs_normal_ref": 100.0,    # QTc judged as QTc − (QRS − this) when the QRS is wide
    "qtc_long_m": 450.0, "qtc_long_f": 460.0, "qtc_long_u": 470.0,   # > : long QTc
    "qtc_very_long": 500.0,     # ≥ : emergency
    "rr_irregular_cv": 0.12,    # RR SD / mean RR above which the rhythm is called irregular
    "axis_left": -30.0, "axis_right": 90.0,
    "st_elevation_uv": 100.0,        # ≥ in 2 contiguous leads (optional measurements.st_uv)
    "st_elevation_v2v3_uv": 150.0,   # ≥ in V2-V3 (ESC: 1.5 mm women, 2-2.5 mm men; sensitivity first)
    # AI: an emergency statement is kept from this calibrated probability, whatever the model's
    # F1 threshold (tuned on fold 9 for sensitivity); other statements use `present`.
    "ai_critical_probability": 0.5,
}

_RANK = {lv: i for i, lv in enumerate(LEVELS)}


def level_rank(level: str) -> int:
    """0 (normal) to 3 (emergency)."""
    return _RANK[level]


# --- statement catalogue: id -> (category, urgency, French, English) ------------------------
_S: dict[str, tuple[str, str, str, str]] = {
    # rhythm
    "sinus_rhythm": ("rhythm", "normal", "Rythme sinusal", "Sinus rhythm"),
    "sinus_arrhythmia": ("rhythm", "routine", "Arythmie sinusale", "Sinus arrhythmia"),
    "atrial_fibrillation": ("rhythm", "soon", "Fibrillation atriale", "Atrial fibrillation"),
    "irregular_rhythm_no_p": ("rhythm", "soon",
                              "Rythme irrégulier sans onde P identifiée : fibrillation atriale possible",
                              "Irregular rhythm without identified P waves: possible atrial fibrillation"),
    "atrial_flutter": ("rhythm", "soon", "Flutter atrial", "Atrial flutter"),
    "svt": ("rhythm", "emergency", "Tachycardie supraventriculaire", "Supraventricular tachycardia"),
    "supraventricular_arrhythmia": ("rhythm", "soon", "Arythmie supraventriculaire",
                                    "Supraventricular arrhythmia"),
    "paced_rhythm": ("rhythm", "routine", "Rythme électro-entraîné (stimulateur cardiaque)",
                     "Paced rhythm (pacemaker)"),
    "bigeminy": ("rhythm", "routine", "Bigéminisme", "Bigeminy"),
    "trigeminy": ("rhythm", "routine", "Trigéminisme", "Trigeminy"),
    "pvc": ("rhythm", "routine", "Extrasystoles ventriculaires", "Premature ventricular complexes"),
    "pac": ("rhythm", "routine", "Extrasystoles atriales", "Premature atrial complexes"),
    "wide_complex_tachycardia": ("rhythm", "emergency",
                                 "Tachycardie à QRS larges : tachycardie ventriculaire possible",
                                 "Wide-complex tachycardia: possible ventricular tachycardia"),
    # rate
    "very_fast_rate": ("rate", "emergency", "Fréquence très rapide", "Very fast heart rate"),
    "tachycardia": ("rate", "routine", "Tachycardie", "Tachycardia"),
    "sinus_tachycardia": ("rate", "routine", "Tachycardie sinusale", "Sinus tachycardia"),
    "bradycardia": ("rate", "routine", "Bradycardie", "Bradycardia"),
    "sinus_bradycardia": ("rate", "routine", "Bradycardie sinusale", "Sinus bradycardia"),
    "very_slow_rate": ("rate", "emergency", "Fréquence très lente", "Very slow heart rate"),
    # conduction
    "first_degree_avb": ("conduction", "routine", "Bloc auriculo-ventriculaire du 1er degré",
                         "First-degree atrioventricular block"),
    "high_degree_avb": ("conduction", "emergency",
                        "Bloc auriculo-ventriculaire de haut degré (2e ou 3e degré) suspecté",
                        "Suspected high-degree (second- or third-degree) atrioventricular block"),
    "av_block": ("conduction", "routine", "Bloc auriculo-ventriculaire", "Atrioventricular block"),
    "lbbb": ("conduction", "soon", "Bloc de branche gauche complet", "Complete left bundle branch block"),
    "rbbb": ("conduction", "routine", "Bloc de branche droit complet", "Complete right bundle branch block"),
    "incomplete_lbbb": ("conduction", "routine", "Bloc de branche gauche incomplet",
                        "Incomplete left bundle branch block"),
    "incomplete_rbbb": ("conduction", "routine", "Bloc de branche droit incomplet",
                        "Incomplete right bundle branch block"),
    "lafb": ("conduction", "routine", "Hémibloc antérieur gauche", "Left anterior fascicular block"),
    "lpfb": ("conduction", "routine", "Hémibloc postérieur gauche", "Left posterior fascicular block"),
    "fascicular_block": ("conduction", "routine", "Hémibloc gauche (antérieur ou postérieur)",
                         "Left fascicular block (anterior or posterior)"),
    "bifascicular_block": ("conduction", "soon", "Bloc bifasciculaire", "Bifascicular block"),
    "ivcd": ("conduction", "routine", "Trouble de conduction intraventriculaire non spécifique",
             "Nonspecific intraventricular conduction delay"),
    "wide_qrs": ("conduction", "routine", "QRS larges", "Wide QRS complexes"),
    "wpw": ("conduction", "soon", "Pré-excitation ventriculaire (Wolff-Parkinson-White)",
            "Ventricular pre-excitation (Wolff-Parkinson-White)"),
    "possible_preexcitation": ("conduction", "soon", "PR court et QRS élargi : pré-excitation possible",
                               "Short PR and widened QRS: possible pre-excitation"),
    # axis
    "axis_normal": ("axis", "normal", "Axe du QRS normal", "Normal QRS axis"),
    "left_axis_deviation": ("axis", "routine", "Déviation axiale gauche", "Left axis deviation"),
    "right_axis_deviation": ("axis", "routine", "Déviation axiale droite", "Right axis deviation"),
    "extreme_axis": ("axis", "routine", "Axe hyperdévié (axe extrême)", "Extreme axis deviation"),
    # hypertrophy
    "lvh": ("hypertrophy", "soon", "Hypertrophie ventriculaire gauche", "Left ventricular hypertrophy"),
    "rvh": ("hypertrophy", "soon", "Hypertrophie ventriculaire droite", "Right ventricular hypertrophy"),
    "septal_hypertrophy": ("hypertrophy", "soon", "Hypertrophie septale", "Septal hypertrophy"),
    "left_atrial_enlargement": ("hypertrophy", "routine", "Hypertrophie atriale gauche",
                                "Left atrial enlargement"),
    "right_atrial_enlargement": ("hypertrophy", "routine", "Hypertrophie atriale droite",
                                 "Right atrial enlargement"),
    "high_voltage": ("hypertrophy", "routine", "QRS de grande amplitude (critères de voltage)",
                     "High QRS voltage (voltage criteria)"),
    "low_voltage": ("other", "routine", "Microvoltage (QRS de faible amplitude)", "Low QRS voltage"),
    # ischaemia / infarction
    "acute_st_elevation": ("ischaemia", "emergency",
                           "Sus-décalage du segment ST / courant de lésion : suspicion de syndrome "
                           "coronarien aigu avec sus-décalage de ST",
                           "ST elevation / injury current: suspected acute ST-elevation myocardial "
                           "infarction"),
    "infarction": ("ischaemia", "soon", "Séquelle d'infarctus du myocarde possible (âge indéterminé)",
                   "Possible myocardial infarction, age undetermined"),
    "ischaemic_st_t": ("ischaemia", "soon", "Anomalies ST-T d'allure ischémique",
                       "ST-T changes suggesting ischaemia"),
    "nonspecific_st_t": ("ischaemia", "routine", "Anomalies non spécifiques de la repolarisation",
                         "Nonspecific repolarisation abnormalities"),
    "st_depression": ("ischaemia", "soon", "Sous-décalage du segment ST", "ST depression"),
    "q_waves": ("ischaemia", "routine", "Ondes Q", "Q waves"),
    "aneurysm": ("ischaemia", "soon", "Aspect d'anévrisme ventriculaire", "Pattern of ventricular aneurysm"),
    # QT
    "long_qtc": ("qt", "soon", "QTc allongé", "Long QTc"),
    "very_long_qtc": ("qt", "emergency", "QTc très allongé", "Very long QTc"),
    # other
    "drug_or_electrolyte": ("other", "routine", "Aspect compatible avec un effet médicamenteux ou "
                            "un trouble électrolytique", "Pattern compatible with a drug effect or an "
                            "electrolyte disturbance"),
    "normal_ecg": ("other", "normal", "ECG normal", "Normal ECG"),
    # quality
    "not_measured": ("quality", "routine",
                     "Mesures automatiques impossibles : lire le tracé ou refaire l'enregistrement",
                     "Automatic measurements impossible: read the tracing or repeat the recording"),
    "repeat_recording": ("quality", "routine",
                         "Tracé non interprétable : refaire l'enregistrement",
                         "Tracing not interpretable: repeat the recording"),
}

# AI statement codes (PTB-XL statement and subclass codes) -> statement id.
_AI_MAP: dict[str, str] = {
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
_LEADS_OF: dict[str, list[str]] = {
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

_T = {
    "fr": {
        "caveat": "à confirmer : qualité du signal limitée",
        "ai_unavailable": "Lecture IA indisponible : interprétation fondée sur les seules mesures.",
        "hr": "fréquence", "pr": "PR", "qrs": "QRS", "qtc": "QTc", "axis": "axe du QRS",
        "rr_cv": "variabilité RR (écart-type/moyenne)", "p": "onde P", "p_absent": "non identifiée",
        "pacing": "spikes de stimulateur détectés", "ai_prob": "probabilité IA calibrée",
        "levels": {"emergency": "URGENCE : avis médical immédiat (centre 15 / cardiologue de garde)",
                   "soon": "Avis cardiologique rapide recommandé",
                   "routine": "Anomalies mineures : suivi habituel",
                   "normal": "ECG sans anomalie décelée"},
        "reading": "Lecture", "none": "aucune anomalie retenue",
        "qtc_wide": "QRS larges, QTc corrigé de l'excès de QRS",
        "check": "Proposition automatique à confirmer par le médecin sur le tracé.",
    },
    "en": {
        "caveat": "to be confirmed: limited signal quality",
        "ai_unavailable": "AI reading unavailable: interpretation from the measurements only.",
        "hr": "rate", "pr": "PR", "qrs": "QRS", "qtc": "QTc", "axis": "QRS axis",
        "rr_cv": "RR variability (SD/mean)", "p": "P wave", "p_absent": "not identified",
        "pacing": "pacemaker spikes detected", "ai_prob": "calibrated AI probability",
        "levels": {"emergency": "EMERGENCY: immediate medical advice (emergency services / cardiologist on call)",
                   "soon": "Cardiology advice soon recommended",
                   "routine": "Minor findings: usual follow-up",
                   "normal": "No abnormality detected"},
        "reading": "Reading", "none": "no abnormality retained",
        "qtc_wide": "wide QRS, QTc less the QRS excess",
        "check": "Automatic proposal: the doctor must confirm it on the tracing.",
    },
}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


class _Reading:
    """Collects statements (merging repeated ids) while the rules run."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.items: dict[str, dict[str, Any]] = {}

    def add(self, sid: str, *, source: str, evidence: list[dict[str, Any]], confidence: float | None = None,
            leads: list[str] | None = None, detail: str | None = None) -> dict[str, Any]:
        cat, urg, fr, en = _S[sid]
        text = fr if self.lang == "fr" else en
        if sid in self.items:
            st = self.items[sid]
            if st["source"] != source:
                st["source"] = "ai+measurement"
            st["evidence"] += evidence
            if confidence is not None:
                st["confidence"] = max(st["confidence"] or 0.0, confidence)
            st["leads"] = sorted(set(st["leads"]) | set(leads or []), key=_lead_order)
            if detail and detail not in st["text"]:
                st["text"] += f" ({detail})"
            return st
        st = {"id": sid, "category": cat, "text": text + (f" ({detail})" if detail else ""),
              "confidence": None if confidence is None else round(float(confidence), 3),
              "source": source, "evidence": list(evidence), "leads": list(leads or []), "urgency": urg}
        self.items[sid] = st
        return st

    def has(self, sid: str) -> bool:
        return sid in self.items

    def drop(self, sid: str) -> None:
        self.items.pop(sid, None)


_ORDER = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: Contiguous lead pairs for ST-elevation criteria (Cabrera limb order, then precordial).
_CONTIGUOUS = (("aVL", "I"), ("II", "aVF"), ("aVF", "III"), ("V1", "V2"), ("V2", "V3"), ("V3", "V4"),
               ("V4", "V5"), ("V5", "V6"), ("I", "V6"))


def st_elevation_leads(st_uv: Mapping[str, float | None], limit_uv: float, limit_v2v3_uv: float) -> list[str]:
    """Leads of the contiguous pairs whose ST elevation both reach the limit (V2/V3: their own)."""
    def high(lead: str) -> bool:
        v = st_uv.get(lead)
        return v is not None and v >= (limit_v2v3_uv if lead in ("V2", "V3") else limit_uv)

    found = {lead for a, b in _CONTIGUOUS if high(a) and high(b) for lead in (a, b)}
    return sorted(found, key=lambda n: _ORDER.index(n))


def _lead_order(name: str) -> tuple[int, str]:
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)


def _ai_present(ai: dict[str, Any] | None, crit: float) -> dict[str, dict[str, Any]]:
    """AI statements kept: emergency codes from calibrated probability ``crit``, others if ``present``."""
    if not ai or "statements" not in ai:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for s in ai["statements"]:
        code = s.get("code")
        sid = _AI_MAP.get(code)
        p = s.get("calibrated_probability", s.get("probability"))
        critical = sid is not None and _S[sid][1] == "emergency"
        # emergency codes: own probability floor (the model's F1 threshold of a rare code can
        # be degenerate, e.g. 0.001 for STE); the other codes: the model's `present`
        if (critical and p is not None and p >= crit) or (not critical and s.get("present")):
            out[code] = s
    return out


def _ev_m(name: str, value: Any, text: str) -> dict[str, Any]:
    return {"kind": "measurement", "name": name, "value": value, "text": text}


def _ev_ai(s: dict[str, Any], t: dict[str, Any]) -> dict[str, Any]:
    p = s.get("calibrated_probability", s.get("probability"))
    desc = s.get("description") or s.get("code")
    return {"kind": "ai", "code": s.get("code"), "value": p,
            "text": f"{desc} ({t['ai_prob']} {p:.2f})" if p is not None else str(desc)}


def interpret(analysis: dict[str, Any], *, lang: str = "fr",
              thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The reading of one analysis document: statements with evidence, urgency and a summary.

    ``lang`` is ``'fr'`` (default) or ``'en'``. ``thresholds`` overrides some of
    :data:`THRESHOLDS` (for tuning and benchmarks only; the defaults are the versioned rules).
    See the module docstring and ``docs/rules.md``.
    """
    if lang not in LANGS:
        raise ConfigError(f"Unknown language {lang!r}; accepted: {', '.join(LANGS)}.")
    unknown = sorted(set(thresholds or {}) - set(THRESHOLDS))
    if unknown:
        raise ConfigError(f"Unknown rule threshold(s) {', '.join(unknown)}; accepted: {', '.join(THRESHOLDS)}.")
    t = _T[lang]
    th = {**THRESHOLDS, **(thresholds or {})}
    r = _Reading(lang)
    quality = analysis.get("quality") or {}
    m = analysis.get("measurements") or {}
    ai = analysis.get("ai")
    ai_ok = bool(ai) and "statements" in ai
    present = _ai_present(ai, th["ai_critical_probability"])
    sex = (((analysis.get("record") or {}).get("patient") or {}).get("sex")) or "U"

    # --- AI statements -----------------------------------------------------------------
    for code, s in present.items():
        sid = _AI_MAP.get(code)
        if sid is None:
            continue
        p = s.get("calibrated_probability", s.get("probability"))
        r.add(sid, source="ai", evidence=[_ev_ai(s, t)], confidence=p, leads=_LEADS_OF.get(code, []))

    hr, pr, qrs = _num(m.get("heart_rate_bpm")), _num(m.get("pr_ms")), _num(m.get("qrs_ms"))
    qtc, axis = _num(m.get("qtc_ms")), _num(m.get("qrs_axis_deg"))
    rr, rr_sd = _num(m.get("rr_ms")), _num(m.get("rr_sd_ms"))
    p_dur = m.get("p_duration_ms")
    measured = bool(m) and hr is not None

    # --- rhythm ------------------------------------------------------------------------
    cv = rr_sd / rr if rr and rr_sd is not None else None
    irregular = cv is not None and cv > th["rr_irregular_cv"] and (m.get("n_beats") or 0) >= 4
    ev_cv = _ev_m("rr_cv", None if cv is None else round(cv, 3),
                  f"{t['rr_cv']} {cv:.2f}" if cv is not None else t["rr_cv"])
    ev_p = _ev_m("p_duration_ms", p_dur, f"{t['p']} {t['p_absent']}" if p_dur is None else f"{t['p']} {p_dur:g} ms")
    if m.get("pacing_spikes"):
        r.add("paced_rhythm", source="measurement", evidence=[_ev_m("pacing_spikes", True, t["pacing"])])
    if r.has("atrial_fibrillation"):
        if irregular:
            r.add("atrial_fibrillation", source="measurement", evidence=[ev_cv])
    elif measured and irregular and p_dur is None and not m.get("pacing_spikes") and not r.has("atrial_flutter"):
        r.add("irregular_rhythm_no_p", source="measurement", evidence=[ev_cv, ev_p])
    af_like = r.has("atrial_fibrillation") or r.has("atrial_flutter") or r.has("irregular_rhythm_no_p")
    if af_like or r.has("paced_rhythm"):
        r.drop("sinus_rhythm")
    elif measured and p_dur is not None and pr is not None and not irregular:
        r.add("sinus_rhythm", source="measurement", evidence=[ev_p, ev_cv])
    sinus = r.has("sinus_rhythm") or r.has("sinus_bradycardia") or r.has("sinus_tachycardia")

    # --- rate ----------------------------------------------------------------------------
    if hr is not None:
        ev_hr = _ev_m("heart_rate_bpm", hr, f"{t['hr']} {hr:.0f}/min")
        if hr > th["hr_very_fast"]:
            r.add("very_fast_rate", source="measurement", evidence=[ev_hr], detail=f"{hr:.0f}/min")
        elif hr > th["hr_fast"]:
            r.add("sinus_tachycardia" if sinus and not af_like else "tachycardia",
                  source="measurement", evidence=[ev_hr], detail=f"{hr:.0f}/min")
        if hr < th["hr_very_slow"]:
            r.add("very_slow_rate", source="measurement", evidence=[ev_hr], detail=f"{hr:.0f}/min")
        elif hr < th["hr_slow"]:
            r.add("sinus_bradycardia" if sinus and not af_like else "bradycardia",
                  source="measurement", evidence=[ev_hr], detail=f"{hr:.0f}/min")
        if qrs is not None and qrs >= th["qrs_wide"] and hr > th["hr_wide_fast"] and not sinus \
                and not m.get("pacing_spikes"):
            r.add("wide_complex_tachycardia", source="measurement",
                  evidence=[ev_hr, _ev_m("qrs_ms", qrs, f"QRS {qrs:.0f} ms")])
    if r.has("sinus_tachycardia") and hr is not None and hr <= th["hr_fast"]:
        r.drop("sinus_tachycardia")   # AI says tachycardia, the measured rate does not
    if r.has("sinus_bradycardia") and hr is not None and hr >= 60:
        r.drop("sinus_bradycardia")
    if r.has("sinus_bradycardia") or r.has("sinus_tachycardia"):
        r.drop("sinus_rhythm")   # "sinus bradycardia/tachycardia" already says sinus

    # --- conduction ----------------------------------------------------------------------
    ev_pr = _ev_m("pr_ms", pr, f"PR {pr:.0f} ms") if pr is not None else None
    if pr is not None and pr > th["pr_long"] and not af_like:
        r.add("first_degree_avb", source="measurement", evidence=[ev_pr], detail=f"PR {pr:.0f} ms")
    if r.has("av_block"):   # AI: AV block of unspecified degree
        st = r.items.pop("av_block")
        slow = hr is not None and hr < th["hr_slow"] + 10
        if pr is not None and pr > th["pr_long"] and not slow:
            r.add("first_degree_avb", source="ai", evidence=st["evidence"], confidence=st["confidence"])
        elif slow or pr is None:
            ev = st["evidence"] + ([_ev_m("heart_rate_bpm", hr, f"{t['hr']} {hr:.0f}/min")] if hr else [])
            r.add("high_degree_avb", source="ai+measurement" if hr else "ai", evidence=ev,
                  confidence=st["confidence"])
        else:
            r.items["av_block"] = st
    ev_qrs = _ev_m("qrs_ms", qrs, f"QRS {qrs:.0f} ms") if qrs is not None else None
    wide = qrs is not None and qrs >= th["qrs_wide"]
    for sid in ("lbbb", "rbbb", "ivcd"):
        if r.has(sid) and ev_qrs is not None:
            r.add(sid, source="measurement", evidence=[ev_qrs])
    if wide and not any(r.has(s) for s in ("lbbb", "rbbb", "ivcd", "wpw", "paced_rhythm",
                                            "wide_complex_tachycardia")):
        r.add("wide_qrs", source="measurement", evidence=[ev_qrs], detail=f"{qrs:.0f} ms")
    if r.has("rbbb") and (r.has("lafb") or r.has("lpfb") or r.has("fascicular_block")):
        r.add("bifascicular_block", source="ai", evidence=r.items["rbbb"]["evidence"][:1],
              confidence=r.items["rbbb"]["confidence"])
    if pr is not None and qrs is not None and pr < th["pr_short"] and qrs >= th["qrs_delta"] \
            and not r.has("paced_rhythm") and not af_like:
        r.add("possible_preexcitation", source="measurement", evidence=[ev_pr, ev_qrs])
    if r.has("wpw"):
        r.drop("possible_preexcitation")

    # --- ST elevation from measurements (when the analysis carries measurements.st_uv) ---
    st_uv = m.get("st_uv") or {}
    if st_uv and not wide and not m.get("pacing_spikes"):
        st_leads = st_elevation_leads(st_uv, th["st_elevation_uv"], th["st_elevation_v2v3_uv"])
        if st_leads:
            r.add("acute_st_elevation", source="measurement", leads=st_leads,
                  evidence=[_ev_m(f"st_uv.{n}", st_uv[n], f"ST {n} +{st_uv[n] / 100:.1f} mm") for n in st_leads])

    # --- axis ------------------------------------------------------------------------------
    if axis is not None:
        ev_ax = _ev_m("qrs_axis_deg", axis, f"{t['axis']} {axis:.0f}°")
        if th["axis_left"] <= axis <= th["axis_right"]:
            sid = "axis_normal"
        elif -90 <= axis < th["axis_left"]:
            sid = "left_axis_deviation"
        elif th["axis_right"] < axis <= 180:
            sid = "right_axis_deviation"
        else:
            sid = "extreme_axis"
        r.add(sid, source="measurement", evidence=[ev_ax], detail=f"{axis:.0f}°")
        if sid == "left_axis_deviation" and r.has("fascicular_block"):
            r.items["fascicular_block"]["evidence"].append(ev_ax)

    # --- QT --------------------------------------------------------------------------------
    if qtc is not None:
        limit = {"M": th["qtc_long_m"], "F": th["qtc_long_f"]}.get(sex, th["qtc_long_u"])
        formula = m.get("qtc_formula") or "fridericia"
        ev_qt = _ev_m("qtc_ms", qtc, f"QTc ({formula.capitalize()}) {qtc:.0f} ms")
        # wide QRS lengthens QT without longer repolarisation: judge QTc − (QRS − 100 ms)
        judged = qtc - (qrs - th["qrs_normal_ref"]) if wide and qrs is not None else qtc
        detail = f"{qtc:.0f} ms, {formula.capitalize()}" + (
            f"; {t['qtc_wide']}: {judged:.0f} ms" if wide else "")
        if judged >= th["qtc_very_long"]:
            r.add("very_long_qtc", source="measurement", evidence=[ev_qt], detail=detail)
            r.drop("long_qtc")
        elif judged > limit:
            r.add("long_qtc", source="measurement", evidence=[ev_qt], detail=detail)

    # --- normal ECG ---------------------------------------------------------------------
    abnormal = [s for s in r.items.values() if s["urgency"] != "normal"]
    norm = present.get("NORM")
    if not abnormal and sinus and measured:
        evidence = [_ev_m("heart_rate_bpm", hr, f"{t['hr']} {hr:.0f}/min")]
        if norm is not None:
            r.add("normal_ecg", source="ai", evidence=[_ev_ai(norm, t)],
                  confidence=norm.get("calibrated_probability"))
            r.add("normal_ecg", source="measurement", evidence=evidence)
        elif not ai_ok:
            r.add("normal_ecg", source="measurement", evidence=evidence)

    # --- quality: statements of their own, never hiding a critical finding ----------------
    verdict = quality.get("verdict")
    msg = "message_fr" if lang == "fr" else "message_en"
    for q in quality.get("reasons") or []:
        sid = f"quality_{q.get('code')}" + (f"_{q['lead']}" if q.get("lead") else "")
        r.items[sid] = {"id": sid, "category": "quality", "text": q.get(msg) or q.get("code"),
                        "confidence": None, "source": "measurement",
                        "evidence": [{"kind": "quality", "name": q.get("code"), "value": q.get("severity"),
                                      "text": q.get(msg) or ""}],
                        "leads": [q["lead"]] if q.get("lead") else [],
                        "urgency": "routine" if q.get("severity") == "critical" else "normal"}
    if verdict == "not_interpretable" or quality.get("interpretable") is False:
        r.add("repeat_recording", source="measurement",
              evidence=[{"kind": "quality", "name": "verdict", "value": verdict, "text": verdict or ""}])
    elif not measured:
        r.add("not_measured", source="measurement",
              evidence=[_ev_m("heart_rate_bpm", hr, "heart_rate_bpm = null")])
    if verdict in ("usable", "not_interpretable"):
        for s in r.items.values():
            if s["category"] != "quality" and level_rank(s["urgency"]) >= level_rank("soon"):
                s["text"] += f" — {t['caveat']}"

    statements = sorted(r.items.values(), key=lambda s: (-level_rank(s["urgency"]), _CATS.index(s["category"])))
    level = max((s["urgency"] for s in statements), key=level_rank, default="normal")
    if level == "normal" and not r.has("normal_ecg"):
        level = "routine" if not measured or not ai_ok else "normal"
    reasons = [{"statement_id": s["id"], "text": s["text"]} for s in statements
               if s["urgency"] == level and (s["category"] != "quality" or s["id"] in ("repeat_recording", "not_measured"))]
    return {
        "rules_version": RULES_VERSION,
        "lang": lang,
        "statements": statements,
        "urgency": {"level": level, "reasons": _unique(reasons), "text": t["levels"][level]},
        "summary": _summary(statements, level, ai_ok, t),
    }


_CATS = ("quality", "rhythm", "rate", "conduction", "axis", "hypertrophy", "ischaemia", "qt", "other")


def _unique(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for x in reasons:
        if x["statement_id"] not in seen:
            seen.add(x["statement_id"])
            out.append(x)
    return out


def _summary(statements: list[dict[str, Any]], level: str, ai_ok: bool, t: dict[str, Any]) -> str:
    main = [s["text"] for s in statements if s["category"] != "quality" and s["urgency"] != "normal"]
    normal = [s["text"] for s in statements if s["category"] != "quality" and s["urgency"] == "normal"]
    quality = [s["text"] for s in statements if s["category"] == "quality" and s["urgency"] != "normal"]
    parts = [f"{t['levels'][level]}."]
    sep = " : " if t is _T["fr"] else ": "
    body = main + normal
    if body or not quality:
        parts.append(t["reading"] + sep + ("; ".join(body) if body else t["none"]) + ".")
    if quality:
        parts.append(" ".join(q if q.endswith(".") else q + "." for q in quality))
    if not ai_ok:
        parts.append(t["ai_unavailable"])
    parts.append(t["check"])
    return " ".join(parts)
