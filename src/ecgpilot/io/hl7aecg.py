"""HL7 v3 annotated ECG (aECG, FDA XML, root ``<AnnotatedECG>``).

The rhythm ``series`` (code ``RHYTHM``) is read; the ``derivedSeries``
(representative/median beats) is ignored. In its ``sequenceSet`` a
``TIME_ABSOLUTE``/``TIME_RELATIVE`` sequence gives the sample ``increment``
(hence the rate) and the start (``head``); each lead sequence (code
``MDC_ECG_LEAD_<name>``) holds ``SLIST_PQ`` values: ``origin + scale × digits``
in the units written on ``origin`` and ``scale`` (uV, mV, V).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import check_samples
from ecgpilot.io._patient import complete_patient, sex_code
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.io._vendor_xml import local_name, parse_xml, xml_root_name
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "parse_ts", "UNIT_TO_UV"]

FORMAT = "hl7aecg"
DESCRIPTION = "HL7 v3 annotated ECG XML (FDA aECG), rhythm series"

#: Units accepted on ``origin``/``scale``, with their factor to µV.
_TIME_TO_S: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def sniff(head: bytes, path: Path) -> bool:
    """Root element ``AnnotatedECG``."""
    return xml_root_name(head) == "AnnotatedECG"


def parse_ts(text: str | None) -> datetime | None:
    """An HL7 TS value (``YYYYMMDDHHMMSS[.fff][+ZZZZ]``, any prefix of it) as a datetime."""
    if not text:
        return None
    m = re.match(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d+)?", text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) if g else dflt for g, dflt in zip(m.groups()[:6], (0, 1, 1, 0, 0, 0)))
    micro = int(round(float(m.group(7)) * 1e6)) if m.group(7) else 0
    try:
        return datetime(y, mo, d, h, mi, s, min(micro, 999999))
    except ValueError:
        return None


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and local_name(c) == name]


def _child(el: etree._Element | None, *names: str) -> etree._Element | None:
    """Follow a path of local names, first match at each step."""
    for name in names:
        if el is None:
            return None
        found = _children(el, name)
        el = found[0] if found else None
    return el


def _first(root: etree._Element, name: str) -> etree._Element | None:
    return next((e for e in root.iter(f"{{*}}{name}")), None)


def _quantity(el: etree._Element | None, what: str, path: Path, units: dict[str, float] | None = None) -> float:
    """``value × unit factor`` of a PQ element such as ``<scale value='2.5' unit='uV'/>``; ``units`` None:
    an amplitude, converted to µV by :func:`~ecgpilot.io._units.unit_factor`."""
    if el is None:
        raise CorruptFileError(f"{path.name!r}: the {what} element is missing.")
    try:
        value = float(el.get("value", ""))
    except ValueError:
        raise CorruptFileError(f"{path.name!r}: {what} value {el.get('value')!r} is not a number.") from None
    unit = (el.get("unit") or "").strip()
    if units is None:
        return value * unit_factor(unit, where=f"{path.name!r}: {what}")
    if unit.lower() not in units:
        raise UnsupportedFormatError(
            f"{path.name!r}: {what} unit {unit!r} is not supported; accepted: {', '.join(units)}."
        )
    return value * units[unit.lower()]


#: UCUM units of a reported age (LOINC 21612-7), with their factor to years.
_AGE_UNIT_YEARS = {"a": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25, "h": 1 / 8766}


def _patient(root: etree._Element, when: datetime | None) -> PatientInfo:
    """administrativeGenderCode, the reported age (LOINC 21612-7), else the age from
    birthTime on ``when`` (the acquisition)."""
    person = _first(root, "subjectDemographicPerson")
    family = given = None
    sex = None
    birth: date | None = None
    if person is not None:
        name = _child(person, "name")
        if name is not None:
            fam, giv = _child(name, "family"), _child(name, "given")
            if fam is not None or giv is not None:
                family = (fam.text or "").strip() or None if fam is not None else None
                given = (giv.text or "").strip() or None if giv is not None else None
            else:
                family = (name.text or "").strip() or None
        gender = _child(person, "administrativeGenderCode")
        sex = sex_code(gender.get("code")) if gender is not None else None
        birth_el = _child(person, "birthTime")
        bt = parse_ts(birth_el.get("value")) if birth_el is not None else None
        birth = bt.date() if bt else None
    trial_subject = _first(root, "trialSubject")
    sid = _child(trial_subject, "id")
    age = None
    for obs in root.iter("{*}relatedObservation"):
        code = _child(obs, "code")
        value = _child(obs, "value")
        if code is not None and code.get("code") == "21612-7" and value is not None:
            try:
                v = float(value.get("value", ""))
            except ValueError:
                continue
            factor = _AGE_UNIT_YEARS.get((value.get("unit") or "a").strip())
            age = round(v * factor, 3) if factor is not None else None
    patient = PatientInfo(
        patient_id=sid.get("extension") if sid is not None else None,
        family_name=family,
        given_name=given,
        birth_date=birth,
        sex=sex,
        age_years=age,
    )
    return complete_patient(patient, when)


def _rhythm_series(root: etree._Element, path: Path) -> tuple[etree._Element, int]:
    series = list(root.iter("{*}series"))
    codes = [None if (c := _child(s, "code")) is None else c.get("code") for s in series]
    rhythm = [s for s, c in zip(series, codes) if c == "RHYTHM"]
    if not rhythm:
        raise UnsupportedFormatError(
            f"{path.name!r}: no RHYTHM series (found series codes {codes}); ecgpilot reads "
            "rhythm waveforms, not representative beats."
        )
    return rhythm[0], len(rhythm)


_DIGITS_CHUNK = 1 << 20  # characters parsed at a time: the token list stays small whatever the text's length
_SPACE = re.compile(r"\s")
_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")


def _digits(text: str, lead: str, path: Path) -> np.ndarray:
    """The whitespace-separated numbers of a ``digits`` element, parsed piece by piece."""
    parts: list[np.ndarray] = []
    start, end_all = 0, len(text)
    while start < end_all:
        end = min(end_all, start + _DIGITS_CHUNK)
        if end < end_all:  # cut between two numbers
            space = _SPACE.search(text, end)
            end = space.start() if space else end_all
        piece = text[start:end].split()
        try:
            parts.append(np.array(piece, dtype=np.float64))
        except ValueError:
            bad = next(t for t in piece if not _NUMBER.fullmatch(t))
            raise CorruptFileError(f"{path.name!r}: lead {lead} digits contain {bad[:40]!r}, not a number.") from None
        start = end
    return np.concatenate(parts) if parts else np.empty(0)


def read(path: Path) -> ECGRecord:
    """Read the rhythm waveform of an HL7 aECG file, in µV."""
    path = Path(path)
    root = parse_xml(path)
    if local_name(root) != "AnnotatedECG":
        raise UnsupportedFormatError(f"{path.name!r}: root element is {local_name(root)!r}, not AnnotatedECG.")
    series, n_rhythm = _rhythm_series(root, path)
    seq_set = _child(series, "component", "sequenceSet")
    if seq_set is None:
        raise CorruptFileError(f"{path.name!r}: the RHYTHM series has no sequenceSet.")
    increment: float | None = None
    start: datetime | None = None
    rows: list[np.ndarray] = []
    leads: list[str] = []
    skipped: list[str] = []
    n_values = 0
    for comp in _children(seq_set, "component"):
        seq = _child(comp, "sequence")
        code_el = _child(seq, "code")
        value = _child(seq, "value")
        if code_el is None or value is None:
            continue
        code = code_el.get("code") or ""
        if code.startswith("TIME_"):
            inc_el = _child(value, "increment")
            if inc_el is None:
                raise CorruptFileError(
                    f"{path.name!r}: the {code} sequence has no increment, so the sampling rate is unknown."
                )
            increment = _quantity(inc_el, "time increment", path, _TIME_TO_S)
            head = _child(value, "head")
            if code == "TIME_ABSOLUTE" and head is not None:
                start = parse_ts(head.get("value"))
            continue
        try:
            lead = canonical_lead(code)
        except RecordError:
            skipped.append(code)
            continue
        origin_el = _child(value, "origin")
        origin = _quantity(origin_el, f"{lead} origin", path) if origin_el is not None else 0.0
        scale = _quantity(_child(value, "scale"), f"{lead} scale", path)
        digits_el = _child(value, "digits")
        text = digits_el.text if digits_el is not None else None
        if not text or not text.strip():
            raise CorruptFileError(f"{path.name!r}: lead {lead} has no digits (no samples).")
        digits = _digits(text, lead, path)
        n_values += digits.size
        check_samples(1, n_values, f"{path.name!r} (aECG digits, all leads)")
        rows.append(origin + scale * digits)
        leads.append(lead)
    if increment is None:
        raise CorruptFileError(
            f"{path.name!r}: the RHYTHM series has no TIME_ABSOLUTE/TIME_RELATIVE sequence with an "
            "increment, so the sampling rate is unknown."
        )
    if not increment > 0:
        raise CorruptFileError(f"{path.name!r}: time increment {increment!r} s must be positive.")
    if not rows:
        raise UnsupportedFormatError(f"{path.name!r}: the RHYTHM series has no ECG lead (codes {skipped}).")
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        detail = ", ".join(f"{n}: {len(r)}" for n, r in zip(leads, rows))
        raise CorruptFileError(f"{path.name!r}: the leads have different numbers of samples ({detail}).")
    if start is None:
        low = _child(series, "effectiveTime", "low")
        start = parse_ts(low.get("value")) if low is not None else None
    device = _first(series, "manufacturerModelName")
    maker = _child(_first(series, "manufacturerOrganization"), "name")
    extra: dict[str, Any] = {"rhythm_series": n_rhythm}
    if skipped:
        extra["skipped_sequences"] = skipped
    return ECGRecord(
        signal=np.vstack(rows).astype(np.float32),
        fs=round(1.0 / increment, 6),
        leads=tuple(leads),
        start_time=start,
        source=SourceInfo(
            format=FORMAT,
            path=str(path),
            manufacturer=(maker.text or "").strip() or None if maker is not None else None,
            device=(device.text or "").strip() or None if device is not None else None,
            extra=extra,
        ),
        patient=_patient(root, start),
    )
