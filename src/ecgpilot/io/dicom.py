"""DICOM waveform ECG (12-lead, general and ambulatory ECG storage), via pydicom.

The rhythm multiplex group is read (``WaveformOriginality`` ORIGINAL, label
RHYTHM), never the DERIVED median beats. Each channel's lead comes from the code
meaning (or code value) of its ``ChannelSourceSequence``. pydicom's
``waveform_array`` gives ``raw * ChannelSensitivity * CorrectionFactor + ChannelBaseline``
in the units of ``ChannelSensitivityUnitsSequence`` (uV, mV, V), turned into µV here.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import CorruptFileError, ECGPilotError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import check_samples, read_bounded
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.io._patient import complete_patient, sex_code
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "channel_lead", "UNIT_TO_UV"]

FORMAT = "dicom"
DESCRIPTION = "DICOM waveform ECG (12-lead / general ECG storage), rhythm multiplex group"

#: UCUM sensitivity units accepted, with their factor to µV.

#: Lead term codes shared by SCP-ECG (``5.6.3-9-<n>``) and MDC (``2:<n>``, decimal
#: ``131072 + n``) for the 12 leads (DICOM CID 3001).
_SCP_CODES: dict[str, str] = {
    "1": "I", "2": "II", "3": "V1", "4": "V2", "5": "V3", "6": "V4", "7": "V5", "8": "V6",
    "61": "III", "62": "aVR", "63": "aVL", "64": "aVF",
}


#: Attributes of a waveform multiplex group without which its samples cannot be decoded.
_REQUIRED_GROUP_ATTRIBUTES: tuple[str, ...] = (
    "NumberOfWaveformChannels", "NumberOfWaveformSamples", "SamplingFrequency",
    "WaveformBitsAllocated", "WaveformSampleInterpretation", "WaveformData",
    "ChannelDefinitionSequence",
)


def sniff(head: bytes, path: Path) -> bool:
    """The ``DICM`` magic at offset 128 (Part 10 file)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def channel_lead(channel: Any) -> str:
    """Canonical lead name of a DICOM channel definition item."""
    src = channel.ChannelSourceSequence[0]
    meaning = str(getattr(src, "CodeMeaning", "") or "")
    text = re.sub(r"\s*\(.*?\)\s*", "", meaning).strip()  # 'Lead I (Einthoven)' -> 'Lead I'
    try:
        return canonical_lead(text)
    except RecordError:
        value = str(getattr(src, "CodeValue", "") or "").strip()
        m = re.fullmatch(r"(?:5\.6\.3-9-|2:)(\d+)", value)  # SCPECG legacy or MDC 2:N
        term = m.group(1) if m else (str(int(value) - 131072) if value.isdigit() else "")
        if term in _SCP_CODES:
            return _SCP_CODES[term]
        raise


def _date(text: Any) -> date | None:
    try:
        return datetime.strptime(str(text), "%Y%m%d").date() if text else None
    except ValueError:
        return None


def _start_time(ds: Any) -> datetime | None:
    """AcquisitionDateTime, else AcquisitionDate/ContentDate + time."""
    dt = str(ds.get("AcquisitionDateTime", "") or "")
    candidates = [dt] if dt else []
    for d, t in (("AcquisitionDate", "AcquisitionTime"), ("ContentDate", "ContentTime")):
        if ds.get(d):
            candidates.append(str(ds.get(d)) + str(ds.get(t, "") or ""))
    for text in candidates:
        text = re.split(r"[+-]", text.split(".")[0])[0]  # drop fraction and UTC offset
        for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    return None


def _patient(ds: Any, when: datetime | None) -> PatientInfo:
    """PatientSex, PatientAge (``054Y``, ``006M``...), else the age from PatientBirthDate on ``when``
    (the acquisition, else the study date)."""
    name = ds.get("PatientName")
    family = given = None
    if name:
        family = str(name.family_name or "") or None
        given = str(name.given_name or "") or None
    age = None
    m = re.fullmatch(r"(\d{3})([DWMY])", str(ds.get("PatientAge", "") or "").strip().upper())
    if m:
        age = round(int(m.group(1)) / {"D": 365.25, "W": 52.1775, "M": 12.0, "Y": 1.0}[m.group(2)], 3)

    def number(tag: str) -> float | None:
        v = ds.get(tag)
        try:
            return float(v) if v not in (None, "") else None
        except (TypeError, ValueError):
            return None

    size = number("PatientSize")  # metres
    patient = PatientInfo(
        patient_id=str(ds.get("PatientID", "") or "") or None,
        family_name=family,
        given_name=given,
        birth_date=_date(ds.get("PatientBirthDate")),
        sex=sex_code(str(ds.get("PatientSex", "") or "")),
        age_years=age,
        height_cm=size * 100 if size else None,
        weight_kg=number("PatientWeight"),
    )
    return complete_patient(patient, when or _date(ds.get("StudyDate")))


def _rhythm_index(ds: Any, path: Path) -> int:
    groups = list(ds.WaveformSequence)
    labels = [str(g.get("MultiplexGroupLabel", "") or "").upper() for g in groups]
    origin = [str(g.get("WaveformOriginality", "") or "").upper() for g in groups]
    for i in range(len(groups)):
        if "RHYTHM" in labels[i] and origin[i] != "DERIVED":
            return i
    for i in range(len(groups)):
        if origin[i] == "ORIGINAL":
            return i
    raise UnsupportedFormatError(
        f"{path.name!r}: no rhythm waveform among the multiplex groups {labels}; "
        "only median beats (DERIVED) are present, which ecgpilot does not analyse."
    )


def read(path: Path) -> ECGRecord:
    """Read the rhythm waveform of a DICOM ECG file, in µV.

    The file is read into memory (within :data:`~ecgpilot.io._limits.MAX_FILE_BYTES`) and parsed
    from there, so a damaged 32-bit length asks for at most what the file holds. pydicom parses
    lazily: any of its exceptions (unknown VR, value length, a missing attribute of a damaged
    item...) while the waveform is decoded becomes a :class:`CorruptFileError`.
    """
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        return _read(path)
    except (ECGPilotError, MemoryError):
        raise
    except InvalidDicomError as exc:
        raise CorruptFileError(f"{path.name!r} is not a valid DICOM file: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises NotImplementedError, BytesLengthException...
        raise CorruptFileError(
            f"{path.name!r}: the DICOM file is truncated or malformed ({type(exc).__name__}: {str(exc)[:200]})."
        ) from exc


def _read(path: Path) -> ECGRecord:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(read_bounded(path)))
    if "WaveformSequence" not in ds:
        modality = ds.get("Modality", "?")
        raise UnsupportedFormatError(
            f"{path.name!r} is a DICOM file without waveform (Modality {modality!r}); "
            "only DICOM ECG waveform objects are supported."
        )
    index = _rhythm_index(ds, path)
    group = ds.WaveformSequence[index]
    missing = [kw for kw in _REQUIRED_GROUP_ATTRIBUTES if kw not in group]
    if missing:
        raise CorruptFileError(
            f"{path.name!r}: the rhythm waveform group lacks the required attribute(s) "
            f"{', '.join(missing)}; the file is incomplete or not a conformant DICOM ECG."
        )
    n_channels = int(group.NumberOfWaveformChannels)
    n_samples = int(group.NumberOfWaveformSamples)
    bits = int(group.WaveformBitsAllocated)
    interp = str(group.WaveformSampleInterpretation)
    if (bits, interp) not in ((16, "SS"), (16, "US"), (32, "SL"), (32, "UL"), (8, "SB"), (8, "UB")):
        raise UnsupportedFormatError(
            f"{path.name!r}: waveform samples of {bits} bits '{interp}' are not supported "
            "(supported: 8/16/32-bit signed or unsigned integers)."
        )
    check_samples(n_channels, n_samples, f"{path.name!r} (DICOM rhythm waveform)")
    raw_bytes = group.WaveformData
    need = n_channels * n_samples * bits // 8
    if len(raw_bytes) < need:
        raise CorruptFileError(
            f"{path.name!r}: the rhythm waveform holds {len(raw_bytes)} bytes but declares "
            f"{n_channels} channels x {n_samples} samples of {bits} bits ({need} bytes): truncated."
        )
    try:
        scaled = np.asarray(ds.waveform_array(index), dtype=np.float64).T  # sensitivity units
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise CorruptFileError(f"{path.name!r}: the waveform could not be decoded: {exc}") from exc
    if scaled.shape != (n_channels, n_samples):
        raise CorruptFileError(
            f"{path.name!r}: decoded waveform shape {scaled.shape}, expected ({n_channels}, {n_samples})."
        )

    n_defs = len(group.ChannelDefinitionSequence)
    if n_defs != n_channels:
        raise CorruptFileError(
            f"{path.name!r}: the rhythm waveform declares {n_channels} channels but defines {n_defs} "
            "(ChannelDefinitionSequence); the leads cannot be matched to the samples."
        )
    leads: list[str] = []
    rows: list[np.ndarray] = []
    skipped: list[str] = []
    for c, ch in enumerate(group.ChannelDefinitionSequence):
        try:
            lead = channel_lead(ch)
        except (RecordError, AttributeError, IndexError):
            sources = ch.get("ChannelSourceSequence") or [{}]
            skipped.append(str(sources[0].get("CodeMeaning", f"channel {c + 1}")))
            continue
        if "ChannelSensitivity" not in ch:
            raise CorruptFileError(
                f"{path.name!r}: channel {lead} has no ChannelSensitivity, so its samples cannot "
                "be turned into volts; ecgpilot does not guess the scale."
            )
        try:
            sens = float(ch.ChannelSensitivity) * float(ch.get("ChannelSensitivityCorrectionFactor", 1) or 1)
        except (TypeError, ValueError):
            sens = float("nan")
        if not np.isfinite(sens) or sens == 0:
            raise CorruptFileError(
                f"{path.name!r}: channel {lead} has ChannelSensitivity {ch.ChannelSensitivity!r} (times its "
                "correction factor): a scale must be a non-zero number, so its samples cannot be turned into volts."
            )
        unit = "uv"
        if "ChannelSensitivityUnitsSequence" in ch:
            items = ch.ChannelSensitivityUnitsSequence
            unit = str(getattr(items[0], "CodeValue", "") or "").strip().lower() if len(items) else ""
        rows.append(scaled[c] * unit_factor(unit, where=f"{path.name!r}: channel {lead}", what="sensitivity unit"))
        leads.append(lead)
    if not rows:
        raise UnsupportedFormatError(f"{path.name!r}: no ECG lead among the waveform channels {skipped}.")
    extra: dict[str, Any] = {
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "multiplex_group": str(group.get("MultiplexGroupLabel", "")),
    }
    if skipped:
        extra["skipped_channels"] = skipped
    start = _start_time(ds)
    return ECGRecord(
        signal=np.vstack(rows).astype(np.float32),
        fs=float(group.SamplingFrequency),
        leads=tuple(leads),
        start_time=start,
        source=SourceInfo(
            format=FORMAT,
            path=str(path),
            manufacturer=str(ds.get("Manufacturer", "") or "") or None,
            device=str(ds.get("ManufacturerModelName", "") or "") or None,
            description=str(ds.get("StudyDescription", "") or "") or None,
            extra=extra,
        ),
        patient=_patient(ds, start),
    )
