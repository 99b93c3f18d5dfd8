"""SCP-ECG descriptive sections: section 1 (patient, acquisition and device tags) and the device's
own results, section 7 (global measurements) and section 8 (interpretation statements). Used by
:mod:`ecgpilot.io.scp`."""

from __future__ import annotations

import struct
from datetime import date, datetime
from typing import Any, Literal

from ecgpilot.io._patient import complete_patient
from ecgpilot.record import PatientInfo


_SEX: dict[int, Literal["M", "F", "U"]] = {1: "M", 2: "F", 0: "U", 9: "U"}


def _text(value: bytes) -> str | None:
    s = value.split(b"\x00", 1)[0].decode("latin-1")
    s = "".join(ch for ch in s if ch.isprintable()).strip()  # some writers leave control bytes
    return s or None


def _header(data: bytes) -> dict[int, bytes]:
    tags: dict[int, bytes] = {}
    off = 0
    while off + 3 <= len(data):
        tag, length = struct.unpack_from("<BH", data, off)
        off += 3
        if tag == 255:
            break
        tags.setdefault(tag, data[off: off + length])
        off += length
    return tags


# Section 1 unit codes (tags 4, 6, 7) -> factor to years / cm / kg; 0 = unspecified, taken as
# the usual unit.
_AGE_YEARS = {0: 1.0, 1: 1.0, 2: 1 / 12, 3: 7 / 365.25, 4: 1 / 365.25, 5: 1 / 8766}
_HEIGHT_CM = {0: 1.0, 1: 1.0, 2: 2.54, 3: 0.1}
_WEIGHT_KG = {0: 1.0, 1: 1.0, 2: 0.001, 3: 0.45359237, 4: 0.028349523}


def _quantity(raw: bytes | None, units: dict[int, float]) -> float | None:
    """A 16-bit value followed by a unit code; None when absent, zero or in an unknown unit."""
    if raw is None or len(raw) < 3:
        return None
    value, unit = struct.unpack_from("<HB", raw)
    return round(value * units[unit], 3) if value and unit in units else None


def _patient_and_device(tags: dict[int, bytes]) -> tuple[PatientInfo, datetime | None, dict[str, Any]]:
    birth = None
    if 5 in tags and len(tags[5]) >= 4:
        y, m, d = struct.unpack_from("<HBB", tags[5])
        if y and m and d:
            try:
                birth = date(y, m, d)
            except ValueError:
                birth = None
    age = _quantity(tags.get(4), _AGE_YEARS)
    sex = _SEX.get(tags[8][0]) if 8 in tags and tags[8] else None
    height = _quantity(tags.get(6), _HEIGHT_CM)
    weight = _quantity(tags.get(7), _WEIGHT_KG)
    patient = PatientInfo(
        patient_id=_text(tags[2]) if 2 in tags else None,
        family_name=_text(tags[0]) if 0 in tags else None,
        given_name=_text(tags[1]) if 1 in tags else None,
        birth_date=birth, sex=sex, age_years=age,
        height_cm=height, weight_kg=weight,
    )
    start = None
    acquired: date | None = None
    if 25 in tags and len(tags[25]) >= 4:
        y, m, d = struct.unpack_from("<HBB", tags[25])
        try:
            acquired = date(y, m, d)
        except ValueError:
            acquired = None
    if acquired is not None and 26 in tags and len(tags[26]) >= 3:
        hh, mm, ss = struct.unpack_from("<BBB", tags[26])
        try:
            start = datetime(acquired.year, acquired.month, acquired.day, hh, mm, ss)
        except ValueError:
            start = None
    patient = complete_patient(patient, acquired)  # tag 4 age, else from tag 5 birth date
    device: dict[str, Any] = {}
    if 14 in tags and len(tags[14]) >= 18:
        t = tags[14]
        device["model"] = _text(t[8:14])
        # After 35 fixed bytes: the analysing program revision (1 length byte + text), then
        # null-terminated strings: serial number, system software, SCP software, manufacturer.
        if len(t) > 35:
            n_rev = t[35]
            strings = [_text(x) for x in t[36 + n_rev:].split(b"\x00")]
            if len(strings) >= 4:
                device["serial"] = strings[0]
                device["manufacturer"] = strings[3]
    return patient, start, device


def global_measurements(data: bytes) -> dict[str, float]:
    """Section 7, first measurement block (the reference beat): intervals in ms, axes in degrees.

    Fiducials are stored in ms from the start of the reference beat; 29999 marks "not computed"
    and an axis of 999 "undetermined". PR, QRS and QT are differences of those fiducials.
    """
    if len(data) < 22:
        return {}
    rr, pp = struct.unpack_from("<HH", data, 2)
    p_on, p_off, q_on, q_off, t_off = struct.unpack_from("<5H", data, 6)
    axes = struct.unpack_from("<3h", data, 16)
    out: dict[str, float] = {}

    def ok(*v: int) -> bool:
        return all(0 <= x < 29999 for x in v)

    if ok(rr) and rr > 0:
        out["heart_rate_bpm"] = round(60000.0 / rr, 1)
        out["rr_ms"] = float(rr)
    if ok(pp) and pp > 0:
        out["atrial_rate_bpm"] = round(60000.0 / pp, 1)
    if ok(p_on, q_on) and q_on > p_on:
        out["pr_ms"] = float(q_on - p_on)
    if ok(q_on, q_off) and q_off > q_on:
        out["qrs_ms"] = float(q_off - q_on)
    if ok(q_on, t_off) and t_off > q_on:
        out["qt_ms"] = float(t_off - q_on)
    for key, value in zip(("p_axis_deg", "qrs_axis_deg", "t_axis_deg"), axes):
        if -180 <= value <= 360:
            out[key] = float(value)
    return out


def interpretation_statements(data: bytes) -> tuple[str, ...]:
    """Section 8: the device's interpretation statements, in their stored order.

    Layout: report type (1 byte), date (4), time (3), statement count (1), then per statement a
    sequence number (1), a byte length (2) and null-terminated text (lines may be split by CR/LF).
    """
    if len(data) < 9:
        return ()
    count, off, out = data[8], 9, []
    for _ in range(count):
        if off + 3 > len(data):
            break
        length = struct.unpack_from("<H", data, off + 1)[0]
        text = _text(data[off + 3: off + 3 + length].replace(b"\r", b" ").replace(b"\n", b" "))
        if text:
            out.append(" ".join(text.split()))
        off += 3 + length
    return tuple(out)
