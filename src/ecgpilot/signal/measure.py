"""Global ECG measurements from the median beats: rate, intervals, QTc, frontal axes.

Conventions (see ``docs/analysis-schema.md``): durations in ms, rate in bpm, axes in
degrees in (−180, 180]; a value that cannot be measured is ``None``.

* PR = QRS onset − P onset; P duration = P offset − P onset; QT = T end − QRS onset.
* QTc with the mean RR in seconds: Bazett QT/√RR, Fridericia QT/∛RR. ``qtc_ms`` reports
  **Fridericia** (more accurate than Bazett away from 60 bpm), both are given.
* QT reliability: ``t_end_spread_ms`` is how much the T end disagrees across leads and beats
  (:func:`~ecgpilot.signal.delineate.t_end_spread_ms`); ``qt_reliable`` is true when it is at
  most :data:`QT_SPREAD_MAX_MS`. An unreliable QT/QTc is still reported.
* Frontal axes from the net area of each wave (baseline = level at QRS onset; the T wave
  taken symmetric around its peak up to T end, without the ST segment) in the limb leads, least-squares fit of a 2-D vector projected on the hexaxial leads
  (I 0°, II 60°, III 120°, aVR −150°, aVL −30°, aVF 90°, Einthoven/Goldberger scaling).
* Equalised leads for the boundaries: on recordings of at least :data:`EQUALISE_MIN_LEADS` leads the
  P/QRS/T boundaries are found on the median beat with every lead scaled to the median of the leads'
  peak-to-peak amplitudes (at most ×2 or ÷2, :func:`equalised`), so that the small leads, where a
  wave often begins earliest or ends latest, weigh nearly as much as the large precordial ones;
  amplitudes, axes and the lead matrix use the true median beat. On LUDB with its true amplitudes
  this brings the PR interval of records 101–200 from SD 14.5 to 7.6 ms (IEC 60601-2-25: 10 ms), the
  thresholds having been tuned on LUDB's header-scaled leads, which span 1 mV each
  (``benchmarks/bench_measurements.py --amplitudes true``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.record import ECGRecord
from ecgpilot.signal.beats import record_beats
from ecgpilot.signal.delineate import (BEAT_QRS_OFF_FRAC, BEAT_QRS_OFF_FRAC_V2, Boundaries, MedianBeat, beat_qrs_ms,
                                       delineate, median_beats, pacing_spike, t_end_spread_ms)
from ecgpilot.signal.filters import resample_poly

__all__ = ["measure", "measure_beats", "measure_detail", "net_areas", "frontal_axis", "qtc_bazett", "qtc_fridericia", "EMPTY_MEASUREMENTS",
           "equalised"]

_S3 = np.sqrt(3.0)
#: Records sampled below this rate are resampled to ≥ 500 Hz (polyphase) before delineation.
UPSAMPLE_BELOW_HZ = 250.0
#: QT is "reliable" when the T end disagrees by at most this across leads and beats
#: (:func:`~ecgpilot.signal.delineate.t_end_spread_ms`; chosen on the QT Database tuning half and LUDB 1-100).
QT_SPREAD_MAX_MS = 30.0
#: Leads are equalised for the boundaries (:func:`equalised`) on recordings with at least this many leads.
EQUALISE_MIN_LEADS = 8
#: Switch for the equalisation (benchmarks compare both; the legacy delineation never equalises).
EQUALISE = True
#: ... each lead scaled by at most this factor up or down (a tiny lead's noise is not amplified into a
#: wave): chosen on LUDB 1-100 (true amplitudes) and PTB-XL fold-9 normal ECGs among 1.5, 2, 3 and
#: unbounded — QRS SD 10.8/10.7/10.8/10.8 ms, normal ECGs with QRS ≥ 120 ms 9/9/10/12 of 300 (9 unequalised).
EQUALISE_MAX_GAIN = 2.0
#: Projection of the frontal vector (x: towards 0°, y: towards +90°) on each limb lead.
LIMB_PROJECTION: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0),
    "II": (0.5, _S3 / 2),
    "III": (-0.5, _S3 / 2),
    "aVR": (-0.75, -_S3 / 4),
    "aVL": (0.75, -_S3 / 4),
    "aVF": (0.0, _S3 / 2),
}

EMPTY_MEASUREMENTS: dict[str, Any] = {
    "heart_rate_bpm": None, "rr_ms": None, "rr_sd_ms": None, "n_beats": 0, "beats_s": [],
    "p_duration_ms": None, "pr_ms": None, "qrs_ms": None, "qt_ms": None,
    "qtc_bazett_ms": None, "qtc_fridericia_ms": None, "qtc_ms": None, "qtc_formula": "fridericia",
    "p_axis_deg": None, "qrs_axis_deg": None, "t_axis_deg": None, "pacing_spikes": None, "median_beat": None,
    "qt_reliable": False, "t_end_spread_ms": None,
}


def qtc_bazett(qt_ms: float, rr_ms: float) -> float:
    """Bazett's corrected QT: QT / √(RR in s)."""
    return qt_ms / np.sqrt(rr_ms / 1000.0)


def qtc_fridericia(qt_ms: float, rr_ms: float) -> float:
    """Fridericia's corrected QT: QT / ∛(RR in s)."""
    return qt_ms / np.cbrt(rr_ms / 1000.0)


def frontal_axis(values: dict[str, float]) -> float | None:
    """Frontal-plane axis (degrees, −180..180) from a per-limb-lead value (area or amplitude).

    Needs I and at least one other limb lead; None when the vector is negligible.
    """
    names = [k for k in LIMB_PROJECTION if k in values]
    if "I" not in names or len(names) < 2:
        return None
    a = np.array([LIMB_PROJECTION[k] for k in names])
    y = np.array([values[k] for k in names], dtype=np.float64)
    vec, *_ = np.linalg.lstsq(a, y, rcond=None)
    if np.hypot(*vec) <= 1e-9 * (np.abs(y).max() + 1e-12):
        return None
    ang = float(np.degrees(np.arctan2(vec[1], vec[0])))
    return 180.0 if ang == -180.0 else ang


def _t_span(bd: Boundaries) -> tuple[int | None, int | None]:
    """The T wave for its axis: symmetric around the T peak up to T end (ST segment left out)."""
    if bd.t_off is None or bd.t_peak is None:
        return None, None
    return max(bd.qrs_off, 2 * bd.t_peak - bd.t_off), bd.t_off


def net_areas(mb: MedianBeat, bd: Boundaries, wave: str) -> dict[str, float] | None:
    """Net area (µV·s) per lead of ``wave`` ('p', 'qrs' or 't'), baseline at QRS onset."""
    a = max(bd.qrs_on - int(round(0.01 * mb.fs)), 0)
    base = mb.signal[:, a:bd.qrs_on + 1].mean(axis=1, keepdims=True)
    span = {"p": (bd.p_on, bd.p_off), "qrs": (bd.qrs_on, bd.qrs_off), "t": _t_span(bd)}[wave]
    if span[0] is None or span[1] is None:
        return None
    return _net_areas(mb, base, span[0], span[1])


def _net_areas(mb: MedianBeat, base: NDArray[np.float64], a: int, b: int) -> dict[str, float]:
    seg = mb.signal[:, a:b + 1] - base
    area = seg.sum(axis=1) / mb.fs
    return {name: float(area[i]) for i, name in enumerate(mb.leads)}


def _r(x: float | None, nd: int = 0) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), nd) if nd else float(round(float(x)))


def measure_beats(signal: NDArray, fs: float, leads: tuple[str, ...], beats: NDArray[np.int64]) -> dict[str, Any]:
    """Measurements from a signal (leads × samples, µV) and its detected beats."""
    return measure_detail(signal, fs, leads, beats)[0]


def measure_detail(
    signal: NDArray, fs: float, leads: tuple[str, ...], beats: NDArray[np.int64], beat_qrs: bool = True,
    legacy_delineation: bool = False,
) -> tuple[dict[str, Any], MedianBeat | None, Boundaries | None]:
    """Like :func:`measure_beats`, also returning the median beat and its boundaries.

    ``qrs_ms`` is the median over the dominant beats of each beat's QRS duration
    (:func:`~ecgpilot.signal.delineate.beat_qrs_ms`), or with ``beat_qrs=False`` (or too few
    beats) the QRS duration of the median beat, i.e. ``qrs_off - qrs_on`` of the boundaries.
    ``legacy_delineation=True``: the boundaries before 2026-12-05 (used for the shipped
    classifier's features); ``qt_reliable`` / ``t_end_spread_ms`` are then not assessed."""
    out = dict(EMPTY_MEASUREMENTS)
    beats = np.asarray(beats, dtype=np.int64)
    out["n_beats"] = int(beats.size)
    out["beats_s"] = [round(float(b) / fs, 3) for b in beats]
    if beats.size < 2:
        return out, None, None
    rr = np.diff(beats) * 1000.0 / fs
    rr_mean = float(rr.mean())
    out["rr_ms"] = _r(rr_mean)
    out["rr_sd_ms"] = _r(float(rr.std(ddof=1)) if rr.size > 1 else 0.0)
    out["heart_rate_bpm"] = _r(60000.0 / rr_mean, 1)
    if fs < UPSAMPLE_BELOW_HZ:  # delineation thresholds are set at 500 Hz resolution
        up = int(np.ceil(500.0 / fs))
        signal = resample_poly(np.atleast_2d(signal).astype(np.float64), up, 1, axis=1)
        beats, fs = beats * up, fs * up
    mb = median_beats(signal, fs, leads, beats)
    if mb is None:
        return out, None, None
    spike = pacing_spike(signal, fs, mb.beats)
    mb_true = mb
    if not legacy_delineation and EQUALISE:
        mb = equalised(mb)
    bd = delineate(mb, spike, legacy=legacy_delineation)
    out["pacing_spikes"] = spike is not None
    out.update(intervals(bd, fs, rr_mean))
    if beat_qrs and bd.qrs_found:
        q = beat_qrs_ms(mb, spike, BEAT_QRS_OFF_FRAC if legacy_delineation else BEAT_QRS_OFF_FRAC_V2)
        if q is not None:
            out["qrs_ms"] = _r(q)
    out.update(axes(mb_true, bd))
    if not legacy_delineation and out["qt_ms"] is not None:
        spread = t_end_spread_ms(mb, bd, spike)
        out["t_end_spread_ms"] = _r(spread)
        out["qt_reliable"] = spread is not None and spread <= QT_SPREAD_MAX_MS
    to_ms = 1000.0 / fs
    out["median_beat"] = {
        "fs": fs,
        "n_beats_averaged": int(mb.beats.size),
        "onset_ms": {
            k: (None if v is None else round((v - mb.fiducial) * to_ms, 1))
            for k, v in (("p_on", bd.p_on), ("p_off", bd.p_off), ("qrs_on", bd.qrs_on),
                         ("qrs_off", bd.qrs_off), ("t_off", bd.t_off))
        },
    }
    return out, mb_true, bd


def equalised(mb: MedianBeat) -> MedianBeat:
    """``mb`` with every lead scaled towards the median of the leads' peak-to-peak amplitudes, by at
    most :data:`EQUALISE_MAX_GAIN` either way (recordings of at least :data:`EQUALISE_MIN_LEADS`
    leads; fewer leads are returned as they are), so that the leads weigh alike in the boundaries
    while the overall scale (µV) is kept."""
    if mb.signal.shape[0] < EQUALISE_MIN_LEADS:
        return mb
    ptp = np.ptp(mb.signal, axis=1)
    ref = float(np.median(ptp))
    w = np.where(ptp > 1e-6, ref / np.maximum(ptp, 1e-6), 1.0)
    w = np.clip(w, 1.0 / EQUALISE_MAX_GAIN, EQUALISE_MAX_GAIN)
    return dataclasses.replace(mb, signal=mb.signal * w[:, None], segments=mb.segments * w[None, :, None])


def intervals(bd: Boundaries, fs: float, rr_mean_ms: float) -> dict[str, Any]:
    """P duration, PR, QRS, QT and QTc (ms) from global boundaries."""
    to_ms = 1000.0 / fs
    if not bd.qrs_found:
        return {"p_duration_ms": None, "pr_ms": None, "qrs_ms": None, "qt_ms": None,
                "qtc_bazett_ms": None, "qtc_fridericia_ms": None, "qtc_ms": None, "qtc_formula": "fridericia"}
    qrs = (bd.qrs_off - bd.qrs_on) * to_ms
    pr = (bd.qrs_on - bd.p_on) * to_ms if bd.p_on is not None else None
    pd = (bd.p_off - bd.p_on) * to_ms if bd.p_on is not None and bd.p_off is not None else None
    qt = (bd.t_off - bd.qrs_on) * to_ms if bd.t_off is not None else None
    qtb = qtc_bazett(qt, rr_mean_ms) if qt is not None else None
    qtf = qtc_fridericia(qt, rr_mean_ms) if qt is not None else None
    return {
        "p_duration_ms": _r(pd), "pr_ms": _r(pr), "qrs_ms": _r(qrs), "qt_ms": _r(qt),
        "qtc_bazett_ms": _r(qtb), "qtc_fridericia_ms": _r(qtf), "qtc_ms": _r(qtf),
        "qtc_formula": "fridericia",
    }


def axes(mb: MedianBeat, bd: Boundaries) -> dict[str, Any]:
    """Frontal P, QRS and T axes (degrees) from net areas in the limb leads."""
    if not bd.qrs_found:
        return {"p_axis_deg": None, "qrs_axis_deg": None, "t_axis_deg": None}
    fs = mb.fs
    a = max(bd.qrs_on - int(round(0.01 * fs)), 0)
    base = mb.signal[:, a:bd.qrs_on + 1].mean(axis=1, keepdims=True)
    qrs = frontal_axis(_net_areas(mb, base, bd.qrs_on, bd.qrs_off))
    p = frontal_axis(_net_areas(mb, base, bd.p_on, bd.p_off)) if bd.p_on is not None and bd.p_off is not None else None
    t_on, t_off = _t_span(bd)
    t = frontal_axis(_net_areas(mb, base, t_on, t_off)) if t_on is not None and t_off is not None else None
    return {"p_axis_deg": _r(p), "qrs_axis_deg": _r(qrs), "t_axis_deg": _r(t)}


def measure(record: ECGRecord, beats: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """All global measurements of a record (keys of ``measurements`` in the analysis schema).

    Limb leads missing from a record with I and II are derived first (for the axes).
    """
    rec = record.with_derived_leads()
    if beats is None:
        beats = record_beats(rec)
    return measure_beats(rec.signal, rec.fs, rec.leads, beats)
