"""Whole-record features for the classifier (pure numpy).

The network sees 2.5-s windows, too short to judge the rhythm of a 10-s recording
(sinus arrhythmia, bigeminy, trigeminy, the exact rate), and it never sees one clean
averaged beat. Two feature sets complete it:

* **rhythm** (:data:`RHYTHM_NAMES`): the beat-to-beat intervals and shape changes;
* **beat** (:data:`BEAT_NAMES`): the global intervals and axes of the median beat, and per
  lead the ST level at J+20 / J+60 ms, the T, P, R and S amplitudes (mV), from the same
  delineation as the measurements (:mod:`ecgpilot.signal`).

They are computed from the same 100 Hz signal the network reads, in training and in
service, and enter the network's last layer (``ECGResNet(n_features=...)``). A model's
sidecar lists the feature names it was trained with; :func:`model_features` computes
exactly those.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import ModelError
from ecgpilot.signal.beats import detect_beats

__all__ = ["FEATURES_VERSION", "RHYTHM_NAMES", "BEAT_NAMES", "FEATURE_NAMES", "N_FEATURES", "rhythm_features",
           "beat_features", "model_features", "model_features_batch"]

RHYTHM_NAMES: tuple[str, ...] = (
    "valid",            # 1 when at least 4 beats were found, else every feature is 0
    "hr_median_100",    # heart rate from the median RR, bpm / 100
    "hr_mean_100",      # heart rate from the mean RR, bpm / 100
    "rr_cv",            # SD / mean of RR
    "rmssd_rel",        # RMSSD / mean RR
    "rr_range_rel",     # (max - min) / median RR
    "rr_min_rel",       # min RR / median RR
    "rr_max_rel",       # max RR / median RR
    "irregular_frac",   # share of successive RR differences above 15 % of the median RR
    "premature_frac",   # share of RR < 85 % of the median followed by a longer one (ectopy)
    "ac1",              # lag-1 autocorrelation of RR (bigeminy: strongly negative)
    "ac2",              # lag-2 autocorrelation of RR
    "ac3",              # lag-3 autocorrelation of RR (trigeminy: positive)
    "sign_alternation", # share of successive RR differences changing sign
    "shape_corr_mean",  # mean correlation of each beat with the median beat
    "shape_corr_min",   # lowest such correlation (one odd beat: a PVC)
    "odd_beat_frac",    # share of beats correlating < 0.8 with the median beat
    "n_beats_10",       # beats found / 10
)
FEATURES_VERSION = "2026-12-01"  # change with any change of the feature code (or of the signal code it uses)
LEADS12: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_PER_LEAD = ("st20", "st60", "t_amp", "p_amp", "r_amp", "s_amp")
BEAT_NAMES: tuple[str, ...] = (
    "beat_valid", "qrs_100ms", "qt_400ms", "qtc_400ms", "pr_200ms", "p_found", "p_dur_100ms",
    "p_axis_sin", "p_axis_cos", "qrs_axis_sin", "qrs_axis_cos", "t_axis_sin", "t_axis_cos", "paced",
) + tuple(f"{k}_{lead}_mV" for k in _PER_LEAD for lead in LEADS12)
FEATURE_NAMES: tuple[str, ...] = RHYTHM_NAMES + BEAT_NAMES  # what a new training run uses
N_FEATURES = len(FEATURE_NAMES)
N_RHYTHM = len(RHYTHM_NAMES)
_HALF_S = 0.12  # beat shape window: ±120 ms around the detected QRS


def _autocorr(v: NDArray[np.float64], lag: int) -> float:
    if v.size <= lag + 1:
        return 0.0
    a, b = v[:-lag] - v.mean(), v[lag:] - v.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def rhythm_features(x: NDArray, fs: float, beats: NDArray[np.int64] | None = None) -> NDArray[np.float32]:
    """The :data:`RHYTHM_NAMES` vector of one recording ``x`` (leads × samples, any unit)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(N_RHYTHM, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < int(fs):
        return out.astype(np.float32)
    beats = detect_beats(x, fs) if beats is None else beats
    if beats.size < 4:
        return out.astype(np.float32)
    rr = np.diff(beats).astype(np.float64) / fs
    med, mean = float(np.median(rr)), float(rr.mean())
    d = np.diff(rr)
    out[0] = 1.0
    out[1] = 60.0 / med / 100.0
    out[2] = 60.0 / mean / 100.0
    out[3] = float(rr.std() / mean)
    out[4] = float(np.sqrt(np.mean(d * d)) / mean) if d.size else 0.0
    out[5] = float((rr.max() - rr.min()) / med)
    out[6] = float(rr.min() / med)
    out[7] = float(rr.max() / med)
    out[8] = float(np.mean(np.abs(d) > 0.15 * med)) if d.size else 0.0
    out[9] = float(np.mean((rr[:-1] < 0.85 * med) & (rr[1:] > rr[:-1]))) if rr.size > 1 else 0.0
    out[10], out[11], out[12] = (_autocorr(rr, k) for k in (1, 2, 3))
    out[13] = float(np.mean(np.sign(d[:-1]) * np.sign(d[1:]) < 0)) if d.size > 1 else 0.0
    half = int(round(_HALF_S * fs))
    inner = beats[(beats >= half) & (beats + half < x.shape[1])]
    if inner.size >= 2:
        seg = np.stack([x[:, b - half: b + half + 1] for b in inner])  # beats × leads × window
        seg = seg - seg.mean(axis=2, keepdims=True)
        flat = seg.reshape(seg.shape[0], -1)
        tmpl = np.median(flat, axis=0)
        num = flat @ tmpl
        den = np.linalg.norm(flat, axis=1) * np.linalg.norm(tmpl)
        corr = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        out[14], out[15] = float(corr.mean()), float(corr.min())
        out[16] = float(np.mean(corr < 0.8))
    out[17] = beats.size / 10.0
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _angle(deg: float | None) -> tuple[float, float]:
    if deg is None:
        return 0.0, 0.0
    r = np.deg2rad(float(deg))
    return float(np.sin(r)), float(np.cos(r))


def beat_features(x: NDArray, fs: float, beats: NDArray[np.int64] | None = None) -> NDArray[np.float32]:
    """The :data:`BEAT_NAMES` vector of one 12-lead recording ``x`` (µV, leads in :data:`LEADS12`
    order); all zeros when no median beat can be delineated."""
    from ecgpilot.signal.measure import measure_detail

    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(len(BEAT_NAMES), dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 12 or x.shape[1] < int(fs):
        return out.astype(np.float32)
    beats = detect_beats(x, fs) if beats is None else beats
    if beats.size < 2:
        return out.astype(np.float32)
    m, mb, bd = measure_detail(x, fs, LEADS12, beats, beat_qrs=False,  # the median beat's QRS, as in training
                               legacy_delineation=True)  # the boundaries the shipped model was trained with
    if mb is None or bd is None or not bd.qrs_found:
        return out.astype(np.float32)
    f = mb.fs
    sig = mb.signal
    n = sig.shape[1]
    ms = f / 1000.0

    def at(i: float) -> int:
        return int(min(max(round(i), 0), n - 1))

    g = [1.0, (m["qrs_ms"] or 0) / 100.0, (m["qt_ms"] or 0) / 400.0, (m["qtc_ms"] or 0) / 400.0,
         (m["pr_ms"] or 0) / 200.0, float(bd.p_on is not None), (m["p_duration_ms"] or 0) / 100.0,
         *_angle(m["p_axis_deg"]), *_angle(m["qrs_axis_deg"]), *_angle(m["t_axis_deg"]),
         float(bool(m["pacing_spikes"]))]
    b0, b1 = at(bd.qrs_on - 30 * ms), at(bd.qrs_on - 10 * ms)
    base = sig[:, b0: max(b1, b0 + 1)].mean(axis=1)
    y = (sig - base[:, None]) / 1000.0  # mV against the PR segment
    st20, st60 = y[:, at(bd.qrs_off + 20 * ms)], y[:, at(bd.qrs_off + 60 * ms)]
    t0, t1 = at(bd.qrs_off + 60 * ms), at(bd.t_off if bd.t_off is not None else bd.qrs_off + 400 * ms)
    seg = y[:, t0: max(t1, t0 + 1)]
    t_amp = seg[np.arange(12), np.argmax(np.abs(seg), axis=1)]
    p_amp = np.zeros(12)
    if bd.p_on is not None and bd.p_off is not None and bd.p_off > bd.p_on:
        pseg = y[:, bd.p_on: bd.p_off]
        p_amp = pseg[np.arange(12), np.argmax(np.abs(pseg), axis=1)]
    qseg = y[:, bd.qrs_on: max(bd.qrs_off, bd.qrs_on + 1)]
    per = [st20, st60, t_amp, p_amp, qseg.max(axis=1), qseg.min(axis=1)]
    out[:] = np.concatenate([np.asarray(g), *per])
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def model_features(x: NDArray, fs: float, names: list[str] | tuple[str, ...]) -> NDArray[np.float32]:
    """The features ``names`` (a model's list, in its order) of one 12-lead recording (µV)."""
    unknown = [k for k in names if k not in RHYTHM_NAMES and k not in BEAT_NAMES]
    if unknown:
        raise ModelError(f"unknown classifier feature(s) {unknown[:3]}; this ecgpilot computes "
                         f"{N_FEATURES} features ({', '.join(FEATURE_NAMES[:4])}, ...). Update ecgpilot "
                         "or use a model trained with this version.")
    x = np.asarray(x, dtype=np.float64)
    beats = detect_beats(x, fs) if x.ndim == 2 and x.shape[1] >= int(fs) else np.zeros(0, np.int64)
    values = dict(zip(RHYTHM_NAMES, rhythm_features(x, fs, beats)))
    if any(k in BEAT_NAMES for k in names):
        values.update(zip(BEAT_NAMES, beat_features(x, fs, beats)))
    return np.array([values[k] for k in names], dtype=np.float32)


def model_features_batch(x: NDArray, fs: float, names: list[str] | tuple[str, ...]) -> NDArray[np.float32]:
    """:func:`model_features` of every recording of ``x`` (records × leads × samples)."""
    if not len(x):
        return np.zeros((0, len(names)), np.float32)
    return np.stack([model_features(r, fs, names) for r in x])
