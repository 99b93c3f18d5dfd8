"""CDA R2 N1 export: one structural check per ANS "structuration minimale" rule (lxml + XPath).

The official CDA XSD and the ANS schematron are not available offline here, so each rule of
interop_regulation.md §2.3.2 is checked explicitly; each test would fail if the rule were broken.
"""

from __future__ import annotations

import base64

import pytest
from lxml import etree
from trust_helpers import make_pdf, report

from ecgpilot.errors import RecordError
from ecgpilot.export.cda import build_cda

NS = {"h": "urn:hl7-org:v3"}
PDF = make_pdf()


def _doc(**changes):
    return etree.fromstring(build_cda(report(**changes), PDF))


def _one(doc, xpath):
    found = doc.xpath(xpath, namespaces=NS)
    assert len(found) == 1, f"{xpath}: {len(found)} matches"
    return found[0]


def test_root_realm_and_type_id():
    doc = _doc()
    assert doc.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert _one(doc, "h:realmCode/@code") == "FR"
    assert _one(doc, "h:typeId/@root") == "2.16.840.1.113883.1.3"
    assert _one(doc, "h:typeId/@extension") == "POCD_HD000040"


def test_template_ids_n1():
    roots = _doc().xpath("h:templateId/@root", namespaces=NS)
    assert set(roots) == {"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20"}


def test_document_type_is_from_jdv_j07_not_11524_6():
    doc = _doc()
    assert _one(doc, "h:code/@code") == "11488-4"
    assert _one(doc, "h:code/@codeSystem") == "2.16.840.1.113883.6.1"
    doc2 = etree.fromstring(build_cda(report(), PDF, type_code="70004-7"))
    assert _one(doc2, "h:code/@code") == "70004-7"
    with pytest.raises(RecordError, match="J07"):
        build_cda(report(), PDF, type_code="11524-6")


def test_confidentiality_language_version():
    doc = _doc()
    assert _one(doc, "h:confidentialityCode/@code") == "N"
    assert _one(doc, "h:confidentialityCode/@codeSystem") == "2.16.840.1.113883.5.25"
    assert _one(doc, "h:languageCode/@code") == "fr-FR"
    assert _one(doc, "h:versionNumber/@value") == "1"
    assert _one(doc, "h:setId/@root") and _one(doc, "h:id/@root")


def test_qualified_identity_carries_ins():
    doc = _doc()
    ids = doc.xpath("h:recordTarget/h:patientRole/h:id", namespaces=NS)
    by_root = {i.get("root"): i.get("extension") for i in ids}
    assert by_root["1.2.250.1.213.1.4.8"] == "279035121518989"
    assert by_root["1.2.250.1.999.1.1"] == "IPP-0042"


@pytest.mark.parametrize("status", ["provisoire", "récupérée", "validée"])
def test_unqualified_identity_has_no_ins(status):
    raw = build_cda(report(patient__identity_status=status), PDF)
    assert b"279035121518989" not in raw and b"1.2.250.1.213.1.4.8" not in raw
    doc = etree.fromstring(raw)
    assert _one(doc, "h:recordTarget/h:patientRole/h:id/@extension") == "IPP-0042"


def test_test_ins_oid_only_on_request():
    doc = etree.fromstring(build_cda(report(), PDF, test_ins_oid=True))
    assert "1.2.250.1.213.1.4.10" in doc.xpath("h:recordTarget/h:patientRole/h:id/@root", namespaces=NS)


def test_invalid_ins_refused_when_qualified():
    with pytest.raises(RecordError, match="key"):
        build_cda(report(patient__ins="279035121518988"), PDF)


def test_patient_ins_traits():
    pat = _one(_doc(), "h:recordTarget/h:patientRole/h:patient")
    assert _one(pat, "h:name/h:family[@qualifier='BR']/text()") == "DUPONT"
    assert pat.xpath("h:name/h:given/text()", namespaces=NS) == ["MARIE", "CLAIRE"]
    assert _one(pat, "h:name/h:given[@qualifier='BR']/text()") == "MARIE"
    assert _one(pat, "h:administrativeGenderCode/@code") == "F"
    assert _one(pat, "h:administrativeGenderCode/@codeSystem") == "2.16.840.1.113883.5.1"
    assert _one(pat, "h:birthTime/@value") == "19790315"
    assert _one(pat, "h:birthplace/h:place/h:addr/h:county/text()") == "35238"


def test_author_rpps_and_speciality():
    doc = _doc()
    aid = _one(doc, "h:author/h:assignedAuthor/h:id")
    assert aid.get("root") == "1.2.250.1.71.4.2.1" and aid.get("extension") == "810001234567"
    assert _one(doc, "h:author/h:assignedAuthor/h:code/@code") == "SM26"
    assert _one(doc, "h:author/h:assignedAuthor/h:code/@codeSystem") == "1.2.250.1.213.1.1.4.5"
    assert _one(doc, "h:author/h:time/@value") == "20260302093000+0100"
    assert _one(doc, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:family/text()") == "MARTIN"


def test_custodian_organisation():
    doc = _doc()
    oid = _one(doc, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization/h:id")
    assert oid.get("root") == "1.2.250.1.71.4.2.2" and oid.get("extension") == "3123456789"
    assert _one(doc, "h:custodian//h:name/text()") == "Cabinet du Parc"


def test_legal_authenticator_signed():
    doc = _doc()
    assert _one(doc, "h:legalAuthenticator/h:signatureCode/@code") == "S"
    assert _one(doc, "h:legalAuthenticator/h:time/@value") == "20260302093000+0100"
    assert _one(doc, "h:legalAuthenticator/h:assignedEntity/h:id/@extension") == "810001234567"


def test_service_event_ccam_deqp003():
    doc = _doc()
    code = _one(doc, "h:documentationOf/h:serviceEvent/h:code")
    assert code.get("code") == "DEQP003" and code.get("codeSystem") == "1.2.250.1.215.300.1"
    assert _one(doc, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low/@value") == "20260302091400+0100"
    assert _one(doc, "//h:standardIndustryClassCode/@code") == "AMBULATOIRE"


def test_health_care_facility():
    doc = _doc()
    fac = _one(doc, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code")
    assert fac.get("code") == "SA07" and fac.get("codeSystem") == "1.2.250.1.71.4.2.4"


def test_pdf_embedded_in_non_xml_body():
    doc = _doc()
    text = _one(doc, "h:component/h:nonXMLBody/h:text")
    assert text.get("mediaType") == "application/pdf" and text.get("representation") == "B64"
    assert base64.b64decode(text.text) == PDF
    assert not doc.xpath("h:component/h:structuredBody", namespaces=NS)


def test_header_element_order_follows_cda_schema():
    # POCD_MT000040.ClinicalDocument sequence (CDA R2 schema), for the elements we emit
    order = ["realmCode", "typeId", "templateId", "id", "code", "title", "effectiveTime", "confidentialityCode",
             "languageCode", "setId", "versionNumber", "recordTarget", "author", "custodian",
             "legalAuthenticator", "documentationOf", "componentOf", "component"]
    tags = [etree.QName(e).localname for e in _doc()]
    positions = [order.index(t) for t in tags]
    assert positions == sorted(positions)


def test_missing_required_values_refused():
    with pytest.raises(RecordError, match="birth_date"):
        build_cda(report(patient__birth_date=None), PDF)
    with pytest.raises(RecordError, match="rpps"):
        build_cda(report(author={"rpps": "123", "family_name": "X"}), PDF)
    with pytest.raises(RecordError, match="time zone"):
        build_cda(report(signed_at="2026-03-02T09:30:00"), PDF)
    with pytest.raises(RecordError, match="PDF"):
        build_cda(report(), b"not a pdf")


@pytest.mark.parametrize("level, words", [("emergency", "urgence : urgence"), ("repeat_now", "refaire l'ECG maintenant"),
                                           ("soon", "avis cardiologique rapide"), ("routine", "suivi habituel"),
                                           ("normal", "urgence : normal")])
def test_each_urgency_level_is_stated_in_the_title(level, words):
    title = _one(_doc(urgency=level), "/h:ClinicalDocument/h:title").text
    assert title.endswith(words) if words.startswith("urgence") else words in title


def test_unknown_urgency_refused_with_the_five_levels():
    with pytest.raises(RecordError, match="emergency, repeat_now, soon, routine, normal"):
        build_cda(report(urgency="urgent"), PDF)
