"""Exports of a signed ECG report: CDA R2 (:mod:`.cda`), FHIR R4 (:mod:`.fhir`), IHE XDM (:mod:`.xdm`), MSSanté (:mod:`.mssante`).

All builders take the same plain ``report`` dict, checked by :func:`check_report`::

    {
      "document_id": "6f1c...-uuid",        # unique per document version (optional: derived from study id + version)
      "set_id": "uuid",                     # same for all versions of the report (optional: = document_id)
      "version": 1,                         # optional, default 1
      "patient": {
        "ins": "279035121518989",           # optional; transmitted ONLY when identity_status is "qualifiee"
        "identity_status": "qualifiee",     # provisoire | recuperee | validee | qualifiee (accents / codes accepted)
        "local_id": "IPP-0042",             # the practice's patient id (always sent)
        "local_id_root": "1.2.250.1.999.1", # OID of the practice's patient ids
        "birth_name": "DUPONT", "given_names": ["MARIE", "CLAIRE"], "used_name": None,
        "birth_date": "1979-03-15", "sex": "F",          # F | M | U
        "birthplace_insee": "35238",         # INSEE (COG) code, optional
      },
      "author": {"rpps": "10001234567", "family_name": "MARTIN", "given_name": "PAUL",
                 "speciality_code": "SM26", "speciality_display": "Qualifié en Médecine Générale (SM)"},
      "organisation": {"id": "1234567890", "id_prefix": "3", "name": "Cabinet du Parc",
                       "facility_code": "SA07", "facility_display": "Cabinet individuel"},
      "study": {"id": "study-17", "acquired_at": "2026-03-02T09:14:00+01:00"},
      "measurements": {"heart_rate_bpm": 72, "pr_ms": 160, "qrs_ms": 92, "qt_ms": 384, "qtc_ms": 408,
                       "p_axis_deg": 55, "qrs_axis_deg": 40, "t_axis_deg": 35},   # keys of docs/analysis-schema.md
      "statements": ["Rythme sinusal", "ECG normal"],   # the doctor's final statements
      "conclusion": "ECG normal.",                      # the doctor's validated conclusion
      "urgency": "routine",                             # emergency | repeat_now | soon | routine | normal
      "signed_at": "2026-03-02T09:30:00+01:00",         # when the doctor signed (legal authentication)
      "ai": {"model_version": "resnet1d-1.0", "rules_version": "rules-2"},   # optional, for traceability
    }
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ecgpilot import ins as _ins
from ecgpilot.errors import RecordError

__all__ = ["MEASUREMENT_CODES", "LOINC_ECG_REPORT", "LOINC_EKG_IMPRESSION", "URGENCY_CODES", "URGENCY_OID",
           "ACT_PRIORITY_OID", "check_report", "parse_time"]

LOINC = "http://loinc.org"
LOINC_OID = "2.16.840.1.113883.6.1"
MDC_OID = "2.16.840.1.113883.6.24"
MDC_URI = "urn:oid:2.16.840.1.113883.6.24"
LOINC_ECG_REPORT = ("11524-6", "EKG study")
LOINC_12_LEAD = ("34534-8", "12 lead EKG panel")
LOINC_EKG_IMPRESSION = ("8601-7", "EKG impression")

#: measurement key (docs/analysis-schema.md) -> (LOINC, LOINC display, MDC decimal code or None, UCUM unit)
MEASUREMENT_CODES: dict[str, tuple[str, str, str | None, str]] = {
    "heart_rate_bpm": ("8867-4", "Heart rate", "147842", "/min"),
    "pr_ms": ("8625-6", "P-R Interval", "146944", "ms"),
    "qrs_ms": ("8633-0", "QRS duration", "147228", "ms"),
    "qt_ms": ("8634-8", "Q-T Interval", "147232", "ms"),
    "qtc_ms": ("8636-3", "Q-T Interval Corrected", "146948", "ms"),
    "p_axis_deg": ("8626-4", "P wave axis", "147200", "deg"),
    "qrs_axis_deg": ("8632-2", "QRS axis", "147204", "deg"),
    "t_axis_deg": ("8638-9", "T wave axis", "147208", "deg"),
}

#: OID of ecgpilot's own urgency code system (ITU-T X.667 UUID OID: needs no registration).
URGENCY_OID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'ecgpilot:code-system:ecg-urgency').int}"
#: HL7 v3 ActPriority (2.16.840.1.113883.5.7), the nearest standard code, given as a second coding.
ACT_PRIORITY_OID = "2.16.840.1.113883.5.7"
#: the doctor's urgency -> (French display, English display, ActPriority code, ActPriority display);
#: the five levels stay distinct in ecgpilot's code system; ActPriority folds routine and normal together.
URGENCY_CODES: dict[str, tuple[str, str, str, str]] = {
    "emergency": ("urgence", "emergency", "EM", "emergency"),
    "repeat_now": ("refaire l'ECG maintenant", "repeat the ECG now", "A", "ASAP"),
    "soon": ("avis cardiologique rapide", "cardiology advice soon", "UR", "urgent"),
    "routine": ("suivi habituel", "routine follow-up", "R", "routine"),
    "normal": ("normal", "normal", "R", "routine"),
}


def parse_time(value: Any, what: str) -> datetime:
    """A timezone-aware datetime from an ISO string or datetime; naive values are refused."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise RecordError(f"{what} {value!r} is not an ISO 8601 date-time (e.g. 2026-03-02T09:30:00+01:00).") from None
    if dt.tzinfo is None:
        raise RecordError(f"{what} {value!r} has no time zone; give an offset, e.g. +01:00 or Z.")
    return dt


def _need(d: dict[str, Any], key: str, where: str) -> Any:
    v = d.get(key)
    if v in (None, "", []):
        raise RecordError(f"report {where}.{key} is missing; it is required for the exported document.")
    return v


def check_report(report: dict[str, Any]) -> dict[str, Any]:
    """Validate ``report`` and return a normalised copy (INS kept only when qualified, times parsed, ids filled)."""
    r = {k: (dict(v) if isinstance(v, dict) else v) for k, v in report.items()}
    for part in ("patient", "author", "organisation", "study"):
        if not isinstance(r.get(part), dict):
            raise RecordError(f"report.{part} is missing; expected a dict (see ecgpilot.export docstring).")
    p = r["patient"]
    _need(p, "local_id", "patient")
    _need(p, "local_id_root", "patient")
    _need(p, "birth_name", "patient")
    given = _need(p, "given_names", "patient")
    p["given_names"] = [given] if isinstance(given, str) else list(given)
    _need(p, "birth_date", "patient")
    try:
        p["birth_date"] = datetime.strptime(str(p["birth_date"]), "%Y-%m-%d").date()
    except ValueError:
        raise RecordError(f"report patient.birth_date {p['birth_date']!r} is not YYYY-MM-DD.") from None
    sex = str(p.get("sex") or "U").upper()
    if sex not in ("F", "M", "U"):
        raise RecordError(f"report patient.sex {p.get('sex')!r} is not accepted; use F, M or U.")
    p["sex"] = sex
    p["identity_status"] = _ins.normalize_status(_need(p, "identity_status", "patient"))
    p["ins_transmitted"] = _ins.transmissible_ins(p.get("ins"), p["identity_status"])
    a = r["author"]
    rpps = str(_need(a, "rpps", "author"))
    if not (rpps.isdigit() and len(rpps) == 11):
        raise RecordError(f"report author.rpps {rpps!r} is not an RPPS number (11 digits).")
    _need(a, "family_name", "author")
    a.setdefault("speciality_code", "SM26")
    a.setdefault("speciality_display", "Qualifié en Médecine Générale (SM)")
    o = r["organisation"]
    _need(o, "id", "organisation")
    _need(o, "name", "organisation")
    o.setdefault("id_prefix", "3")
    o.setdefault("facility_code", "SA07")
    o.setdefault("facility_display", "Cabinet individuel")
    s = r["study"]
    _need(s, "id", "study")
    s["acquired_at"] = parse_time(_need(s, "acquired_at", "study"), "report study.acquired_at")
    r["signed_at"] = parse_time(_need(r, "signed_at", ""), "report signed_at")
    r["conclusion"] = str(_need(r, "conclusion", ""))
    r["statements"] = [str(x) for x in r.get("statements") or []]
    urgency = str(r.get("urgency") or "routine")
    if urgency not in URGENCY_CODES:
        raise RecordError(f"report urgency {urgency!r} is not accepted; use the doctor's level: {', '.join(URGENCY_CODES)}.")
    r["urgency"] = urgency
    meas = {}
    for k, v in (r.get("measurements") or {}).items():
        if k in MEASUREMENT_CODES and v is not None:
            meas[k] = float(v)
    r["measurements"] = meas
    r["version"] = int(str(r.get("version") or 1))
    if not r.get("document_id"):
        r["document_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ecgpilot:{s['id']}:v{r['version']}"))
    r["set_id"] = r.get("set_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"ecgpilot:{s['id']}"))
    return r
