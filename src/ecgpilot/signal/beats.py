"""QRS (beat) detection on one or many leads, 100–1000 Hz.

Method (energy detector in the Pan–Tompkins family, combined over leads):

1. band-pass 5–25 Hz each lead (zero phase), square the first difference;
2. scale each lead's energy by a robust level (median of its 2-s block maxima),
   clip at :data:`CLIP` so one artefacted lead cannot dominate, and average the leads
   (with ≤ 3 leads, weighted by the contrast of each lead's QRS energy over its typical
   energy);
3. integrate over :data:`INTEGRATION_S` (moving average);
4. keep local maxima at least :data:`REFRACTORY_S` apart that exceed
   :data:`THRESHOLD` × an adaptive reference (median of neighbouring 2-s block maxima);
5. drop a detection closer than :data:`T_WAVE_S` to the previous one when it is much
   smaller (a T wave), and search back with half the threshold in gaps longer than
   :data:`SEARCHBACK_RR` × the median RR;
6. place each beat at the maximum of the combined (un-integrated) energy, smoothed over
   :data:`REFINE_SMOOTH_S`, within ±75 ms.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from ecgpilot.record import ECGRecord
from ecgpilot.signal.filters import bandpass, moving_average

__all__ = ["detect_beats", "record_beats", "rr_intervals"]

BAND_HZ = (5.0, 25.0)
CLIP = 4.0
INTEGRATION_S = 0.10
REFRACTORY_S = 0.20
THRESHOLD = 0.20
T_WAVE_S = 0.36
T_WAVE_RATIO = 0.5
SEARCHBACK_RR = 1.6
BLOCK_S = 2.0
REFINE_SMOOTH_S = 0.04
WEIGHT_MAX_LEADS = 3


def _block_reference(y: NDArray[np.float64], fs: float) -> NDArray[np.float64]:
    """Per-sample adaptive level: median of the maxima of the 5 neighbouring 2-s blocks."""
    b = max(int(BLOCK_S * fs), 1)
    nb = int(np.ceil(len(y) / b))
    padded = np.full(nb * b, -np.inf)
    padded[: len(y)] = y
    bmax = padded.reshape(nb, b).max(axis=1)
    if nb >= 3:
        bmax = median_filter(bmax, size=min(5, nb if nb % 2 else nb - 1), mode="nearest")
    centres = (np.arange(nb) + 0.5) * b
    return np.interp(np.arange(len(y)), centres, bmax)


def _lead_energy(x: NDArray[np.float64], fs: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Clipped, robustly scaled energy of the usable leads: (weighted mean, plain mean).

    The weighted mean, used for detection, favours leads whose QRS energy stands far
    above their typical energy (weight ∝ 1 / median scaled energy, capped at 1 for the
    typical lead): a noisy lead then adds few false detections. It is used for records of
    at most :data:`WEIGHT_MAX_LEADS` leads (Holter-like); with more leads the plain mean
    is used for both. The plain mean places the beats (fiducial points).
    """
    f = bandpass(x, fs, BAND_HZ[0], BAND_HZ[1], axis=-1)
    d = np.diff(f, axis=-1, prepend=f[:, :1])
    e = d * d
    b = max(int(BLOCK_S * fs), 1)
    nb = max(e.shape[1] // b, 1)
    blocks = e[:, : nb * b].reshape(e.shape[0], nb, b).max(axis=2) if e.shape[1] >= b else e.max(axis=1, keepdims=True)
    scale = np.median(blocks, axis=1)
    ok = scale > 1e-12 * max(float(scale.max()), 1e-30)
    if not ok.any():
        zero = np.zeros(e.shape[1])
        return zero, zero
    en = np.clip(e[ok] / scale[ok, None], 0.0, CLIP)
    plain = en.mean(axis=0)
    if en.shape[0] > WEIGHT_MAX_LEADS:  # with many leads one noisy lead has a small share
        return plain, plain
    contrast = 1.0 / (np.median(en, axis=1) + 1e-6)
    w = np.minimum(contrast / np.median(contrast), 1.0)  # only below-typical leads are down-weighted
    return (w[:, None] * en).sum(axis=0) / w.sum(), plain


def detect_beats(signal: NDArray, fs: float) -> NDArray[np.int64]:
    """Sample indices of the QRS complexes in ``signal`` (one lead, or leads × samples)."""
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    fs = float(fs)
    if x.shape[1] < int(0.5 * fs):
        return np.zeros(0, dtype=np.int64)
    weighted, energy = _lead_energy(x, fs)
    integ = moving_average(weighted, int(round(INTEGRATION_S * fs)))
    if not np.any(integ > 0):
        return np.zeros(0, dtype=np.int64)
    ref = _block_reference(integ, fs)
    peaks, _ = find_peaks(integ, distance=max(int(REFRACTORY_S * fs), 1))
    if peaks.size == 0:
        return peaks.astype(np.int64)
    height = integ[peaks]
    thr = THRESHOLD * ref[peaks]
    keep = list(peaks[height > thr])
    # T-wave rejection: a small detection soon after a bigger one is dropped
    out: list[int] = []
    for p in keep:
        if out and (p - out[-1]) < T_WAVE_S * fs:
            q = out[-1]
            if integ[p] < T_WAVE_RATIO * integ[q]:
                continue
            if integ[q] < T_WAVE_RATIO * integ[p]:
                out[-1] = p
                continue
        out.append(p)
    beats = np.asarray(out, dtype=np.int64)
    # search back in long gaps with half the threshold
    if beats.size >= 3:
        rr_med = float(np.median(np.diff(beats)))
        cand_ok = height > 0.5 * thr
        cands = peaks[cand_ok]
        added: list[int] = []
        for a, b in zip(beats[:-1], beats[1:]):
            if b - a > SEARCHBACK_RR * rr_med:
                lo, hi = a + int(REFRACTORY_S * fs * 1.5), b - int(REFRACTORY_S * fs * 1.5)
                inside = cands[(cands > lo) & (cands < hi)]
                if inside.size:
                    added.append(int(inside[np.argmax(integ[inside])]))
        if added:
            beats = np.sort(np.concatenate([beats, np.asarray(added, dtype=np.int64)]))
    # refine on the combined energy (smoothed over REFINE_SMOOTH_S) within ±75 ms
    smooth = moving_average(energy, max(int(round(REFINE_SMOOTH_S * fs)), 1))
    half = int(round(0.075 * fs))
    idx = beats[:, None] + np.arange(-half, half + 1)[None, :]
    idx = np.clip(idx, 0, len(smooth) - 1)
    refined = idx[np.arange(len(beats)), np.argmax(smooth[idx], axis=1)]
    refined = np.unique(refined)
    if refined.size > 1:  # merge detections that collapsed onto the same complex
        refined = refined[np.concatenate([[True], np.diff(refined) > REFRACTORY_S * fs * 0.5])]
    return refined.astype(np.int64)


def record_beats(record: ECGRecord, leads: tuple[str, ...] | None = None) -> NDArray[np.int64]:
    """Beats of an :class:`ECGRecord`, combining all leads (or the given ones)."""
    rec = record.pick(leads) if leads else record
    return detect_beats(rec.signal, rec.fs)


def rr_intervals(beats: NDArray[np.int64], fs: float) -> NDArray[np.float64]:
    """RR intervals in milliseconds."""
    return np.diff(np.asarray(beats, dtype=np.float64)) * 1000.0 / fs
