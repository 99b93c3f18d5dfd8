"""CDA R2 ECG report, ANS "Structuration minimale" level N1 (PDF in ``nonXMLBody``).

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
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from ecgpilot import ins as _ins
from ecgpilot.errors import RecordError
from ecgpilot.export import LOINC_OID, URGENCY_CODES, check_report

__all__ = ["build_cda", "DOCUMENT_TYPES", "NS", "CCAM_ECG_12"]

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
) -> bytes:
    """CDA R2 N1 document (UTF-8 XML bytes) for a signed ECG ``report`` with its ``pdf`` embedded.

    ``report`` follows the dict documented in :mod:`ecgpilot.export`. The INS goes in the document
    only when the identity is ``qualifiee``; ``test_ins_oid=True`` labels it with the INS-NIR *test*
    OID (``…4.10``), for test platforms only.
    """
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
    for t in TEMPLATE_IDS:
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

    body = _el(_el(root, "component"), "nonXMLBody")
    _el(body, "text", base64.b64encode(pdf).decode("ascii"), mediaType="application/pdf", representation="B64")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
