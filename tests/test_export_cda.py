"""CDA R2 export: one structural check per ANS "structuration minimale" rule (lxml + XPath), and
the level-3 body (narrative + coded entries) on a sample report and on a real signed study.

The official CDA XSD (CDA.xsd / POCD_MT000040.xsd) and the ANS schematron are not available
offline here (searched in the repository and ../shared), so each rule of interop_regulation.md
§2.3.2 and the POCD_MT000040 element order of every element built are checked explicitly; each
test would fail if the rule were broken.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import pytest
from lxml import etree
from trust_helpers import make_pdf, report

from ecgpilot.errors import RecordError
from ecgpilot.export import ACT_PRIORITY_OID, LOINC_OID, MDC_OID, MEASUREMENT_CODES, URGENCY_CODES, URGENCY_OID
from ecgpilot.export.cda import (MDC_REFIDS, SNOMED_OID, STATEMENT_OID, STATEMENT_SNOMED, URGENCY_QUESTION, build_cda,
                                 statement_id)
from ecgpilot.interpret.catalogue import STATEMENTS

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


# ------------------------------------------------------------------ level 3 -------

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: POCD_MT000040 sequences (CDA R2 schema) of the classes the level-3 body uses, for the elements we emit
SEQUENCES = {
    "structuredBody": ["realmCode", "typeId", "templateId", "confidentialityCode", "languageCode", "component"],
    "section": ["realmCode", "typeId", "templateId", "id", "code", "title", "text", "confidentialityCode",
                "languageCode", "subject", "author", "informant", "entry", "component"],
    "entry": ["realmCode", "typeId", "templateId", "observation", "observationMedia"],
    "observation": ["realmCode", "typeId", "templateId", "id", "code", "derivationExpr", "text", "statusCode",
                    "effectiveTime", "priorityCode", "repeatNumber", "languageCode", "value", "interpretationCode",
                    "methodCode", "targetSiteCode", "subject", "specimen", "performer", "author", "informant",
                    "participant", "entryRelationship", "reference", "precondition", "referenceRange"],
    "observationMedia": ["realmCode", "typeId", "templateId", "id", "languageCode", "value", "subject", "author",
                         "informant", "participant", "entryRelationship", "reference", "precondition"],
    "value": ["originalText", "qualifier", "translation"],      # CD
    "code": ["originalText", "qualifier", "translation"],
}
#: the narrative block's elements (StrucDoc.Text) that the body uses
NARRATIVE = {"text", "list", "item", "content", "paragraph", "table", "thead", "tbody", "tr", "th", "td",
             "renderMultiMedia"}


def _verhoeff_ok(number: str) -> bool:
    d = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
         [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
         [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
         [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
    p = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
         [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
         [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = d[c][p[i % 8][int(ch)]]
    return c == 0


def _loinc_ok(code: str) -> bool:
    """LOINC mod-10 check digit (Luhn on the part before the dash)."""
    body, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return (10 - total % 10) % 10 == int(check)


def _local(e) -> str:  # noqa: ANN001
    return etree.QName(e).localname


def _check_structure(doc) -> None:  # noqa: ANN001
    """What the CDA schema and the narrative/entry rules say, as far as they can be checked here."""
    body = _one(doc, "h:component/h:structuredBody")
    assert not doc.xpath("h:component/h:nonXMLBody", namespaces=NS)
    for el in body.iter(etree.Element):
        name = _local(el)
        kids = [_local(k) for k in el if isinstance(k.tag, str)]
        if name in SEQUENCES and not (name in ("value", "code") and el.getparent() is not None
                                      and _local(el.getparent()) == "observationMedia"):
            seq = SEQUENCES[name]
            assert all(k in seq for k in kids), (name, kids)
            assert [seq.index(k) for k in kids] == sorted(seq.index(k) for k in kids), (name, kids)
    for sec in body.xpath(".//h:section", namespaces=NS):
        text = _one(sec, "h:text")
        assert {_local(e) for e in text.iter(etree.Element)} <= NARRATIVE
        for entry in sec.xpath("h:entry", namespaces=NS):
            assert len(entry) == 1
    ids = doc.xpath("//@ID")
    assert len(ids) == len(set(ids))                                   # xs:ID: unique
    id_of = {e.get("ID"): e for e in doc.xpath("//*[@ID]")}
    for ref in doc.xpath("//h:reference/@value", namespaces=NS):      # every reference resolves in a narrative
        target = id_of[ref.lstrip("#")]
        assert ref.startswith("#") and target.xpath("ancestor::h:text", namespaces=NS)
    for obs in doc.xpath("//h:observation", namespaces=NS):
        assert obs.get("classCode") == "OBS" and obs.get("moodCode") == "EVN"
        assert _one(obs, "h:statusCode/@code") == "completed" and _one(obs, "h:effectiveTime/@value")
        assert _one(obs, "h:value").get(XSI_TYPE) in ("CD", "PQ")
    for mm in doc.xpath("//h:renderMultiMedia/@referencedObject", namespaces=NS):
        assert _local(id_of[mm]) == "observationMedia"


def _entries(doc, section: str) -> list:  # noqa: ANN001
    return doc.xpath(f"//h:section[@ID='{section}']/h:entry/h:observation", namespaces=NS)


def _narrative(doc, obs) -> str:  # noqa: ANN001
    ref = obs.xpath("string(h:text/h:reference/@value)", namespaces=NS).lstrip("#")
    return " ".join(doc.xpath(f"string(//*[@ID='{ref}'])").split())


def _check_statement(obs, text: str, expected_id: str | None) -> None:  # noqa: ANN001
    """The entry of one signed statement: EKG impression, value coded as the catalogue says."""
    code = _one(obs, "h:code")
    assert (code.get("code"), code.get("codeSystem")) == ("8601-7", LOINC_OID)
    v = _one(obs, "h:value")
    assert v.get(XSI_TYPE) == "CD"
    if expected_id is None:
        assert v.get("nullFlavor") == "OTH" and v.get("code") is None
    elif expected_id in STATEMENT_SNOMED:
        assert (v.get("code"), v.get("codeSystem")) == (STATEMENT_SNOMED[expected_id][0], SNOMED_OID)
        tr = _one(v, "h:translation")
        assert (tr.get("code"), tr.get("codeSystem")) == (expected_id, STATEMENT_OID)
    else:
        assert (v.get("code"), v.get("codeSystem")) == (expected_id, STATEMENT_OID)
        assert not v.xpath("h:translation", namespaces=NS)
    assert v.xpath("string(h:originalText/h:reference/@value)", namespaces=NS) == \
        obs.xpath("string(h:text/h:reference/@value)", namespaces=NS)


def _check_measurements(doc, measurements: dict) -> None:  # noqa: ANN001
    got = {}
    for obs in _entries(doc, "measurements"):
        code = _one(obs, "h:code")
        key = next(k for k, c in MEASUREMENT_CODES.items() if c[0] == code.get("code"))
        loinc, display, mdc, unit = MEASUREMENT_CODES[key]
        assert code.get("codeSystem") == LOINC_OID and _loinc_ok(loinc)
        tr = _one(code, "h:translation")
        assert (tr.get("code"), tr.get("codeSystem"), tr.get("displayName")) == (mdc, MDC_OID, MDC_REFIDS[mdc])
        v = _one(obs, "h:value")
        assert v.get(XSI_TYPE) == "PQ" and v.get("unit") == unit
        got[key] = float(v.get("value"))
        cells = [c.text for c in doc.xpath(f"//*[@ID='m-{key}']/h:td", namespaces=NS)]
        assert float(cells[1]) == got[key] and cells[2] == ("°" if unit == "deg" else unit)
    assert got == pytest.approx({k: float(v) for k, v in measurements.items() if k in MEASUREMENT_CODES})


def test_level3_header_is_n1_header_without_xds_sd_and_body_is_structured():
    one, three = _doc(), etree.fromstring(build_cda(report(), PDF, level=3))
    assert set(three.xpath("h:templateId/@root", namespaces=NS)) == {"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1"}
    head = [etree.tostring(e) for e in one if _local(e) not in ("templateId", "component")]
    assert head == [etree.tostring(e) for e in three if _local(e) not in ("templateId", "component")]
    _check_structure(three)
    media = _one(three, "//h:observationMedia/h:value")
    assert media.get("mediaType") == "application/pdf" and base64.b64decode(media.text) == PDF
    with pytest.raises(RecordError, match="level"):
        build_cda(report(), PDF, level=2)


def test_level3_sample_report_entries_say_what_the_narrative_says():
    r = report(statements=["Rythme sinusal", "Bloc de branche droit complet (QRS 128 ms)", "ECG normal",
                           "Aspect à recontrôler dans 6 mois"])
    doc = etree.fromstring(build_cda(r, PDF, level=3))
    _check_structure(doc)
    stmts = _entries(doc, "conclusion")
    assert [_narrative(doc, o) for o in stmts[:-1]] == r["statements"]
    for obs, text, sid in zip(stmts, r["statements"], ["sinus_rhythm", "rbbb", "normal_ecg", None]):
        _check_statement(obs, text, sid)
    urgency = stmts[-1]
    assert _one(urgency, "h:code/@code") == URGENCY_QUESTION[0] and _one(urgency, "h:code/@codeSystem") == URGENCY_OID
    assert _narrative(doc, urgency) == URGENCY_CODES["routine"][0]
    _check_measurements(doc, r["measurements"])


@pytest.mark.parametrize("level", list(URGENCY_CODES))
def test_level3_urgency_entry_codes_each_level_with_act_priority(level):
    doc = etree.fromstring(build_cda(report(urgency=level), PDF, level=3))
    v = _one(_entries(doc, "conclusion")[-1], "h:value")
    fr, _en, act, _act_display = URGENCY_CODES[level]
    assert (v.get("code"), v.get("codeSystem"), v.get("displayName")) == (level, URGENCY_OID, fr)
    tr = _one(v, "h:translation")
    assert (tr.get("code"), tr.get("codeSystem")) == (act, ACT_PRIORITY_OID)
    assert doc.xpath("string(//*[@ID='urgency'])") == fr


def test_statement_codes_are_catalogue_statements_with_valid_snomed_ids():
    assert set(STATEMENT_SNOMED) <= set(STATEMENTS)
    for sid, (code, _display) in STATEMENT_SNOMED.items():
        assert code.isdigit() and 6 <= len(code) <= 18 and _verhoeff_ok(code), sid
        assert code[-2] == "0", (sid, code)                  # partition 00: a concept id
    for sid, (_cat, _urg, fr, en) in STATEMENTS.items():     # every catalogue text names its own id
        assert statement_id(fr) == sid and statement_id(en) == sid
    assert statement_id("Bloc de branche droit complet (QRS 128 ms)") == "rbbb"
    assert statement_id("Fibrillation atriale — à confirmer sur un tracé de meilleure qualité") == "atrial_fibrillation"
    assert statement_id("Fibrillation atriale paroxystique ?") is None          # the doctor's wording
    assert statement_id("Fibrillation atriale possible : refaire l'ECG") is None
    assert statement_id("Hypertrophie ventriculaire gauche avec anomalies de repolarisation (surcharge)") == "lvh_strain"


def test_importing_the_cda_module_reads_no_catalogue():
    """The statement texts are read on first use (a cached function), not when cda.py is imported."""
    code = ("import ecgpilot.export.cda as cda\n"
            "from ecgpilot import messages\n"
            "before = messages.catalogue.cache_info().currsize\n"
            "sid = cda.statement_id('Bloc de branche gauche complet')\n"
            "print(before, messages.catalogue.cache_info().currsize, sid)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "2", "lbbb"]


def test_mdc_codes_are_those_of_the_terminology_notes():
    """Each measurement's MDC decimal is partition 2 (131072) + its term code, with the refid the
    project's terminology notes (interop_regulation.md §3.2) give for it; LOINC check digits hold."""
    notes = data_file_or_skip()
    rows = {}
    for line in notes.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].startswith("MDC_ECG_") and re.fullmatch(r"[\d / ]+", cells[3]):
            # "MDC_ECG_ANGLE_P_FRONT / _QRS_FRONT" abbreviates MDC_ECG_ANGLE_QRS_FRONT
            refids = [x.strip() for x in cells[1].split("/")]
            first = refids[0].split("_")
            refids = [r if r.startswith("MDC_") else "_".join(first[:len(first) - r.count("_")]) + r for r in refids]
            terms = [x.strip() for x in cells[2].split("/")]
            for ref, term, dec in zip(refids, terms, (x.strip() for x in cells[3].split("/"))):
                rows[dec] = (ref, term)
    for key, (loinc, _display, mdc, unit) in MEASUREMENT_CODES.items():
        assert _loinc_ok(loinc), key
        ref, term = rows[mdc]
        assert ref == MDC_REFIDS[mdc] and int(mdc) == 131072 + int(term.split(":")[1]), (key, mdc, rows[mdc])
        assert unit in ("/min", "ms", "deg")


def data_file_or_skip():  # noqa: ANN201
    from pathlib import Path

    p = Path(__file__).resolve().parents[2] / "shared" / "docs" / "interop_regulation.md"
    if not p.exists():
        pytest.skip(f"terminology notes {p} are not available")
    return p


def test_level3_on_a_real_signed_study(tmp_path):
    """A GP uploads a real GE MUSE file, confirms, edits, adds and rejects statements, chooses the
    urgency and signs; the signed version's report as level 3: one entry per signed statement,
    coded as the catalogue says (the edited and added ones in the doctor's words, not coded), the
    rejected one absent, the measurements of the analysis with their LOINC/MDC codes and UCUM units."""
    from _web import make_app, token_for
    from conftest import data_file
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from ecgpilot.store.models import Practice, Report, Study, User
    from ecgpilot.web.services.sending import export_report

    path = data_file("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
    app = make_app(tmp_path)
    with app.state.sessions() as db:
        gp = db.scalar(select(User).where(User.email == "a@x.fr"))
        gp.rpps = "10001234567"
        db.get(Practice, gp.practice_id).org_id = "750000001"
        db.commit()
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    r = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))])
    assert r.status_code == 201, r.text
    sid = r.json()[0]["id"]
    drafted = api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]
    assert len(drafted) >= 3, drafted
    changes = [{"id": s["id"], "decision": "confirmed"} for s in drafted]
    changes[1] = {"id": drafted[1]["id"], "decision": "edited", "text": "Aspect revu par le médecin : " + drafted[1]["text"]}
    changes[-1]["decision"] = "rejected"
    added = "Contrôle ECG dans un an"
    assert api.patch(f"/api/v1/studies/{sid}/statements",
                     json={"changes": changes, "add": [added], "urgency": "soon"}).status_code == 200
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    pdf = api.get(f"/api/v1/studies/{sid}/report.pdf").content
    with app.state.sessions() as db:
        study = db.get(Study, sid)
        rep = db.scalar(select(Report).where(Report.study_id == sid))
        rep_dict = export_report(db, study, rep)
        decisions = rep.content["decisions"]
        measurements = (study.analysis or {})["measurements"]
    doc = etree.fromstring(build_cda(rep_dict, pdf, level=3, created_at=rep_dict["signed_at"]))
    _check_structure(doc)
    kept = [d for d in decisions if d["decision"] in ("confirmed", "edited")]
    stmts = _entries(doc, "conclusion")[:-1]
    assert [_narrative(doc, o) for o in stmts] == [d["text"] for d in kept] == rep_dict["statements"]
    assert drafted[-1]["text"] not in [_narrative(doc, o) for o in stmts]           # rejected: absent
    coded = 0
    for obs, d in zip(stmts, kept):
        expected = d["id"] if d["decision"] == "confirmed" and d["id"] in STATEMENTS else None
        _check_statement(obs, d["text"], expected)
        coded += expected is not None
    assert coded == len(kept) - 2                       # all but the edited one and the added one
    assert doc.xpath(f"//h:section[@ID='conclusion']//h:value[@codeSystem='{SNOMED_OID}'][@code]", namespaces=NS)
    assert any(d["text"] == added for d in kept)
    v = _one(_entries(doc, "conclusion")[-1], "h:value")
    assert (v.get("code"), _one(v, "h:translation").get("code")) == ("soon", "UR")
    _check_measurements(doc, {k: v for k, v in measurements.items() if k in MEASUREMENT_CODES and v is not None})
    assert len(_entries(doc, "measurements")) >= 5          # rate, PR, QRS, QT, QTc at least on this file
    assert base64.b64decode(_one(doc, "//h:observationMedia/h:value").text) == pdf
