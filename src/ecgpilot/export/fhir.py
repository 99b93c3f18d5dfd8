"""FHIR R4 Bundle of a signed ECG report: Patient, Practitioner, Organization, DiagnosticReport, Observations.

Coding (interop_regulation.md §2.7, §3): DiagnosticReport ``11524-6`` "EKG study" (LOINC) with the
PDF as ``presentedForm``; one Observation per global measurement with its LOINC code and the
ISO/IEEE 11073 MDC code as a second coding, values in UCUM (``/min``, ``ms``, ``deg``); the doctor's
statements in an ``8601-7`` "EKG impression" Observation. The Patient carries the INS
(``urn:oid:1.2.250.1.213.1.4.8``) only for a qualified identity, plus the FR Core identity
reliability extension; the practitioner is identified by idNat_PS (``8`` + RPPS). The doctor's
urgency (five levels) is the DiagnosticReport's ``conclusionCode``: ecgpilot's own code system
(``urn:oid:`` :data:`~ecgpilot.export.URGENCY_OID`, one code per level) and, second, the nearest HL7
v3 ActPriority code (:data:`~ecgpilot.export.URGENCY_CODES`). When the report
names an AI model version, a Device and a Provenance record it (traceability).

The output is a plain JSON-ready dict (``type: collection``); the tests parse it back with
``fhir.resources.R4B``.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from ecgpilot.errors import RecordError
from ecgpilot.ins import normalize_trait, status_code
from ecgpilot.export import (
    LOINC,
    LOINC_ECG_REPORT,
    LOINC_EKG_IMPRESSION,
    MEASUREMENT_CODES,
    URGENCY_CODES,
    URGENCY_OID,
    check_report,
)

__all__ = ["build_fhir_bundle"]

UCUM = "http://unitsofmeasure.org"
MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FR_RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
FR_IDENTITY_STATUS = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-status"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
_UNIT_TEXT = {"/min": "/min", "ms": "ms", "deg": "deg"}


def _uuid(r: dict[str, Any], name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(r['document_id']), name)}"


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def _urgency_concept(level: str) -> dict[str, Any]:
    """The doctor's urgency as a CodeableConcept: ecgpilot's code, then the HL7 v3 ActPriority one."""
    fr, _en, act, act_display = URGENCY_CODES[level]
    return {"coding": [{"system": f"urn:oid:{URGENCY_OID}", "code": level, "display": fr},
                       {"system": ACT_PRIORITY, "code": act, "display": act_display}],
            "text": f"Urgence : {fr}"}


def build_fhir_bundle(report: dict[str, Any], pdf: bytes, *, created_at: datetime | None = None) -> dict[str, Any]:
    """FHIR R4 ``Bundle`` (collection) dict for ``report`` (see :mod:`ecgpilot.export`) and its ``pdf``."""
    if not pdf.startswith(b"%PDF-"):
        raise RecordError("the report PDF does not start with '%PDF-'; pass the bytes of a PDF file.")
    r = check_report(report)
    p, a, o = r["patient"], r["author"], r["organisation"]
    created_at = created_at or datetime.now(UTC)
    pat_url, prac_url, org_url, rep_url = (_uuid(r, n) for n in ("Patient", "Practitioner", "Organization", "DiagnosticReport"))

    identifiers: list[dict[str, Any]] = []
    if p["ins_transmitted"]:
        oid = "1.2.250.1.213.1.4.9" if p["ins_transmitted"][0] in "78" else "1.2.250.1.213.1.4.8"
        identifiers.append({"use": "official", "type": {"text": "INS"}, "system": f"urn:oid:{oid}", "value": p["ins_transmitted"]})
    identifiers.append({"use": "usual", "type": {"text": "IPP"}, "system": f"urn:oid:{p['local_id_root']}", "value": str(p["local_id"])})
    patient = {
        "resourceType": "Patient",
        "extension": [{
            "url": FR_RELIABILITY,
            "extension": [{"url": "identityStatus", "valueCoding": {"system": FR_IDENTITY_STATUS, "code": status_code(p["identity_status"])}}],
        }],
        "identifier": identifiers,
        "name": [{"use": "official", "family": normalize_trait(p["birth_name"]),
                  "given": [normalize_trait(g) for g in p["given_names"]]}],
        "gender": {"F": "female", "M": "male", "U": "unknown"}[p["sex"]],
        "birthDate": p["birth_date"].isoformat(),
    }
    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8" + a["rpps"]}],
        "name": [{"family": a["family_name"], **({"given": [a["given_name"]]} if a.get("given_name") else {}), "prefix": ["Dr"]}],
    }
    organisation = {
        "resourceType": "Organization",
        "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": f"{o['id_prefix']}{o['id']}"}],
        "name": o["name"],
    }
    effective = _iso(r["study"]["acquired_at"])
    observations: list[tuple[str, dict[str, Any]]] = []
    for key, value in r["measurements"].items():
        loinc, display, mdc, unit = MEASUREMENT_CODES[key]
        coding = [{"system": LOINC, "code": loinc, "display": display}]
        if mdc:
            coding.append({"system": MDC_SYSTEM, "code": mdc})
        category = "vital-signs" if key == "heart_rate_bpm" else "procedure"
        observations.append((_uuid(r, key), {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
            "code": {"coding": coding, "text": display},
            "subject": {"reference": pat_url},
            "effectiveDateTime": effective,
            "performer": [{"reference": prac_url}],
            "valueQuantity": {"value": value, "unit": _UNIT_TEXT[unit], "system": UCUM, "code": unit},
        }))
    impression = "; ".join(r["statements"]) or r["conclusion"]
    observations.append((_uuid(r, "impression"), {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "procedure"}]}],
        "code": {"coding": [{"system": LOINC, "code": LOINC_EKG_IMPRESSION[0], "display": LOINC_EKG_IMPRESSION[1]}]},
        "subject": {"reference": pat_url},
        "effectiveDateTime": effective,
        "performer": [{"reference": prac_url}],
        "valueString": impression,
    }))
    diagnostic = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{r['document_id']}"}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EC", "display": "Electrocardiac"}]}],
        "code": {"coding": [{"system": LOINC, "code": LOINC_ECG_REPORT[0], "display": LOINC_ECG_REPORT[1]}]},
        "subject": {"reference": pat_url},
        "effectiveDateTime": effective,
        "issued": _iso(r["signed_at"]),
        "performer": [{"reference": prac_url}, {"reference": org_url}],
        "resultsInterpreter": [{"reference": prac_url}],
        "result": [{"reference": url} for url, _ in observations],
        "conclusion": r["conclusion"],
        "conclusionCode": [_urgency_concept(r["urgency"])],
        "presentedForm": [{
            "contentType": "application/pdf",
            "language": "fr-FR",
            "data": base64.b64encode(pdf).decode("ascii"),
            "title": "Compte rendu d'électrocardiogramme",
            "creation": _iso(r["signed_at"]),
        }],
    }
    entries = [(pat_url, patient), (prac_url, practitioner), (org_url, organisation), (rep_url, diagnostic), *observations]
    ai = r.get("ai") or {}
    if ai.get("model_version"):
        dev_url = _uuid(r, "Device")
        device = {
            "resourceType": "Device",
            "deviceName": [{"name": "ecgpilot ECG classifier", "type": "model-name"}],
            "version": [{"value": str(ai["model_version"])}]
            + ([{"type": {"text": "rules"}, "value": str(ai["rules_version"])}] if ai.get("rules_version") else []),
        }
        provenance = {
            "resourceType": "Provenance",
            "target": [{"reference": rep_url}],
            "recorded": _iso(r["signed_at"]),
            "agent": [
                {"type": {"text": "AI suggestion (reviewed by the doctor)"}, "who": {"reference": dev_url}},
                {"type": {"text": "legal authenticator"}, "who": {"reference": prac_url}},
            ],
        }
        entries += [(dev_url, device), (_uuid(r, "Provenance"), provenance)]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{r['document_id']}"},
        "type": "collection",
        "timestamp": _iso(created_at),
        "entry": [{"fullUrl": url, "resource": res} for url, res in entries],
    }

