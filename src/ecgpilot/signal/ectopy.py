"""Premature complexes from the tracing: each beat called dominant, ventricular or supraventricular ectopic.

As AAMI EC57 groups beats (N, S, V), from two facts per beat that a reader checks on the strip:

* **shape**: the correlation of the beat's QRS (±:data:`QRS_HALF_MS` ms around its fiducial, all leads
  together, best over ±:data:`ALIGN_MS` ms of lag) with the recording's dominant QRS (the median of
  all beats' QRS); a beat below :data:`V_CORR`, or whose QRS energy differs from the dominant one's
  by more than a factor :data:`V_ENERGY`, has another ventricular activation: **ventricular** (V);
* **timing**: a beat shaped like the dominant one that comes at most :data:`PREMATURE_FRAC` of the
  reference RR after the preceding beat (the median RR between dominant-shaped beats) is
  **supraventricular premature** (S). Not assessed when the rhythm is irregular throughout
  (atrial fibrillation: every beat would be "premature"), i.e. when the dominant-to-dominant RR
  intervals vary by more than :data:`IRREGULAR_CV`.

Thresholds chosen on the MIT-BIH Arrhythmia Database tuning half (even record positions), scored on
the other half in 10-s windows (``benchmarks/bench_ectopy_mitdb.py``). Paced recordings are not
classified (pacing changes every QRS). Pure: arrays in, numbers out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.signal.filters import bandpass

__all__ = ["ectopy_summary", "beat_classes", "beat_features", "classify", "timed_v", "TIMED_EARLY", "TIMED_PAUSE", "QRS_HALF_MS", "V_CORR", "V_ENERGY", "PREMATURE_FRAC", "IRREGULAR_CV"]

QRS_HALF_MS = 60.0
ALIGN_MS = 40.0
V_CORR = 0.80
V_ENERGY = 2.5
PREMATURE_FRAC = 0.85
IRREGULAR_CV = 0.15
V_PREMATURE: float | None = None
MIN_BEATS = 4
#: A V beat's timing as a premature ventricular complex: it comes at most this share of the median RR after
#: the previous beat ...
TIMED_EARLY = 0.9
#: ... and the interval around it (previous + next RR) lasts at least this many median RRs (the pause that
#: follows a PVC; an extra detection inside one RR, e.g. a noise burst, splits a single RR). Chosen on the
#: MIT-BIH tuning half and the CinC 2017 tune half (benchmarks/bench_ectopy_mitdb.py --timed, BENCHMARKS §10;
#: used by the reading without an AI reading, rules 2026.12.5).
TIMED_PAUSE = 1.5


def beat_features(signal: NDArray, fs: float, beats: NDArray[np.int64]
                  ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(indices of the beats far enough from the edges, their QRS correlation with the dominant QRS,
    their QRS energy over the dominant one's) of a recording (leads × samples, µV)."""
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    beats = np.asarray(beats, dtype=np.int64)
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    fs = float(fs)
    half = int(round(QRS_HALF_MS * fs / 1000.0))
    lag = int(round(ALIGN_MS * fs / 1000.0))
    if beats.size < MIN_BEATS or x.shape[1] <= 2 * (half + lag) + 1:
        return empty
    y = bandpass(x, fs, 0.5, 40.0)
    ok = (beats - half - lag >= 0) & (beats + half + lag < y.shape[1])
    if ok.sum() < MIN_BEATS:
        return empty
    idx = np.flatnonzero(ok)
    win = np.arange(-half - lag, half + lag + 1)
    segs = y[:, beats[idx][:, None] + win[None, :]].transpose(1, 0, 2)  # beats × leads × samples
    template = np.median(segs[:, :, lag:lag + 2 * half + 1], axis=0)
    t = template - template.mean(axis=1, keepdims=True)
    t_energy = float((t * t).sum())
    corr = np.full(idx.size, -1.0)
    energy = np.zeros(idx.size)
    for k in range(2 * lag + 1):
        seg = segs[:, :, k:k + 2 * half + 1]
        seg = seg - seg.mean(axis=2, keepdims=True)
        e = (seg * seg).sum(axis=(1, 2))
        c = (seg * t[None]).sum(axis=(1, 2)) / (np.sqrt(e * t_energy) + 1e-12)
        better = c > corr
        corr[better] = c[better]
        energy[better] = e[better]
    return idx, corr, energy / (t_energy + 1e-12)


def classify(beats: NDArray[np.int64], fs: float, idx: NDArray[np.int64], corr: NDArray[np.float64],
             ratio: NDArray[np.float64], *, v_corr: float = V_CORR, v_energy: float = V_ENERGY,
             premature_frac: float = PREMATURE_FRAC, irregular_cv: float = IRREGULAR_CV,
             v_premature: float | None = V_PREMATURE) -> dict[str, Any]:
    """The classes of :func:`beat_classes` from :func:`beat_features`'s output (thresholds as arguments,
    for the benchmark's grid)."""
    beats = np.asarray(beats, dtype=np.int64)
    n = beats.size
    out: dict[str, Any] = {"classes": ["?"] * n, "correlation": [None] * n, "n_v": 0, "n_s": 0,
                           "v_s": [], "s_s": [], "s_assessed": False}
    if idx.size < MIN_BEATS:
        return out
    odd_size = (ratio > v_energy) | (ratio < 1.0 / v_energy)
    is_v = (corr < v_corr) | odd_size
    if v_premature is not None:  # another shape alone is not enough: early, or of another size
        rr = np.diff(beats)
        early = np.zeros(n, dtype=bool)
        early[1:] = rr <= v_premature * float(np.median(rr))
        is_v &= early[idx] | odd_size
    cls = np.array(["?"] * n, dtype=object)
    cls[idx] = np.where(is_v, "V", "N")
    dom = np.flatnonzero(cls == "N")
    rr_dd = [int(beats[j] - beats[j - 1]) for j in dom if j >= 1 and cls[j - 1] == "N"]
    if len(rr_dd) >= 2:
        ref = float(np.median(rr_dd))
        if float(np.std(rr_dd) / np.mean(rr_dd)) <= irregular_cv:
            out["s_assessed"] = True
            for j in dom:
                if j >= 1 and beats[j] - beats[j - 1] <= premature_frac * ref:
                    cls[j] = "S"
    c_list: list[float | None] = [None] * n
    for k, j in enumerate(idx):
        c_list[int(j)] = round(float(corr[k]), 3)
    out["classes"] = [str(c) for c in cls]
    out["correlation"] = c_list
    out["n_v"] = int((cls == "V").sum())
    out["n_s"] = int((cls == "S").sum())
    out["v_s"] = [round(float(beats[j]) / fs, 3) for j in np.flatnonzero(cls == "V")]
    out["s_s"] = [round(float(beats[j]) / fs, 3) for j in np.flatnonzero(cls == "S")]
    return out


def timed_v(beats: NDArray[np.int64], classes: list[str], *, early: float = TIMED_EARLY,
            pause: float = TIMED_PAUSE) -> list[int]:
    """Indices of the V beats timed as premature ventricular complexes: at most ``early`` × the median RR
    after the previous beat, and previous + next RR at least ``pause`` × the median RR (the last beat
    needs only to be early)."""
    b = np.asarray(beats, dtype=np.int64)
    rr = np.diff(b).astype(np.float64)
    if rr.size < 2:
        return []
    med = float(np.median(rr))
    out = []
    for j, c in enumerate(classes):
        if c != "V" or j == 0:
            continue
        pre = rr[j - 1] / med
        post = rr[j] / med if j < rr.size else None
        if pre <= early and (post is None or pre + post >= pause):
            out.append(j)
    return out


def ectopy_summary(signal: NDArray, fs: float, beats: NDArray[np.int64]) -> dict[str, Any]:
    """The ``measurements.ectopy`` object: counts and times (s) of the ventricular (``n_v``, ``v_s``)
    and supraventricular premature (``n_s``, ``s_s``) beats, ``s_assessed`` (false in an irregular
    rhythm), ``n_classified`` (beats away from the edges), and the V beats timed as premature
    ventricular complexes (``n_v_timed``, ``v_timed_s``, :func:`timed_v`); see ``docs/analysis-schema.md``."""
    got = beat_classes(signal, fs, beats)
    timed = timed_v(beats, got["classes"])
    return {"n_classified": sum(c != "?" for c in got["classes"]), "n_v": got["n_v"], "n_s": got["n_s"],
            "v_s": got["v_s"], "s_s": got["s_s"], "s_assessed": got["s_assessed"],
            "n_v_timed": len(timed), "v_timed_s": [round(float(beats[j]) / fs, 3) for j in timed]}


def beat_classes(signal: NDArray, fs: float, beats: NDArray[np.int64]) -> dict[str, Any]:
    """Per-beat class (``"N"`` dominant, ``"S"`` supraventricular premature, ``"V"`` ventricular,
    ``"?"`` not classified: at the recording's edges) of a recording (leads × samples, µV).

    Returns ``{"classes": [...], "correlation": [...], "n_v": int, "n_s": int, "v_s": [times s],
    "s_s": [times s], "s_assessed": bool}``; with fewer than :data:`MIN_BEATS` beats every class is ``"?"``.
    """
    beats = np.asarray(beats, dtype=np.int64)
    idx, corr, ratio = beat_features(signal, fs, beats)
    return classify(beats, fs, idx, corr, ratio)
