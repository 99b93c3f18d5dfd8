"""EDF and EDF+ files (European Data Format), parsed here without a dependency.

Layout: a 256-byte ASCII header, then 256 bytes per signal (label, transducer,
physical dimension, physical min/max, digital min/max, prefiltering, samples per
data record), then data records of little-endian int16 samples, signal after
signal. A sample is ``(d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin`` in the
signal's physical dimension (uV, mV or V here, turned into µV).

Signals whose label is not an ECG lead (``EDF Annotations``, respiration...)
are skipped and listed in ``source.extra['skipped_signals']``; the ECG leads
must share one sampling rate.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import check_samples, read_bounded
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.io._patient import complete_patient, sex_code
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "parse_header", "EdfSignal", "UNIT_TO_UV"]

FORMAT = "edf"
DESCRIPTION = "EDF / EDF+ (European Data Format), 16-bit, ECG channels"

#: Physical dimensions accepted for ECG signals, with their factor to µV.

# Widths of the per-signal header fields, in the order they are stored.
_SIGNAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("label", 16), ("transducer", 80), ("dimension", 8), ("phys_min", 8), ("phys_max", 8),
    ("dig_min", 8), ("dig_max", 8), ("prefilter", 80), ("n_per_record", 8), ("reserved", 32),
)


#: One signal's header fields (label, dimension, phys_min...), as stripped strings.
EdfSignal = dict[str, str]


def sniff(head: bytes, path: Path) -> bool:
    """EDF version field ``'0       '`` then an ASCII header with a sane size (or BDF)."""
    if head[:8] == b"\xffBIOSEMI":
        return True
    if head[:8] != b"0       " or len(head) < 256:
        return False
    try:
        fixed = head[:256].decode("ascii")
        header_bytes = int(fixed[184:192])
        n_signals = int(fixed[252:256])
    except (UnicodeDecodeError, ValueError):
        return False
    return n_signals > 0 and header_bytes == 256 * (n_signals + 1)


def _fail(path: Path, why: str) -> CorruptFileError:
    return CorruptFileError(f"{path.name!r} is not a readable EDF file: {why}")


def _number(text: str, what: str, path: Path) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, f"{what} is {text!r}, not a number.") from None
    if not np.isfinite(value):
        raise _fail(path, f"{what} is {text!r}, not a finite number.")
    return value


def parse_header(buf: bytes, path: Path) -> tuple[dict[str, Any], list[EdfSignal]]:
    """The main header fields and the list of signal headers of an EDF file."""
    if len(buf) < 256:
        raise _fail(path, f"the file holds {len(buf)} bytes, less than the 256-byte header.")
    try:
        fixed = buf[:256].decode("ascii")
    except UnicodeDecodeError:
        raise _fail(path, "the 256-byte header is not ASCII text.") from None
    main: dict[str, Any] = {
        "version": fixed[0:8].strip(),
        "patient": fixed[8:88].strip(),
        "recording": fixed[88:168].strip(),
        "start_date": fixed[168:176].strip(),
        "start_time": fixed[176:184].strip(),
        "header_bytes": int(_number(fixed[184:192], "the header size", path)),
        "reserved": fixed[192:236].strip(),
        "n_records": int(_number(fixed[236:244], "the number of data records", path)),
        "record_seconds": _number(fixed[244:252], "the data record duration", path),
        "n_signals": int(_number(fixed[252:256], "the number of signals", path)),
    }
    ns = main["n_signals"]
    if ns <= 0 or main["header_bytes"] != 256 * (ns + 1):
        raise _fail(
            path, f"header size {main['header_bytes']} does not match {ns} signals "
            f"(expected 256 x (signals + 1) = {256 * (ns + 1)})."
        )
    if len(buf) < main["header_bytes"]:
        raise _fail(path, f"the signal headers are cut ({len(buf)} of {main['header_bytes']} bytes).")
    try:
        text = buf[256 : main["header_bytes"]].decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise _fail(path, "the signal headers are not text.") from None
    signals: list[EdfSignal] = [{} for _ in range(ns)]
    offset = 0
    for name, width in _SIGNAL_FIELDS:
        for i in range(ns):
            signals[i][name] = text[offset + i * width : offset + (i + 1) * width].strip()
        offset += width * ns
    return main, signals


def _start_time(main: dict[str, Any]) -> datetime | None:
    """Start date/time; EDF+ ``Startdate dd-MMM-yyyy`` gives the 4-digit year."""
    m = re.match(r"(\d\d)\.(\d\d)\.(\d\d)$", main["start_date"])
    t = re.match(r"(\d\d)\.(\d\d)\.(\d\d)$", main["start_time"])
    if m is None or t is None:
        return None
    day, month, yy = (int(x) for x in m.groups())
    hh, mi, ss = (int(x) for x in t.groups())
    year = 1900 + yy if yy >= 85 else 2000 + yy
    plus = re.match(r"Startdate\s+(\d\d-[A-Za-z]{3}-\d{4})", main["recording"])
    if plus:
        try:
            year = datetime.strptime(plus.group(1).title(), "%d-%b-%Y").year
        except ValueError:
            pass
    try:
        return datetime(year, month, day, hh, mi, ss)
    except ValueError:
        return None


#: The EDF+ patient field ``code sex birthdate name``, also written by many plain-EDF writers.
_EDFPLUS_PATIENT = re.compile(r"^\S+ [MFX] (\d{2}-[A-Za-z]{3}-\d{4}|X)( |$)")


def _patient(main: dict[str, Any], when: datetime | None) -> PatientInfo:
    """EDF+ patient field: ``code sex birthdate name`` (``X`` = unknown), e.g.
    ``MCH-0234567 F 02-MAY-1951 Haagse_Harry``; the age is computed from the birth date on
    ``when`` (the start). A plain-EDF file is read so only when its field has exactly that shape."""
    if not main["reserved"].startswith("EDF+") and not _EDFPLUS_PATIENT.match(main["patient"]):
        return PatientInfo()
    parts = main["patient"].split()
    get = lambda i: parts[i] if len(parts) > i and parts[i] != "X" else None  # noqa: E731
    sex = sex_code(parts[1]) if len(parts) > 1 else None
    birth: date | None = None
    if get(2):
        try:
            birth = datetime.strptime(get(2).title(), "%d-%b-%Y").date()  # type: ignore[union-attr]
        except ValueError:
            birth = None
    name = get(3)
    family, given = (name.replace("_", " ").split(",", 1) + [None])[:2] if name else (None, None)
    patient = PatientInfo(
        patient_id=get(0),
        sex=sex,
        birth_date=birth,
        family_name=family,
        given_name=given,
    )
    return complete_patient(patient, when)


def _lead_name(label: str) -> str:
    """Canonical lead of an EDF label such as ``'ECG I'`` or ``'EKG V1'``."""
    s = re.sub(r"^(ECG|EKG)[\s_\-]+", "", label.strip(), flags=re.IGNORECASE)
    return canonical_lead(s or label)


def read(path: Path) -> ECGRecord:
    """Read the ECG signals of an EDF/EDF+ file (16-bit samples) in µV."""
    path = Path(path)
    buf = read_bounded(path)
    if buf[:8] == b"\xffBIOSEMI":
        raise UnsupportedFormatError(
            f"{path.name!r} is a BDF (24-bit BioSemi) file; only 16-bit EDF/EDF+ is supported. "
            "Convert it to EDF first."
        )
    main, signals = parse_header(buf, path)
    if main["reserved"].startswith("EDF+D"):
        raise UnsupportedFormatError(
            f"{path.name!r} is a discontinuous EDF+ file (EDF+D); only continuous "
            "recordings (EDF or EDF+C) are supported."
        )
    per_record = []
    for i, s in enumerate(signals):
        n = _number(s["n_per_record"], f"samples per record of signal {i + 1}", path)
        if n <= 0 or n != int(n):
            raise _fail(path, f"signal {s['label']!r} has {s['n_per_record']!r} samples per record.")
        per_record.append(int(n))
    record_len = sum(per_record)
    data = buf[main["header_bytes"] :]
    n_records = main["n_records"]
    have = len(data) // (2 * record_len)
    if n_records == -1:  # allowed while recording: count them from the size
        n_records = have
    if n_records <= 0:
        raise _fail(path, "the file declares no data record.")
    if len(data) < 2 * record_len * n_records:
        raise _fail(
            path, f"the header declares {n_records} data records of {2 * record_len} bytes but "
            f"only {len(data)} bytes follow: the file is truncated."
        )
    seconds = main["record_seconds"]
    if not seconds > 0:
        raise _fail(path, f"the data record duration is {seconds!r} s; it must be positive.")

    check_samples(len(signals), n_records * record_len // len(signals), f"{path.name!r} (EDF data records)")
    raw = np.frombuffer(data, dtype="<i2", count=record_len * n_records).reshape(n_records, record_len)
    starts = np.concatenate([[0], np.cumsum(per_record)])
    rows: list[np.ndarray] = []
    names: list[str] = []
    rates: list[float] = []
    skipped: list[str] = []
    for i, s in enumerate(signals):
        label = s["label"]
        if label.lower().startswith("edf annotations"):
            skipped.append(label)
            continue
        try:
            lead = _lead_name(label)
        except RecordError:
            skipped.append(label)
            continue
        to_uv = unit_factor(s["dimension"], where=f"{path.name!r}: signal {label!r}", what="physical dimension")
        pmin = _number(s["phys_min"], f"physical minimum of {label!r}", path)
        pmax = _number(s["phys_max"], f"physical maximum of {label!r}", path)
        dmin = _number(s["dig_min"], f"digital minimum of {label!r}", path)
        dmax = _number(s["dig_max"], f"digital maximum of {label!r}", path)
        if dmax <= dmin or pmax == pmin:
            raise _fail(
                path, f"signal {label!r} has digital range {dmin:g}..{dmax:g} and physical range "
                f"{pmin:g}..{pmax:g}; both must be non-empty."
            )
        counts = raw[:, starts[i] : starts[i + 1]].reshape(-1).astype(np.float64)
        outside = int(np.count_nonzero((counts < dmin) | (counts > dmax)))
        if outside:
            raise _fail(
                path, f"{outside} samples of {label!r} lie outside its declared digital range "
                f"{dmin:g}..{dmax:g}: the header and the data disagree."
            )
        gain = (pmax - pmin) / (dmax - dmin)
        rows.append(((counts - dmin) * gain + pmin) * to_uv)
        names.append(lead)
        rates.append(per_record[i] / seconds)
    if not rows:
        raise UnsupportedFormatError(
            f"{path.name!r} has no ECG signal among {[s['label'] for s in signals]}; "
            "labels such as 'ECG I', 'II' or 'V1' are expected."
        )
    if len(set(rates)) > 1:
        detail = ", ".join(f"{n} {r:g} Hz" for n, r in zip(names, rates))
        raise UnsupportedFormatError(
            f"{path.name!r}: the ECG signals have different sampling rates ({detail}); "
            "resample them to one rate before reading."
        )
    extra: dict[str, Any] = {
        "edf_version": main["reserved"][:5] or "EDF",
        "patient_field": main["patient"],
        "recording_field": main["recording"],
    }
    if skipped:
        extra["skipped_signals"] = skipped
    start = _start_time(main)
    return ECGRecord(
        signal=np.vstack(rows).astype(np.float32),
        fs=rates[0],
        leads=tuple(names),
        start_time=start,
        source=SourceInfo(format=FORMAT, path=str(path), description=main["recording"] or None, extra=extra),
        patient=_patient(main, start),
    )
