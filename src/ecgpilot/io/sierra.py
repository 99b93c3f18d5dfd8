"""Philips Sierra ECG XML (``<restingecgdata>``, versions 1.03, 1.04, 1.04.01) reader.

The 12 leads are in ``waveforms/parsedwaveforms`` as base64, either raw
little-endian int16 (lead after lead) or XLI-compressed (see
:mod:`ecgpilot.io._xli`). In XLI data, III, aVR, aVL and aVF are stored as
residuals against their value computed from I and II; :func:`restore_limb_leads`
rebuilds them. Amplitudes are ``resolution`` µV per count. The files may be
UTF-8 or UTF-16. The stored 11 s end with a calibration segment (zeros and a
1 mV pulse, identical in all leads), which is cut off and reported in
``source.extra['calibration_pulse_uv']``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
from lxml import etree
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import check_samples
from ecgpilot.io._patient import complete_patient, sex_code
from ecgpilot.io._vendor_xml import (
    decode_base64,
    local_name,
    parse_xml,
    to_float,
    xml_root_name,
)
from ecgpilot.io._xli import decode_xli
from ecgpilot.leads import STANDARD_12, canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

__all__ = [
    "FORMAT",
    "DESCRIPTION",
    "sniff",
    "read",
    "restore_limb_leads",
    "trailing_calibration",
    "MEASUREMENT_KEYS",
]

FORMAT = "sierra"
DESCRIPTION = "Philips Sierra ECG XML (<restingecgdata> 1.03/1.04), XLI or raw waveforms"

#: device_measurements key -> Philips element names, first found wins
#: (1.04 ``interpretation/globalmeasurements`` names, then 1.03 / internal ones).
MEASUREMENT_KEYS: dict[str, tuple[str, ...]] = {
    "heart_rate_bpm": ("heartrate", "meanventrate"),
    "rr_ms": ("rrint",),
    "atrial_rate_bpm": ("atrialrate",),
    "p_ms": ("pdur",),
    "pr_ms": ("print", "meanprint"),
    "qrs_ms": ("qrsdur", "meanqrsdur"),
    "qt_ms": ("qtint", "meanqtint"),
    "qtc_ms": ("qtcb", "meanqtc"),  # Philips: Bazett
    "qtc_fridericia_ms": ("qtcf",),
    "p_axis_deg": ("pfrontaxis",),
    "qrs_axis_deg": ("qrsfrontaxis",),
    "t_axis_deg": ("tfrontaxis",),
}

_STANDARD_ACQUISITIONS = ("STD-12", "10-WIRE", "12-LEAD")
_MISSING = ("", "---", "Failed", "Indeterminate")


def sniff(head: bytes, path: Path) -> bool:
    """True when the XML root element is ``restingecgdata`` (UTF-8 or UTF-16)."""
    return xml_root_name(head) == "restingecgdata"


def restore_limb_leads(leads: dict[str, NDArray[np.int64]]) -> dict[str, NDArray[np.int64]]:
    """Rebuild III, aVR, aVL, aVF (integer counts) from XLI residuals.

    XLI stores ``r = (value computed from I and II) - value`` for these leads:
    ``III = II - I - r``, then ``aVR = -half(I + II) - r``,
    ``aVL = half(I - III) - r`` and ``aVF = half(II + III) - r``, where ``half``
    is integer division by 2 rounding toward zero (C semantics: it matches the
    Philips-converted reference better than rounding down).
    Returns a new dict; the other leads are passed through.
    """
    out = dict(leads)
    i, ii = leads["I"], leads["II"]
    iii = ii - i - leads["III"]
    out["III"] = iii
    out["aVR"] = -_half(i + ii) - leads["aVR"]
    out["aVL"] = _half(i - iii) - leads["aVL"]
    out["aVF"] = _half(ii + iii) - leads["aVF"]
    return out


def _half(x: NDArray[np.int64]) -> NDArray[np.int64]:
    """Integer ``x / 2`` rounded toward zero."""
    return np.sign(x) * (np.abs(x) // 2)


def trailing_calibration(counts: NDArray[np.int64], min_samples: int = 50) -> int:
    """Index where the trailing calibration segment starts (``counts.shape[1]`` if none).

    Philips carts append, after the ECG, a stretch where every lead holds the same
    value: zeros around a 1 mV square calibration pulse. That stretch is the
    longest trailing run of samples identical across all leads, kept only when it
    is at least ``min_samples`` long and contains a non-zero pulse.
    """
    same = np.ptp(counts, axis=0) == 0
    differing = np.flatnonzero(~same)
    start = int(differing[-1]) + 1 if differing.size else 0
    tail = counts[0, start:]
    if tail.size < min_samples or not np.any(tail != 0):
        return int(counts.shape[1])
    return start


def _strip_namespaces(root: etree._Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = local_name(el)


def _text(parent: etree._Element | None, path: str) -> str | None:
    if parent is None:
        return None
    value = parent.findtext(path)
    if value is None or value.strip() in _MISSING:
        return None
    return value.strip()


def _datetime(el: etree._Element | None) -> datetime | None:
    if el is None or not el.get("date"):
        return None
    stamp = f"{el.get('date')} {el.get('time') or '00:00:00'}"
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _patient(root: etree._Element, when: datetime | None) -> PatientInfo:
    """age/years (or age/months), else the age from age/dateofbirth on ``when`` (the acquisition).

    The ``defaultage`` attribute is the cart's assumed age for its criteria when none was
    entered, not the patient's: it is ignored.
    """
    gp = root.find("patient/generalpatientdata")
    if gp is None:
        return PatientInfo()
    birth: date | None = None
    if (dob := _text(gp, "age/dateofbirth")) is not None:
        try:
            birth = datetime.strptime(dob, "%Y-%m-%d").date()
        except ValueError:
            birth = None
    age = to_float(_text(gp, "age/years"))
    if age is None and (months := to_float(_text(gp, "age/months"))) is not None:
        age = round(months / 12, 3)
    height = to_float(_text(gp, "height/cm"))
    if height is None and (inches := to_float(_text(gp, "height/inch"))) is not None:
        height = round(inches * 2.54, 1)
    weight = to_float(_text(gp, "weight/kg"))
    if weight is None and (pounds := to_float(_text(gp, "weight/lb"))) is not None:
        weight = round(pounds * 0.45359237, 1)
    patient = PatientInfo(
        patient_id=_text(gp, "patientid"),
        family_name=_text(gp, "name/lastname"),
        given_name=_text(gp, "name/firstname"),
        birth_date=birth,
        sex=sex_code(_text(gp, "sex")),
        age_years=age,
        height_cm=height,
        weight_kg=weight,
    )
    return complete_patient(patient, when)


def _measurements(root: etree._Element) -> dict[str, float]:
    blocks = [
        root.find("interpretations/interpretation/globalmeasurements"),  # 1.04
        root.find("interpretations/interpretation/interpretationmeasurements"),  # 1.03
        root.find("measurements/globalmeasurements"),  # 1.03
        root.find("internalmeasurements/crossleadmeasurements"),  # 1.04
    ]
    out: dict[str, float] = {}
    for key, names in MEASUREMENT_KEYS.items():
        for block in blocks:
            if block is None:
                continue
            values = [to_float(_text(block, n)) for n in names]
            found = next((v for v in values if v is not None), None)
            if found is not None:
                out[key] = found
                break
    return out


def _statements(root: etree._Element) -> tuple[str, ...]:
    interp = root.find("interpretations/interpretation")
    if interp is None:
        return ()
    out: list[str] = []
    for st in interp.findall("statement"):
        left, right = _text(st, "leftstatement"), _text(st, "rightstatement")
        if left:
            out.append(f"{left} ({right})" if right else left)
    severity = _text(interp, "severity")
    if severity:
        out.append(severity.strip(" -"))
    return tuple(out)


def _lead_labels(pw: etree._Element, signal: etree._Element | None, name: str) -> list[str]:
    labels = (pw.get("leadlabels") or "").split()
    count = to_float(pw.get("numberofleads")) or to_float(_text(signal, "numberchannelsallocated"))
    if labels:
        return labels[: int(count)] if count else labels
    acquisition = (_text(signal, "acquisitiontype") or _text(signal, "leadset") or "").upper()
    if acquisition in _STANDARD_ACQUISITIONS and (count is None or int(count) == 12):
        return list(STANDARD_12)
    raise CorruptFileError(
        f"{name!r}: parsedwaveforms has no leadlabels and the lead set {acquisition or 'is missing'} "
        f"with {count} channels is not the standard 12-lead order; cannot name the leads."
    )


def _compression(pw: etree._Element) -> str:
    method = pw.get("compression") or pw.get("compressmethod")
    if method is None:
        flag = (pw.get("compressflag") or "False").strip().lower()
        return "XLI" if flag == "true" else "Uncompressed"
    return method.strip()


def read(path: Path) -> ECGRecord:
    """Read a Philips Sierra ECG XML file into an :class:`ECGRecord` in µV (12 leads)."""
    path = Path(path)
    name = path.name
    root = parse_xml(path)
    _strip_namespaces(root)
    if root.tag != "restingecgdata":
        raise CorruptFileError(f"{name!r}: root element is <{root.tag}>, not <restingecgdata> (Philips).")
    version = _text(root, "documentinfo/documentversion")
    acq = root.find("dataacquisition")
    signal = root.find("dataacquisition/signalcharacteristics")
    pw = root.find("waveforms/parsedwaveforms")
    if pw is None:
        raise CorruptFileError(
            f"{name!r}: no waveforms/parsedwaveforms element; the file holds no rhythm waveform."
        )

    fs = to_float(pw.get("samplespersecond")) or to_float(_text(signal, "samplingrate"))
    if fs is None or fs <= 0:
        raise CorruptFileError(f"{name!r}: sampling rate missing (samplingrate / samplespersecond).")
    resolution = (
        to_float(pw.get("resolution"))
        or to_float(_text(signal, "resolution"))
        or to_float(_text(signal, "signalresolution"))
    )
    if resolution is None or resolution <= 0:
        raise CorruptFileError(f"{name!r}: amplitude resolution (µV per count) missing or not positive.")
    offset = to_float(pw.get("signaloffset")) or to_float(_text(signal, "signaloffset")) or 0.0
    duration_ms = to_float(pw.get("durationperchannel"))
    if duration_ms is None or duration_ms <= 0:
        raise CorruptFileError(f"{name!r}: parsedwaveforms has no valid durationperchannel.")
    if not np.isfinite(duration_ms * fs):
        raise CorruptFileError(f"{name!r}: durationperchannel {duration_ms:g} ms x {fs:g} Hz is not a finite "
                               "number of samples.")
    n_samples = int(round(duration_ms * fs / 1000.0))
    labels = _lead_labels(pw, signal, name)

    encoding = (pw.get("dataencoding") or "Base64").strip()
    if encoding.lower() != "base64":
        raise UnsupportedFormatError(
            f"{name!r}: waveform data encoding {encoding!r} is not supported; only Base64 is."
        )
    payload = decode_base64(pw.text, f"{name!r}: parsedwaveforms")
    method = _compression(pw)
    check_samples(len(labels), n_samples, f"{name!r} (durationperchannel x samplespersecond)")
    if method.upper() == "XLI":
        try:
            chunks = decode_xli(payload, n_samples, max_leads=len(labels))
        except CorruptFileError as exc:
            raise CorruptFileError(f"{name!r}: {exc}") from exc
        if len(chunks) < len(labels):
            raise CorruptFileError(
                f"{name!r}: XLI waveform holds {len(chunks)} leads, {len(labels)} expected; truncated."
            )
        counts = dict(zip(labels, chunks))
        if all(k in counts for k in STANDARD_12[:6]):
            counts = restore_limb_leads(counts)
    elif method.lower() in ("uncompressed", "none", "false"):
        need = 2 * n_samples * len(labels)
        if len(payload) < need:
            raise CorruptFileError(
                f"{name!r}: uncompressed waveform has {len(payload)} bytes, {need} needed for "
                f"{len(labels)} leads x {n_samples} samples; truncated."
            )
        flat = np.frombuffer(payload, dtype="<i2", count=n_samples * len(labels)).astype(np.int64)
        counts = {lab: flat[k * n_samples : (k + 1) * n_samples] for k, lab in enumerate(labels)}
    else:
        raise UnsupportedFormatError(
            f"{name!r}: waveform compression {method!r} is not supported; accepted: XLI, uncompressed."
        )

    try:
        lead_names = tuple(canonical_lead(lab) for lab in labels)
    except RecordError as exc:
        raise CorruptFileError(f"{name!r}: {exc}") from exc
    stacked = np.stack([counts[lab] for lab in labels])
    n_ecg = trailing_calibration(stacked)
    if n_ecg == 0:
        raise CorruptFileError(f"{name!r}: every lead holds the same values: no ECG signal in the file.")
    calibration_uv = float(np.max(np.abs(stacked[0, n_ecg:])) * resolution) if n_ecg < n_samples else None
    signal_uv = (stacked[:, :n_ecg].astype(np.float64) - offset) * resolution

    machine = acq.find("machine") if acq is not None else None
    device = _text(acq, "machine")
    detail = machine.get("detaildescription") if machine is not None else None
    extra: dict[str, object] = {
        "document_version": version,
        "document_type": _text(root, "documentinfo/documenttype"),
        "compression": method,
        "resolution_uv": resolution,
        "device_detail": detail or None,
        "machine_id": machine.get("machineid") if machine is not None else None,
        "highpass_hz": to_float(pw.get("hipass")) or to_float(_text(signal, "hipass")),
        "lowpass_hz": to_float(pw.get("lowpass")) or to_float(_text(signal, "lowpass")),
        "notch_filtered": pw.get("notchfiltered") or _text(signal, "notchfiltered"),
        "calibration_pulse_uv": calibration_uv,
        "calibration_samples_removed": (n_samples - n_ecg) or None,
        "report_status": _text(root, "interpretations/interpretation/mdsignatureline"),
    }
    source = SourceInfo(
        format=FORMAT,
        path=str(path),
        manufacturer="Philips",
        device=device,
        description=DESCRIPTION,
        device_measurements=_measurements(root),
        device_statements=_statements(root),
        extra={k: v for k, v in extra.items() if v is not None},
    )
    start = _datetime(acq)
    return ECGRecord(
        signal=signal_uv.astype(np.float32),
        fs=fs,
        leads=lead_names,
        start_time=start,
        source=source,
        patient=_patient(root, start),
    )
