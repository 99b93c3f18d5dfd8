"""Whole-record rhythm features for the classifier (pure numpy).

The network sees 2.5-s windows, too short to judge the rhythm of a 10-s recording
(sinus arrhythmia, bigeminy, trigeminy, the exact rate). These features summarise the
beat-to-beat intervals and the beat-to-beat shape changes of the whole recording. They
are computed from the same 100 Hz signal the network reads, in training and in service,
and enter the network's last layer (``ECGResNet(n_features=...)``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ecgpilot.signal.beats import detect_beats

__all__ = ["FEATURE_NAMES", "N_FEATURES", "rhythm_features", "rhythm_features_batch"]

FEATURE_NAMES: tuple[str, ...] = (
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
N_FEATURES = len(FEATURE_NAMES)
_HALF_S = 0.12  # beat shape window: ±120 ms around the detected QRS


def _autocorr(v: NDArray[np.float64], lag: int) -> float:
    if v.size <= lag + 1:
        return 0.0
    a, b = v[:-lag] - v.mean(), v[lag:] - v.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def rhythm_features(x: NDArray, fs: float) -> NDArray[np.float32]:
    """The :data:`FEATURE_NAMES` vector of one recording ``x`` (leads × samples, any unit)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(N_FEATURES, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < int(fs):
        return out.astype(np.float32)
    beats = detect_beats(x, fs)
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


def rhythm_features_batch(x: NDArray, fs: float) -> NDArray[np.float32]:
    """:func:`rhythm_features` of every recording of ``x`` (records × leads × samples)."""
    return np.stack([rhythm_features(r, fs) for r in x]) if len(x) else np.zeros((0, N_FEATURES), np.float32)
