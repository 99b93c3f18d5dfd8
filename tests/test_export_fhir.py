"""FHIR R4 export: every resource parses back with fhir.resources (R4B models), codes and units checked."""

from __future__ import annotations

import base64
import json

import pytest
from trust_helpers import REPORT, make_pdf, report

from ecgpilot.errors import RecordError
from ecgpilot.export.fhir import build_fhir_bundle

R4B = pytest.importorskip("fhir.resources.R4B.bundle")
PDF = make_pdf()
LOINC = "http://loinc.org"


def _by_type(bundle):
    out = {}
    for e in bundle["entry"]:
        out.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    return out


def test_bundle_parses_with_fhir_resources():
    from fhir.resources.R4B import get_fhir_model_class

    bundle = build_fhir_bundle(report(), PDF)
    text = json.dumps(bundle)
    parsed = R4B.Bundle.model_validate_json(text)
    assert parsed.type == "collection"
    for entry in bundle["entry"]:
        res = entry["resource"]
        model = get_fhir_model_class(res["resourceType"]).model_validate(res)
        assert model.get_resource_type() == res["resourceType"]
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Practitioner", "Organization", "DiagnosticReport", "Observation", "Device", "Provenance"} <= kinds


def test_references_resolve_inside_bundle():
    bundle = build_fhir_bundle(report(), PDF)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = []

    def walk(x):
        if isinstance(x, dict):
            if "reference" in x:
                refs.append(x["reference"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(bundle)
    assert refs and set(refs) <= urls


def test_diagnostic_report():
    rep = _by_type(build_fhir_bundle(report(), PDF))["DiagnosticReport"][0]
    assert rep["status"] == "final"
    assert rep["code"]["coding"][0] == {"system": LOINC, "code": "11524-6", "display": "EKG study"}
    assert rep["conclusion"] == REPORT["conclusion"]
    form = rep["presentedForm"][0]
    assert form["contentType"] == "application/pdf" and base64.b64decode(form["data"]) == PDF
    assert len(rep["result"]) == 9  # 8 known measurements + impression (rr_sd_ms has no code)


@pytest.mark.parametrize(
    "key,loinc,unit",
    [("heart_rate_bpm", "8867-4", "/min"), ("pr_ms", "8625-6", "ms"), ("qrs_ms", "8633-0", "ms"),
     ("qt_ms", "8634-8", "ms"), ("qtc_ms", "8636-3", "ms"), ("p_axis_deg", "8626-4", "deg"),
     ("qrs_axis_deg", "8632-2", "deg"), ("t_axis_deg", "8638-9", "deg")],
)
def test_observation_codes_and_ucum_units(key, loinc, unit):
    obs = _by_type(build_fhir_bundle(report(), PDF))["Observation"]
    match = [o for o in obs if o["code"]["coding"][0]["code"] == loinc]
    assert len(match) == 1
    q = match[0]["valueQuantity"]
    assert q["system"] == "http://unitsofmeasure.org" and q["code"] == unit
    assert q["value"] == REPORT["measurements"][key]


def test_heart_rate_has_mdc_and_vital_signs_category():
    obs = _by_type(build_fhir_bundle(report(), PDF))["Observation"]
    hr = next(o for o in obs if o["code"]["coding"][0]["code"] == "8867-4")
    assert {"system": "urn:iso:std:iso:11073:10101", "code": "147842"} in hr["code"]["coding"]
    assert hr["category"][0]["coding"][0]["code"] == "vital-signs"
    imp = next(o for o in obs if o["code"]["coding"][0]["code"] == "8601-7")
    assert imp["valueString"] == "Rythme sinusal; ECG normal"


def test_patient_ins_only_when_qualified():
    pat = _by_type(build_fhir_bundle(report(), PDF))["Patient"][0]
    systems = {i["system"]: i["value"] for i in pat["identifier"]}
    assert systems["urn:oid:1.2.250.1.213.1.4.8"] == "279035121518989"
    assert pat["extension"][0]["extension"][0]["valueCoding"]["code"] == "QUAL"
    for status in ("provisoire", "recuperee", "validee"):
        bundle = build_fhir_bundle(report(patient__identity_status=status), PDF)
        assert "279035121518989" not in json.dumps(bundle)
        pat = _by_type(bundle)["Patient"][0]
        assert [i["value"] for i in pat["identifier"]] == ["IPP-0042"]


def test_practitioner_rpps():
    prac = _by_type(build_fhir_bundle(report(), PDF))["Practitioner"][0]
    assert prac["identifier"][0] == {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810001234567"}


def test_bad_input_refused():
    with pytest.raises(RecordError, match="PDF"):
        build_fhir_bundle(report(), b"<html>")
    with pytest.raises(RecordError, match="urgency"):
        build_fhir_bundle(report(urgency="asap"), PDF)


def test_patient_names_in_ins_form():
    pat = _by_type(build_fhir_bundle(report(patient__birth_name="Lefèvre"), PDF))["Patient"][0]
    assert pat["name"][0]["family"] == "LEFEVRE" and pat["name"][0]["given"] == ["MARIE", "CLAIRE"]


@pytest.mark.parametrize("level, act", [("emergency", "EM"), ("repeat_now", "A"), ("soon", "UR"), ("routine", "R"),
                                         ("normal", "R")])
def test_urgency_level_is_the_conclusion_code(level, act):
    from ecgpilot.export import URGENCY_OID

    dr = _by_type(build_fhir_bundle(report(urgency=level), PDF))["DiagnosticReport"][0]
    codings = dr["conclusionCode"][0]["coding"]
    assert codings[0] == {"system": f"urn:oid:{URGENCY_OID}", "code": level, "display": codings[0]["display"]}
    assert codings[1]["system"].endswith("v3-ActPriority") and codings[1]["code"] == act
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    assert DiagnosticReport.model_validate(dr).conclusionCode[0].coding[0].code == level
