"""The statement catalogue (id → category, default urgency, French, English), the AI code map
and the lead territories. Data only: no logic."""

from __future__ import annotations

__all__ = ["STATEMENTS", "AI_MAP", "AI_LABELS_FR", "AI_TERRITORY", "TERRITORIES", "CONTIGUOUS", "LEAD_ORDER", "CATEGORIES"]

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
# --- statement catalogue: id -> (category, urgency, French, English) ------------------------
STATEMENTS: dict[str, tuple[str, str, str, str]] = {
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
    "sinus_bradycardia": ("rate", "normal", "Bradycardie sinusale", "Sinus bradycardia"),
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
    "lvh": ("hypertrophy", "routine", "Hypertrophie ventriculaire gauche", "Left ventricular hypertrophy"),
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
    # --- added in rules 2026.12 (per-lead matrix criteria, rhythm from the tracing) ---
    "sinus_bradycardia_marked": ("rate", "routine", "Bradycardie sinusale marquée", "Marked sinus bradycardia"),
    "junctional_rhythm": ("rhythm", "routine", "Rythme jonctionnel", "Junctional rhythm"),
    "complete_avb": ("conduction", "emergency", "Bloc auriculo-ventriculaire complet (3e degré)",
                     "Complete (third-degree) atrioventricular block"),
    "mobitz1": ("conduction", "routine", "Bloc auriculo-ventriculaire du 2e degré, type Mobitz I (Wenckebach)",
                "Second-degree atrioventricular block, Mobitz type I (Wenckebach)"),
    "mobitz2": ("conduction", "emergency", "Bloc auriculo-ventriculaire du 2e degré, type Mobitz II",
                "Second-degree atrioventricular block, Mobitz type II"),
    "avb_2to1": ("conduction", "soon", "Bloc auriculo-ventriculaire 2:1", "2:1 atrioventricular block"),
    "stemi": ("ischaemia", "emergency",
              "Sus-décalage du segment ST répondant aux critères d'infarctus aigu (SCA ST+)",
              "ST elevation meeting the criteria of acute myocardial infarction (STEMI)"),
    "posterior_stemi": ("ischaemia", "emergency",
                        "Sous-décalage de ST en V1-V3 avec onde R dominante : équivalent d'infarctus postérieur aigu",
                        "ST depression in V1-V3 with dominant R: posterior acute infarction equivalent"),
    "avr_stemi_equivalent": ("ischaemia", "emergency",
                             "Sus-décalage de ST en aVR avec sous-décalage diffus : ischémie sévère (tronc commun / "
                             "pluritronculaire)",
                             "ST elevation in aVR with diffuse ST depression: severe ischaemia (left main / "
                             "multivessel)"),
    "de_winter": ("ischaemia", "emergency", "Aspect de de Winter (équivalent de SCA ST+ antérieur)",
                  "De Winter pattern (anterior STEMI equivalent)"),
    "sgarbossa": ("ischaemia", "emergency",
                  "Critères de Sgarbossa modifiés (Smith) positifs : infarctus aigu sur bloc de branche gauche / "
                  "rythme électro-entraîné",
                  "Modified Sgarbossa (Smith) criteria met: acute infarction with left bundle branch block / "
                  "paced rhythm"),
    "wellens": ("ischaemia", "soon", "Aspect de Wellens (ondes T profondes ou biphasiques en V2-V3)",
                "Wellens pattern (deep or biphasic T waves in V2-V3)"),
    "st_elevation_mimic": ("ischaemia", "routine", "Sus-décalage de ST d'allure non ischémique",
                           "ST elevation of non-ischaemic appearance"),
    "st_elevation_subthreshold": ("ischaemia", "routine",
                                  "Sus-décalage de ST sous les seuils d'infarctus aigu",
                                  "ST elevation below the acute infarction thresholds"),
    "pericarditis_pattern": ("ischaemia", "soon",
                             "Sus-décalage de ST diffus avec sous-décalage de PR : aspect de péricardite",
                             "Diffuse ST elevation with PR depression: pattern of pericarditis"),
    "early_repolarisation": ("ischaemia", "normal", "Aspect de repolarisation précoce",
                             "Early repolarisation pattern"),
    "lvh_strain": ("hypertrophy", "soon", "Hypertrophie ventriculaire gauche avec anomalies de repolarisation "
                   "(surcharge)", "Left ventricular hypertrophy with repolarisation abnormalities (strain)"),
    "t_wave_inversion": ("ischaemia", "routine", "Ondes T négatives", "Inverted T waves"),
    "pathological_q": ("ischaemia", "soon", "Ondes Q pathologiques : séquelle d'infarctus possible",
                       "Pathological Q waves: possible prior infarction"),
    "brugada_type1": ("conduction", "soon", "Aspect de Brugada de type 1", "Brugada type 1 pattern"),
    "qt_unreliable": ("qt", "routine", "QT non mesurable de façon fiable (fin de T imprécise)",
                      "QT not reliably measurable (uncertain T end)"),
    "possible_on_poor_tracing": ("quality", "repeat_now",
                                 "Tracé de mauvaise qualité : refaire l'enregistrement maintenant",
                                 "Tracing of poor quality: repeat the recording now"),
    "paediatric": ("other", "routine",
                   "ECG d'enfant (moins de 16 ans) : les critères adultes ne s'appliquent pas, lecture par un "
                   "cardiopédiatre conseillée",
                   "Child's ECG (under 16): adult criteria do not apply, a paediatric cardiologist's reading is "
                   "advised"),
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


#: French labels of the classifier's codes that have no statement of their own (the others take
#: their statement's French text).
AI_LABELS_FR: dict[str, str] = {
    "NORM": "ECG normal", "MI": "infarctus du myocarde", "STTC": "anomalies ST-T", "CD": "trouble de conduction",
    "HYP": "hypertrophie", "ABQRS": "QRS anormal", "PRC(S)": "extrasystole(s)",
    "AMI": "infarctus antérieur", "IMI": "infarctus inférieur", "LMI": "infarctus latéral", "PMI": "infarctus postérieur",
    "ASMI": "infarctus antéroseptal", "ALMI": "infarctus antérolatéral", "ILMI": "infarctus inférolatéral",
    "IPMI": "infarctus inféropostérieur", "IPLMI": "infarctus inféro-postéro-latéral",
    "ISCA": "ischémie antérieure", "ISCI": "ischémie inférieure", "ISC_": "ischémie",
    "ISCAL": "ischémie antérolatérale", "ISCIN": "ischémie inférieure", "ISCIL": "ischémie inférolatérale",
    "ISCAS": "ischémie antéroseptale", "ISCLA": "ischémie latérale", "ISCAN": "ischémie antérieure",
    "STD_": "sous-décalage de ST", "STE_": "sus-décalage de ST", "NST_": "anomalies ST non spécifiques",
    "NDT": "anomalies de l'onde T non diagnostiques", "NT_": "anomalies de l'onde T", "INVT": "ondes T inversées",
    "LOWT": "ondes T de faible amplitude", "TAB_": "ondes T anormales", "LVOLT": "microvoltage", "HVOLT": "hypervoltage",
    "LAFB/LPFB": "hémibloc gauche", "_AVB": "bloc auriculo-ventriculaire", "LPR": "PR long", "QWAVE": "ondes Q",
}
