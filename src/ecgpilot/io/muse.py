"""GE MUSE XML (``<RestingECG>``) reader.

A MUSE export holds the cart's 12SL measurements and statements and two
``Waveform`` blocks: ``Median`` (the representative beat) and ``Rhythm`` (the
10 s recording, read here). Each ``LeadData`` stores base64 little-endian int16
samples with ``LeadAmplitudeUnitsPerBit`` (typically 4.88 µV) and, in recent
versions, a ``LeadDataCRC32`` (CRC-32 of the decoded bytes) that is verified.
Only I, II and V1-V6 are stored; III, aVR, aVL and aVF are derived.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime
from pathlib import Path

import numpy as np
from lxml import etree

from ecgpilot.errors import CorruptFileError, RecordError
from ecgpilot.io._patient import complete_patient, sex_code
from ecgpilot.io._units import unit_factor
from ecgpilot.io._vendor_xml import decode_base64, parse_xml, to_float, xml_root_name
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "MEASUREMENT_KEYS"]

FORMAT = "muse"
DESCRIPTION = "GE MUSE XML export (<RestingECG>), rhythm waveform, 12SL measurements"

#: RestingECGMeasurements element -> key in ``SourceInfo.device_measurements``.
MEASUREMENT_KEYS: dict[str, str] = {
    "VentricularRate": "heart_rate_bpm",
    "AtrialRate": "atrial_rate_bpm",
    "PRInterval": "pr_ms",
    "QRSDuration": "qrs_ms",
    "QTInterval": "qt_ms",
    "QTCorrected": "qtc_ms",  # GE 12SL: Bazett
    "QTcFrederica": "qtc_fridericia_ms",
    "PAxis": "p_axis_deg",
    "RAxis": "qrs_axis_deg",
    "TAxis": "t_axis_deg",
    "QRSCount": "qrs_count",
    "POnset": "p_onset_sample",
    "POffset": "p_offset_sample",
    "QOnset": "q_onset_sample",
    "QOffset": "q_offset_sample",
    "TOffset": "t_offset_sample",
}

_AGE_UNIT_YEARS = {"YEARS": 1.0, "MONTHS": 1 / 12, "WEEKS": 7 / 365.25, "DAYS": 1 / 365.25, "HOURS": 1 / 8766}


def sniff(head: bytes, path: Path) -> bool:
    """True when the XML root element is ``RestingECG``."""
    return xml_root_name(head) == "RestingECG"


def _text(parent: etree._Element | None, tag: str) -> str | None:
    if parent is None:
        return None
    value = parent.findtext(tag)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _parse_date(text: str | None) -> date | None:
    """MUSE dates are ``MM-DD-YYYY`` (some exports use ``YYYY-MM-DD``)."""
    if not text:
        return None
    for fmt in ("%m-%d-%Y", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _start_time(test: etree._Element | None) -> datetime | None:
    day = _parse_date(_text(test, "AcquisitionDate"))
    if day is None:
        return None
    clock = _text(test, "AcquisitionTime") or "00:00:00"
    try:
        t = datetime.strptime(clock, "%H:%M:%S").time()
    except ValueError:
        return datetime.combine(day, datetime.min.time())
    return datetime.combine(day, t)


def _patient(demo: etree._Element | None, when: datetime | None) -> PatientInfo:
    """Gender, PatientAge in AgeUnits, else the age from DateofBirth on ``when`` (the acquisition)."""
    if demo is None:
        return PatientInfo()
    sex = sex_code(_text(demo, "Gender"))
    age = to_float(_text(demo, "PatientAge"))
    if age is not None:
        factor = _AGE_UNIT_YEARS.get((_text(demo, "AgeUnits") or "YEARS").upper())
        age = round(age * factor, 3) if factor is not None else None
    height = to_float(_text(demo, "HeightCM"))
    if height is None and (inches := to_float(_text(demo, "HeightIN"))) is not None:
        height = round(inches * 2.54, 1)
    weight = to_float(_text(demo, "WeightKG"))
    if weight is None and (pounds := to_float(_text(demo, "WeightLBS"))) is not None:
        weight = round(pounds * 0.45359237, 1)
    patient = PatientInfo(
        patient_id=_text(demo, "PatientID"),
        family_name=_text(demo, "PatientLastName"),
        given_name=_text(demo, "PatientFirstName"),
        birth_date=_parse_date(_text(demo, "DateofBirth")),
        sex=sex,
        age_years=age,
        height_cm=height,
        weight_kg=weight,
    )
    return complete_patient(patient, when)


def _measurements(root: etree._Element) -> dict[str, float]:
    block = root.find("RestingECGMeasurements")
    if block is None:
        block = root.find("OriginalRestingECGMeasurements")
    out: dict[str, float] = {}
    if block is None:
        return out
    for tag, key in MEASUREMENT_KEYS.items():
        value = to_float(_text(block, tag))
        if value is not None:
            out[key] = value
    base = to_float(_text(block, "ECGSampleBase"))
    if base is not None:
        exponent = to_float(_text(block, "ECGSampleExponent")) or 0.0
        out["measurement_sample_rate_hz"] = base * 10.0**exponent
    return out


def _statements(root: etree._Element) -> tuple[str, ...]:
    block = root.find("Diagnosis")
    if block is None:
        block = root.find("OriginalDiagnosis")
    if block is None:
        return ()
    texts = (s.findtext("StmtText") for s in block.findall("DiagnosisStatement"))
    return tuple(t.strip() for t in texts if t and t.strip())


def _rhythm_waveform(root: etree._Element, name: str) -> etree._Element:
    waveforms = root.findall("Waveform")
    for wf in waveforms:
        if (_text(wf, "WaveformType") or "").lower() == "rhythm":
            return wf
    kinds = [(_text(wf, "WaveformType") or "?") for wf in waveforms]
    raise CorruptFileError(
        f"{name!r}: no Rhythm <Waveform> in this MUSE file (found: {', '.join(kinds) or 'none'}). "
        "Export the ECG from MUSE with its rhythm (full disclosure) waveform."
    )


def _lead_samples(lead: etree._Element, index: int, name: str) -> tuple[str, np.ndarray]:
    lead_id = _text(lead, "LeadID")
    if lead_id is None:
        raise CorruptFileError(f"{name!r}: LeadData #{index + 1} of the Rhythm waveform has no LeadID.")
    what = f"{name!r}: WaveFormData of lead {lead_id}"
    raw = decode_base64(lead.findtext("WaveFormData"), what)
    crc = _text(lead, "LeadDataCRC32")
    if crc is not None and not crc.isdigit():
        raise CorruptFileError(f"{what}: LeadDataCRC32 {crc!r} is not a number.")
    if crc is not None and int(crc) != zlib.crc32(raw):
        raise CorruptFileError(
            f"{what} fails its CRC check (LeadDataCRC32 {crc}, computed {zlib.crc32(raw)}); "
            "the samples were altered or truncated."
        )
    size = int(to_float(_text(lead, "LeadSampleSize")) or 2)
    if size != 2:
        raise CorruptFileError(f"{what}: LeadSampleSize {size} is not supported (only 2-byte samples).")
    declared = to_float(_text(lead, "LeadByteCountTotal"))
    if declared is not None and int(declared) != len(raw):
        raise CorruptFileError(
            f"{what} decodes to {len(raw)} bytes but LeadByteCountTotal says {int(declared)}; "
            "the file is truncated or damaged."
        )
    if len(raw) % 2:
        raise CorruptFileError(f"{what} has an odd number of bytes ({len(raw)}); 16-bit samples expected.")
    per_bit = to_float(_text(lead, "LeadAmplitudeUnitsPerBit"))
    if per_bit is None or per_bit <= 0:
        raise CorruptFileError(f"{what}: LeadAmplitudeUnitsPerBit is missing or not positive.")
    units = (_text(lead, "LeadAmplitudeUnits") or "MICROVOLTS").upper()
    factor = unit_factor(units, where=what, what="amplitude unit")
    counts = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    return lead_id, counts * (per_bit * factor)


def read(path: Path) -> ECGRecord:
    """Read a GE MUSE XML file: the Rhythm waveform in µV, 12 leads (4 derived)."""
    path = Path(path)
    name = path.name
    root = parse_xml(path)
    if root.tag != "RestingECG":
        raise CorruptFileError(f"{name!r}: root element is <{root.tag}>, not <RestingECG> (GE MUSE).")
    wf = _rhythm_waveform(root, name)
    base = to_float(_text(wf, "SampleBase"))
    if base is None or base <= 0:
        raise CorruptFileError(f"{name!r}: the Rhythm waveform has no valid SampleBase (sampling rate).")
    exponent = to_float(_text(wf, "SampleExponent")) or 0.0
    if not -6 <= exponent <= 6:
        raise CorruptFileError(f"{name!r}: SampleExponent {exponent:g} is not a plausible power of ten for a "
                               "sampling rate (expected -6 to 6, usually 0).")
    fs = base * 10.0 ** exponent

    lead_blocks = wf.findall("LeadData")
    if not lead_blocks:
        raise CorruptFileError(f"{name!r}: the Rhythm waveform has no LeadData; no samples to read.")
    leads: list[str] = []
    rows: list[np.ndarray] = []
    for k, block in enumerate(lead_blocks):
        lead_id, values = _lead_samples(block, k, name)
        try:
            leads.append(canonical_lead(lead_id))
        except RecordError as exc:
            raise CorruptFileError(f"{name!r}: {exc}") from exc
        rows.append(values)
    n = min(r.size for r in rows)
    if n == 0:
        raise CorruptFileError(f"{name!r}: the Rhythm waveform leads hold no samples.")

    test = root.find("TestDemographics")
    extra: dict[str, object] = {
        "waveform": "Rhythm",
        "muse_version": _text(root.find("MuseInfo"), "MuseVersion"),
        "acquisition_software": _text(test, "AcquisitionSoftwareVersion"),
        "analysis_software": _text(test, "AnalysisSoftwareVersion"),
        "status": _text(test, "Status"),
        "lowpass_hz": to_float(_text(wf, "LowPassFilter")),
        # GE writes the high-pass corner in hundredths of a hertz (16 -> 0.16 Hz).
        "highpass_hz": (hp / 100.0) if (hp := to_float(_text(wf, "HighPassFilter"))) is not None else None,
        "ac_filter": _text(wf, "ACFilter"),
        "crc_checked": sum(1 for b in lead_blocks if _text(b, "LeadDataCRC32") is not None),
    }
    if len({r.size for r in rows}) > 1:
        extra["lead_lengths"] = {lead: int(r.size) for lead, r in zip(leads, rows)}
    source = SourceInfo(
        format=FORMAT,
        path=str(path),
        manufacturer="GE Healthcare",
        device=_text(test, "AcquisitionDevice"),
        description=DESCRIPTION,
        device_measurements=_measurements(root),
        device_statements=_statements(root),
        extra={k: v for k, v in extra.items() if v is not None},
    )
    start = _start_time(test)
    record = ECGRecord(
        signal=np.stack([r[:n] for r in rows]).astype(np.float32),
        fs=fs,
        leads=tuple(leads),
        start_time=start,
        source=source,
        patient=_patient(root.find("PatientDemographics"), start),
    )
    return record.with_derived_leads()
