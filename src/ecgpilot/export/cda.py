"""CDA R2 ECG report: ANS "Structuration minimale" level N1 (PDF in ``nonXMLBody``, the default), or
level 3 (``structuredBody``: narrative + coded entries, the PDF as ``observationMedia``).

Header rules followed (from ``/work/shared/docs/interop_regulation.md`` §2.3, ANS example
``DOC_NON_STRUCTURE_CDA-R2-N1.xml``): realmCode FR; typeId POCD_HD000040; templateIds HL7 France
``2.16.840.1.113883.2.8.2.1``, CI-SIS ``1.2.250.1.213.1.1.1.1`` and IHE XDS-SD
``1.3.6.1.4.1.19376.1.2.20``; document type from JDV_J07 (default LOINC ``11488-4`` "CR ou fiche de
consultation ou de visite", ``70004-7`` accepted — LOINC 11524-6 is *not* in J07); confidentiality
``N``; language ``fr-FR``; setId/versionNumber; patient INS (root ``1.2.250.1.213.1.4.8``) **only for a
qualified identity**, always the local id; INS traits (birth name, given names, sex, birth time,
birthplace INSEE code); author idNat_PS ``8`` + RPPS (root ``1.2.250.1.71.4.2.1``) with speciality
(``1.2.250.1.213.1.1.4.5``); custodian and organisation idNat_Struct (root ``1.2.250.1.71.4.2.2``);
legalAuthenticator with signatureCode ``S``; serviceEvent CCAM ``DEQP003`` (``1.2.250.1.215.300.1``);
healthCareFacility (``1.2.250.1.71.4.2.4``) and practice setting ``AMBULATOIRE``
(``1.2.250.1.213.1.1.4.9``).

The doctor's urgency (five levels, :data:`ecgpilot.export.URGENCY_CODES`): N1 has no coded body, so it
is stated in the embedded PDF (the doctor's conclusion) and in the document ``title``
("… — urgence : <level>"), which document lists (DMP, XDM metadata) display.

``level=3`` builds the same header with a ``structuredBody`` instead (CDA level 3: a narrative
block per section and coded entries that say the same thing):

* **Conclusion du médecin** (section code LOINC ``8601-7``): the narrative lists the doctor's signed
  statements, the urgency and the conclusion; one ``observation`` per statement, code ``8601-7``
  "EKG impression", value a ``CD``: SNOMED CT (:data:`STATEMENT_SNOMED`) when the statement is a
  catalogue statement (:mod:`ecgpilot.interpret.catalogue`) that has one, with ecgpilot's statement
  id as a ``translation`` (code system :data:`STATEMENT_OID`); ecgpilot's id alone when SNOMED CT has
  no exact concept here; ``nullFlavor="OTH"`` with the text for the doctor's own wording. A statement
  is a catalogue statement when its text is the catalogue's (French or English), optionally followed
  by the rule's detail `` (…)`` or note `` — …``: an edited text is the doctor's wording, not coded.
  The urgency is an observation coded :data:`URGENCY_QUESTION`, value the level in ecgpilot's urgency
  code system with the HL7 ActPriority code as a translation (as FHIR's ``conclusionCode``).
* **Mesures** (section code LOINC ``34534-8``): a table in the narrative and one observation per
  measurement (heart rate, PR, QRS, QT, QTc, P/QRS/T axes): LOINC code with the MDC code as a
  translation, value ``PQ`` in UCUM (``/min``, ``ms``, ``deg``) — :data:`ecgpilot.export.MEASUREMENT_CODES`.
* **Compte rendu signé (PDF)**: the signed PDF as an ``observationMedia`` shown by ``renderMultiMedia``.

Every narrative element an entry stands for carries an ``ID`` that the entry's ``text/reference``
(or ``originalText/reference``) points to. The CI-SIS has no ECG volet, so no section or entry
templateId is claimed; the XDS-SD templateId is for ``nonXMLBody`` only and is left out at level 3.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from lxml import etree

from ecgpilot import ins as _ins
from ecgpilot.errors import RecordError
from ecgpilot.export import (ACT_PRIORITY_OID, LOINC_12_LEAD, LOINC_EKG_IMPRESSION, LOINC_OID, MDC_OID,
                             MEASUREMENT_CODES, URGENCY_CODES, URGENCY_OID, check_report)
from ecgpilot.interpret.catalogue import STATEMENTS

__all__ = ["build_cda", "statement_id", "DOCUMENT_TYPES", "NS", "CCAM_ECG_12", "SNOMED_OID", "STATEMENT_OID",
           "STATEMENT_SNOMED", "MDC_REFIDS", "URGENCY_QUESTION", "LEVELS"]

NS = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: JDV_J07 document type codes suited to an ECG report
DOCUMENT_TYPES = {
    "11488-4": "CR ou fiche de consultation ou de visite",
    "70004-7": "CR d'acte diagnostique (autre)",
}
CCAM_OID = "1.2.250.1.215.300.1"
CCAM_ECG_12 = ("DEQP003", "Électrocardiographie sur au moins 12 dérivations")
TEMPLATE_IDS = ("2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20")
OID_IDNAT_PS = "1.2.250.1.71.4.2.1"
OID_IDNAT_STRUCT = "1.2.250.1.71.4.2.2"
OID_SPECIALITY = "1.2.250.1.213.1.1.4.5"
OID_FACILITY = "1.2.250.1.71.4.2.4"
OID_PRACTICE_SETTING = "1.2.250.1.213.1.1.4.9"
#: CDA levels built: 1 (N1, PDF in nonXMLBody) and 3 (structuredBody with coded entries)
LEVELS = (1, 3)
SNOMED_OID = "2.16.840.1.113883.6.96"
#: ecgpilot's statement ids (:data:`ecgpilot.interpret.catalogue.STATEMENTS`) as a code system
#: (ITU-T X.667 UUID OID, like the urgency's: needs no registration).
STATEMENT_OID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'ecgpilot:code-system:ecg-statement').int}"
#: code of the urgency observation, in ecgpilot's urgency code system (:data:`ecgpilot.export.URGENCY_OID`)
URGENCY_QUESTION = ("urgency", "Urgence de la suite à donner (décision du médecin)")
#: catalogue statement id -> (SNOMED CT id, display). Only concepts listed with their source in the
#: project's terminology notes (interop_regulation.md §3.3, CinC 2021 mapping, Verhoeff-checked) and
#: that the statement asserts; a few are broader than the statement (marked), never narrower.
#: Statements that are only "possible"/"suspected" (infarction, high-degree AV block, wide-complex
#: tachycardia, pre-excitation, AF without P) and those without a listed concept keep ecgpilot's code.
STATEMENT_SNOMED: dict[str, tuple[str, str]] = {
    "sinus_rhythm": ("426783006", "Sinus rhythm"),
    "sinus_arrhythmia": ("427393009", "Sinus arrhythmia"),
    "sinus_bradycardia": ("426177001", "Sinus bradycardia"),
    "sinus_bradycardia_marked": ("426177001", "Sinus bradycardia"),            # broader
    "sinus_tachycardia": ("427084000", "Sinus tachycardia"),
    "atrial_fibrillation": ("164889003", "Atrial fibrillation"),
    "atrial_flutter": ("164890007", "Atrial flutter"),
    "svt": ("426761007", "Supraventricular tachycardia"),
    "paced_rhythm": ("10370003", "Pacing rhythm"),
    "pvc": ("427172004", "Premature ventricular contraction"),
    "pac": ("284470004", "Premature atrial contraction"),
    "first_degree_avb": ("270492004", "First degree atrioventricular block"),
    "mobitz1": ("54016002", "Mobitz type I incomplete atrioventricular block"),
    "mobitz2": ("28189009", "Mobitz type II atrioventricular block"),
    "complete_avb": ("27885002", "Complete atrioventricular block"),
    "lbbb": ("733534002", "Complete left bundle branch block"),
    "rbbb": ("713427006", "Complete right bundle branch block"),
    "incomplete_rbbb": ("713426002", "Incomplete right bundle branch block"),
    "lafb": ("445118002", "Left anterior fascicular block"),
    "lpfb": ("445211001", "Left posterior fascicular block"),
    "ivcd": ("698252002", "Nonspecific intraventricular conduction disorder"),
    "wpw": ("74390002", "Wolff-Parkinson-White pattern"),
    "left_axis_deviation": ("39732003", "Left axis deviation"),
    "right_axis_deviation": ("47665007", "Right axis deviation"),
    "lvh": ("164873001", "Left ventricular hypertrophy (ECG)"),
    "lvh_strain": ("164873001", "Left ventricular hypertrophy (ECG)"),         # broader
    "rvh": ("89792004", "Right ventricular hypertrophy"),
    "low_voltage": ("251146004", "Low QRS voltages"),
    "long_qtc": ("111975006", "Prolonged QT interval"),
    "very_long_qtc": ("111975006", "Prolonged QT interval"),                    # broader
    "acute_st_elevation": ("164931005", "ST elevation"),                        # broader
    "stemi": ("164931005", "ST elevation"),                                     # broader
    "st_depression": ("429622005", "ST depression"),
    "nonspecific_st_t": ("428750005", "Nonspecific ST-T abnormality"),
    "t_wave_inversion": ("59931005", "T wave inversion"),
    "pathological_q": ("164917005", "Q wave abnormal"),
}
#: MDC refids (ISO/IEEE 11073-10101, as HL7 aECG names them) of the measurement codes' MDC decimals
MDC_REFIDS: dict[str, str] = {
    "147842": "MDC_ECG_HEART_RATE", "146944": "MDC_ECG_TIME_PD_PR", "147228": "MDC_ECG_TIME_PD_QRS",
    "147232": "MDC_ECG_TIME_PD_QT", "146948": "MDC_ECG_TIME_PD_QTc", "147200": "MDC_ECG_ANGLE_P_FRONT",
    "147204": "MDC_ECG_ANGLE_QRS_FRONT", "147208": "MDC_ECG_ANGLE_T_FRONT",
}
_MEASURE_FR = {"heart_rate_bpm": "Fréquence cardiaque", "pr_ms": "PR", "qrs_ms": "QRS", "qt_ms": "QT",
               "qtc_ms": "QTc", "p_axis_deg": "Axe de P", "qrs_axis_deg": "Axe de QRS", "t_axis_deg": "Axe de T"}


@lru_cache(maxsize=1)
def _texts() -> tuple[tuple[str, str], ...]:
    """The statements' catalogue texts (French and English) with their id, longest first (read from
    the message catalogue on first use, not at import)."""
    return tuple(sorted(((text, sid) for sid, (_c, _u, fr, en) in STATEMENTS.items() for text in (fr, en)),
                        key=lambda t: -len(t[0])))


def statement_id(text: str) -> str | None:
    """The catalogue statement ``text`` states: its French or English catalogue text, alone or
    followed by the rule's detail `` (…)`` or a note `` — …``; ``None`` for any other wording (the
    doctor's own, an edited statement, a "possible X on a poor tracing" statement)."""
    t = " ".join(str(text).split())
    for cat, sid in _texts():
        if t == cat or (t.startswith(cat) and t[len(cat):].startswith((" (", " — "))):
            return sid
    return None


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y%m%d%H%M%S%z")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = text
    return e


def _person_name(parent: etree._Element, family: str, given: str | None, prefix: str | None = None) -> None:
    name = _el(parent, "name")
    if prefix:
        _el(name, "prefix", prefix)
    if given:
        _el(name, "given", given)
    _el(name, "family", family)


def _author_entity(parent: etree._Element, tag: str, author: dict[str, Any]) -> etree._Element:
    ent = _el(parent, tag)
    _el(ent, "id", root=OID_IDNAT_PS, extension="8" + str(author["rpps"]))
    if tag == "assignedAuthor":
        _el(ent, "code", code=author["speciality_code"], displayName=author["speciality_display"], codeSystem=OID_SPECIALITY)
    person = _el(ent, "assignedPerson")
    _person_name(person, author["family_name"], author.get("given_name"), "DR")
    return ent


def _organisation(parent: etree._Element, tag: str, org: dict[str, Any]) -> etree._Element:
    o = _el(parent, tag)
    _el(o, "id", root=OID_IDNAT_STRUCT, extension=f"{org['id_prefix']}{org['id']}")
    _el(o, "name", org["name"])
    return o


def build_cda(
    report: dict[str, Any],
    pdf: bytes,
    *,
    type_code: str = "11488-4",
    created_at: datetime | None = None,
    test_ins_oid: bool = False,
    level: int = 1,
) -> bytes:
    """CDA R2 document (UTF-8 XML bytes) for a signed ECG ``report`` with its ``pdf`` embedded.

    ``report`` follows the dict documented in :mod:`ecgpilot.export`. The INS goes in the document
    only when the identity is ``qualifiee``; ``test_ins_oid=True`` labels it with the INS-NIR *test*
    OID (``…4.10``), for test platforms only. ``level=1`` (default): N1, the PDF in ``nonXMLBody``;
    ``level=3``: ``structuredBody`` with the narrative and coded entries (module docstring).
    """
    if level not in LEVELS:
        raise RecordError(f"CDA level {level!r} is not built; use 1 (PDF body) or 3 (structured body with coded entries).")
    if type_code not in DOCUMENT_TYPES:
        raise RecordError(f"CDA document type {type_code!r} is not accepted; use one of {', '.join(DOCUMENT_TYPES)} (JDV_J07).")
    if not pdf.startswith(b"%PDF-"):
        raise RecordError("the report PDF does not start with '%PDF-'; pass the bytes of a PDF file.")
    r = check_report(report)
    p, author, org = r["patient"], r["author"], r["organisation"]
    created_at = created_at or datetime.now(UTC)

    root = etree.Element(f"{{{NS}}}ClinicalDocument", nsmap={None: NS, "xsi": XSI})
    _el(root, "realmCode", code="FR")
    _el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for t in TEMPLATE_IDS if level == 1 else TEMPLATE_IDS[:2]:   # XDS-SD only for a nonXMLBody
        _el(root, "templateId", root=t)
    _el(root, "id", root=r["document_id"].upper())
    _el(root, "code", code=type_code, displayName=DOCUMENT_TYPES[type_code], codeSystem=LOINC_OID, codeSystemName="LOINC")
    _el(root, "title", f"Compte rendu d'électrocardiogramme 12 dérivations — urgence : {URGENCY_CODES[r['urgency']][0]}")
    _el(root, "effectiveTime", value=_ts(created_at))
    _el(root, "confidentialityCode", code="N", displayName="Normal", codeSystem="2.16.840.1.113883.5.25")
    _el(root, "languageCode", code="fr-FR")
    _el(root, "setId", root=r["set_id"].upper())
    _el(root, "versionNumber", value=str(r["version"]))

    role = _el(_el(root, "recordTarget"), "patientRole")
    if p["ins_transmitted"]:
        kind = "NIR-TEST" if test_ins_oid else "NIA" if p["ins_transmitted"][0] in "78" else "NIR"
        _el(role, "id", root=_ins.ins_oid(kind, allow_test=test_ins_oid), extension=p["ins_transmitted"])
    _el(role, "id", root=p["local_id_root"], extension=str(p["local_id"]))
    patient = _el(role, "patient")
    name = _el(patient, "name")
    for i, g in enumerate(p["given_names"]):
        _el(name, "given", _ins.normalize_trait(g), qualifier="BR" if i == 0 else "CL")
    _el(name, "family", _ins.normalize_trait(p["birth_name"]), qualifier="BR")
    if p.get("used_name"):
        _el(name, "family", _ins.normalize_trait(p["used_name"]), qualifier="SP")
    _el(patient, "administrativeGenderCode", code=p["sex"], codeSystem="2.16.840.1.113883.5.1")
    _el(patient, "birthTime", value=p["birth_date"].strftime("%Y%m%d"))
    if p.get("birthplace_insee"):
        _el(_el(_el(_el(patient, "birthplace"), "place"), "addr"), "county", str(p["birthplace_insee"]))

    auth = _el(root, "author")
    _el(auth, "time", value=_ts(r["signed_at"]))
    ent = _author_entity(auth, "assignedAuthor", author)
    _organisation(ent, "representedOrganization", org)

    cust = _el(_el(root, "custodian"), "assignedCustodian")
    _organisation(cust, "representedCustodianOrganization", org)

    legal = _el(root, "legalAuthenticator")
    _el(legal, "time", value=_ts(r["signed_at"]))
    _el(legal, "signatureCode", code="S")
    _author_entity(legal, "assignedEntity", author)

    event = _el(_el(root, "documentationOf"), "serviceEvent")
    _el(event, "code", code=CCAM_ECG_12[0], displayName=CCAM_ECG_12[1], codeSystem=CCAM_OID, codeSystemName="CCAM")
    _el(_el(event, "effectiveTime"), "low", value=_ts(r["study"]["acquired_at"]))
    perf = _el(event, "performer", typeCode="PRF")
    pent = _author_entity(perf, "assignedEntity", author)
    porg = _organisation(pent, "representedOrganization", org)
    _el(porg, "standardIndustryClassCode", code="AMBULATOIRE", displayName="Ambulatoire", codeSystem=OID_PRACTICE_SETTING)

    enc = _el(_el(root, "componentOf"), "encompassingEncounter")
    _el(_el(enc, "effectiveTime"), "low", value=_ts(r["study"]["acquired_at"]))
    fac = _el(_el(enc, "location"), "healthCareFacility")
    _el(fac, "code", code=org["facility_code"], displayName=org["facility_display"], codeSystem=OID_FACILITY)

    if level == 3:
        _structured_body(_el(root, "component"), r, pdf)
    else:
        body = _el(_el(root, "component"), "nonXMLBody")
        _el(body, "text", base64.b64encode(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ------------------------------------------------------------------ level 3 body -------

def _loinc(parent: etree._Element, tag: str, code: tuple[str, str]) -> etree._Element:
    return _el(parent, tag, code=code[0], codeSystem=LOINC_OID, codeSystemName="LOINC", displayName=code[1])


def _observation(section: etree._Element, ref: str, acquired: str) -> etree._Element:
    """An ``entry/observation`` (event) whose text is the narrative element ``ref``; the caller adds
    its code first (the schema order is code, text, statusCode, effectiveTime, value)."""
    obs = _el(_el(section, "entry"), "observation", classCode="OBS", moodCode="EVN")
    obs.append(etree.Element(f"{{{NS}}}code"))          # placeholder, filled by the caller
    _el(_el(obs, "text"), "reference", value=f"#{ref}")
    _el(obs, "statusCode", code="completed")
    _el(obs, "effectiveTime", value=acquired)
    return obs


def _set_code(obs: etree._Element, code: str, system: str, system_name: str, display: str) -> etree._Element:
    el = obs.find(f"{{{NS}}}code")
    for k, v in (("code", code), ("codeSystem", system), ("codeSystemName", system_name), ("displayName", display)):
        el.set(k, v)
    return el


def _value(obs: etree._Element, xsi_type: str, **attrs: str) -> etree._Element:
    return _el(obs, "value", **{f"{{{XSI}}}type": xsi_type, **attrs})


def _number(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:g}"


def _structured_body(component: etree._Element, r: dict[str, Any], pdf: bytes) -> None:
    acquired = _ts(r["study"]["acquired_at"])
    body = _el(component, "structuredBody")

    # the doctor's conclusion: statements, urgency, conclusion text
    sec = _el(_el(body, "component"), "section", ID="conclusion")
    _loinc(sec, "code", LOINC_EKG_IMPRESSION)
    _el(sec, "title", "Conclusion du médecin")
    text = _el(sec, "text")
    if r["statements"]:
        lst = _el(text, "list")
        for k, stmt in enumerate(r["statements"], 1):
            _el(_el(lst, "item"), "content", stmt, ID=f"statement-{k}")
    fr = URGENCY_CODES[r["urgency"]][0]
    para = _el(text, "paragraph", "Urgence : ")
    _el(para, "content", fr, ID="urgency")
    _el(text, "paragraph", f"Conclusion : {r['conclusion']}")
    for k, stmt in enumerate(r["statements"], 1):
        obs = _observation(sec, f"statement-{k}", acquired)
        _set_code(obs, LOINC_EKG_IMPRESSION[0], LOINC_OID, "LOINC", LOINC_EKG_IMPRESSION[1])
        sid = statement_id(stmt)
        if sid is None:                                  # the doctor's own words: not coded
            v = _value(obs, "CD", nullFlavor="OTH", codeSystem=SNOMED_OID)
            _el(_el(v, "originalText"), "reference", value=f"#statement-{k}")
            continue
        own = {"code": sid, "codeSystem": STATEMENT_OID, "codeSystemName": "ecgpilot statements",
               "displayName": STATEMENTS[sid][2]}
        if sid in STATEMENT_SNOMED:
            code, display = STATEMENT_SNOMED[sid]
            v = _value(obs, "CD", code=code, codeSystem=SNOMED_OID, codeSystemName="SNOMED CT", displayName=display)
            _el(_el(v, "originalText"), "reference", value=f"#statement-{k}")
            _el(v, "translation", **own)
        else:
            v = _value(obs, "CD", **own)
            _el(_el(v, "originalText"), "reference", value=f"#statement-{k}")
    obs = _observation(sec, "urgency", acquired)
    _set_code(obs, URGENCY_QUESTION[0], URGENCY_OID, "ecgpilot urgency", URGENCY_QUESTION[1])
    _fr, _en, act, act_display = URGENCY_CODES[r["urgency"]]
    v = _value(obs, "CD", code=r["urgency"], codeSystem=URGENCY_OID, codeSystemName="ecgpilot urgency", displayName=fr)
    _el(v, "translation", code=act, codeSystem=ACT_PRIORITY_OID, codeSystemName="ActPriority", displayName=act_display)

    # measurements: a table, one observation each (LOINC + MDC, UCUM)
    meas = r["measurements"]
    if meas:
        sec = _el(_el(body, "component"), "section", ID="measurements")
        _loinc(sec, "code", LOINC_12_LEAD)
        _el(sec, "title", "Mesures")
        text = _el(sec, "text")
        ai = r.get("ai") or {}
        if ai.get("rules_version") or ai.get("model_version"):
            versions = ", ".join(f"{w} {ai[k]}" for k, w in (("rules_version", "règles"), ("model_version", "modèle"))
                                 if ai.get(k))
            _el(text, "paragraph", f"Mesures automatiques d'ecgpilot ({versions}), relues par le médecin signataire.")
        table = _el(text, "table")
        tr = _el(_el(table, "thead"), "tr")
        for h in ("Mesure", "Valeur", "Unité"):
            _el(tr, "th", h)
        tbody = _el(table, "tbody")
        keys = [k for k in MEASUREMENT_CODES if k in meas]
        for key in keys:
            unit = MEASUREMENT_CODES[key][3]
            tr = _el(tbody, "tr", ID=f"m-{key}")
            _el(tr, "td", _MEASURE_FR[key])
            _el(tr, "td", _number(meas[key]))
            _el(tr, "td", "°" if unit == "deg" else unit)
        for key in keys:
            loinc, display, mdc, unit = MEASUREMENT_CODES[key]
            obs = _observation(sec, f"m-{key}", acquired)
            code = _set_code(obs, loinc, LOINC_OID, "LOINC", display)
            if mdc:
                _el(code, "translation", code=mdc, codeSystem=MDC_OID, codeSystemName="MDC", displayName=MDC_REFIDS[mdc])
            _value(obs, "PQ", value=_number(meas[key]), unit=unit)

    # the signed PDF, as the doctor signed it
    sec = _el(_el(body, "component"), "section", ID="signed-pdf")
    _el(sec, "title", "Compte rendu signé (PDF)")
    _el(_el(sec, "text"), "renderMultiMedia", referencedObject="pdf")
    media = _el(_el(sec, "entry"), "observationMedia", ID="pdf", classCode="OBS", moodCode="EVN")
    _el(media, "value", base64.b64encode(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
