"""The per-lead measurement matrix, as computerised ECG programs on carts print it.

For every lead of the representative (median) beat, against the **PR-segment baseline**
(the mean level over the :data:`BASELINE_MS` ms that end :data:`BASELINE_GAP_MS` ms before the
global QRS onset, i.e. the end of the PR segment, which AHA/ACCF/HRS 2009 part VI and the 4th
universal definition of MI (Thygesen et al. 2018) name as the reference for ST deviation):

* ``p_pos_uv`` / ``p_neg_uv``: the largest positive / negative P deflection (against the level at
  P onset), 0 when the P wave has no such phase, ``None`` without a P wave;
* QRS waves, CSE-style: the QRS of the lead (between the global onset and offset) is cut into
  lobes at its baseline crossings; a lobe smaller than :data:`MIN_WAVE_UV` µV or shorter than
  :data:`MIN_WAVE_MS` ms is not a wave (merged into its neighbour). The first negative lobe
  before any positive one is Q, the first positive lobe R, the negative lobe after R is S, a
  positive lobe after S is R′ (``rp``). A complex without a positive lobe is a QS: reported as Q
  (``q_uv``, ``q_ms``) with R = S = 0. Amplitudes in µV (Q and S ≤ 0), durations in ms between
  the lobe's crossings (the first lobe starts where the lead leaves its baseline); an absent
  wave is 0 µV and 0 ms. A wave has a turning point (IEC 60601-2-51 GG.5, after the CSE): the
  last lobe, when the lead is still off its baseline at J and has come back from that lobe's
  peak by less than :data:`MIN_WAVE_UV`, is the ST deviation, not an R′ or S (a QS followed by
  ST elevation is a QS, not a QR); a lone lobe under :data:`MIN_WAVE_UV` (a flat or isoelectric
  lead) is no wave at all, so that such a lead never reports a Q of 0 µV lasting the whole QRS;
* ``qrs_pp_uv``: QRS peak to peak; ``r_peak_time_ms``: from the global QRS onset to the peak of
  the last R wave (R′ when present; the "intrinsicoid deflection");
* ``r_notched``: the R (or R′) wave has two peaks :data:`NOTCH_MS` ms apart or more, the dip
  between them at least :data:`NOTCH_UV` µV below the smaller peak (LBBB morphology in I, aVL, V5, V6);
* ``st_j_uv``, ``st_60_uv``, ``st_80_uv``: ST level at the J point (global QRS offset), J+60 ms
  and J+80 ms, each the mean over ±:data:`POINT_HALF_MS` ms; ``None`` past the T end;
* ``t_pos_uv`` / ``t_neg_uv``: the largest positive / negative deflection of the T wave (from
  J + 40 ms to the T end), 0 when the T wave has no such phase;
* ``pr_seg_uv``: the PR-segment level against the level before P onset (negative: PR depression,
  a sign of pericarditis).

The median beat here is made from the same aligned dominant beats as the global boundaries, but
from a 0.5–150 Hz zero-phase filtered signal (AHA 2007: zero-phase high-pass up to 0.67 Hz keeps
the ST segment; a 150 Hz bandwidth keeps the QRS amplitudes), not the 0.5–40 Hz one used to
find the boundaries. Everything here is pure: arrays in, numbers out.

Validation (``benchmarks/bench_leadmatrix.py``, ``benchmarks/results/leadmatrix.md``): against
GE 12SL's median-beat measurements of 4 MUSE exports (48 leads), R +6 ± 16 µV, S +2 ± 17 µV,
Q/R/S called present or absent as GE does in 43–46 of 48 leads, ST at GE's J −1 ± 11 µV when
read from GE's reference. GE references QRS amplitudes and ST to the level *at* QRS onset, this
module to the PR segment's end: that, and the global boundaries (our J later than GE's by
4–14 ms), make most of the remaining differences, not the wave rules. Against Philips' per-lead
measurements of a Sierra XML export, R, Q, S and P agree within 10 µV on average. On LUDB the
ST levels obey Einthoven's and Goldberger's laws to SD 3–6 µV.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.signal.delineate import Boundaries, MedianBeat
from ecgpilot.signal.filters import bandpass, resample_poly

__all__ = ["LEAD_KEYS", "lead_matrix", "lead_values", "median_beat_wide"]

BASELINE_MS = 16.0
BASELINE_GAP_MS = 4.0
MIN_WAVE_UV = 20.0
MIN_WAVE_MS = 6.0
POINT_HALF_MS = 4.0
NOTCH_MS = 16.0
NOTCH_UV = 40.0
HIGH_HZ = 150.0
T_START_MS = 40.0

#: Keys of each lead's entry, in display order.
LEAD_KEYS: tuple[str, ...] = (
    "p_pos_uv", "p_neg_uv", "q_uv", "q_ms", "r_uv", "r_ms", "s_uv", "s_ms", "rp_uv", "rp_ms",
    "qrs_pp_uv", "r_peak_time_ms", "r_notched", "st_j_uv", "st_60_uv", "st_80_uv",
    "t_pos_uv", "t_neg_uv", "pr_seg_uv",
)


def median_beat_wide(signal: NDArray, fs: float, mb: MedianBeat) -> NDArray[np.float64]:
    """The median beat of ``mb``'s aligned beats, from a 0.5–150 Hz filtered signal.

    ``signal`` is the record's signal at ``fs``; when ``mb`` was built at a higher rate
    (records under 250 Hz are upsampled for delineation) the signal is upsampled the same way.
    """
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    if mb.fs != fs:
        up = int(round(mb.fs / fs))
        x = resample_poly(x, up, 1, axis=1)
    x = bandpass(x, mb.fs, 0.5, HIGH_HZ)
    n = mb.signal.shape[1]
    idx = mb.beats[:, None] + np.arange(-mb.fiducial, n - mb.fiducial)[None, :]
    idx = np.clip(idx, 0, x.shape[1] - 1)
    return np.median(x[:, idx], axis=1)


def _ms(n: float, fs: float) -> float:
    return n * 1000.0 / fs


def _lobes(y: NDArray[np.float64], fs: float) -> list[tuple[int, int, float, int]]:
    """Lobes of ``y`` between baseline crossings: (start, stop, peak value, peak index),
    small ones merged into their neighbours."""
    sign = np.sign(y)
    # zero samples take the sign of the previous sample, so that a touch is not a crossing
    for i in range(1, sign.size):
        if sign[i] == 0:
            sign[i] = sign[i - 1]
    cuts = [0] + [i for i in range(1, y.size) if sign[i] != sign[i - 1]] + [y.size]
    lobes: list[list[Any]] = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        seg = y[a:b]
        k = int(np.argmax(np.abs(seg)))
        lobes.append([a, b, float(seg[k]), a + k])
    min_n = MIN_WAVE_MS * fs / 1000.0
    changed = True
    while changed and len(lobes) > 1:
        changed = False
        small = [i for i, (a, b, pk, _) in enumerate(lobes) if abs(pk) < MIN_WAVE_UV or (b - a) < min_n]
        if not small:
            break
        i = min(small, key=lambda j: abs(lobes[j][2]))
        a, b, pk, ki = lobes.pop(i)
        # merge into the neighbour(s): with both neighbours of the same sign, they become one lobe
        left = lobes[i - 1] if i - 1 >= 0 else None
        right = lobes[i] if i < len(lobes) else None
        if left is not None and right is not None and np.sign(left[2]) == np.sign(right[2]):
            best = left if abs(left[2]) >= abs(right[2]) else right
            lobes[i - 1] = [left[0], right[1], best[2], best[3]]
            lobes.pop(i)
        elif left is not None:
            left[1] = b
        elif right is not None:
            right[0] = a
        changed = True
    return [(int(a), int(b), float(pk), int(ki)) for a, b, pk, ki in lobes]


def _notched(y: NDArray[np.float64], a: int, b: int, fs: float) -> bool:
    """Two peaks ≥ NOTCH_MS apart inside the positive lobe y[a:b], the dip ≥ NOTCH_UV deep."""
    seg = y[a:b]
    if seg.size < 3:
        return False
    peaks = [i for i in range(1, seg.size - 1) if seg[i] >= seg[i - 1] and seg[i] > seg[i + 1]]
    gap = NOTCH_MS * fs / 1000.0
    for i, p in enumerate(peaks):
        for q in peaks[i + 1:]:
            if q - p >= gap and min(seg[p], seg[q]) - seg[p:q + 1].min() >= NOTCH_UV:
                return True
    return False


def _level(x: NDArray[np.float64], i: int, half: int) -> float | None:
    if i < 0 or i >= x.size:
        return None
    return float(x[max(i - half, 0):i + half + 1].mean())


def _r(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else float(round(v))


def lead_values(x: NDArray[np.float64], fs: float, bd: Boundaries) -> dict[str, Any]:
    """One lead's entry of the matrix from its median beat ``x`` (µV) and the global boundaries
    (``bd.qrs_off`` is the J point)."""
    on, off = bd.qrs_on, bd.qrs_off
    half = max(int(round(POINT_HALF_MS * fs / 1000.0)), 0)
    gap = int(round(BASELINE_GAP_MS * fs / 1000.0))
    width = max(int(round(BASELINE_MS * fs / 1000.0)), 1)
    b1 = max(on - gap, 1)
    b0 = max(b1 - width, 0)
    if bd.p_off is not None:          # stay in the PR segment when it is long enough
        b0 = max(b0, min(bd.p_off, b1 - 1))
    base = float(x[b0:b1].mean())
    y = x - base
    out: dict[str, Any] = dict.fromkeys(LEAD_KEYS)

    # P wave (against the level at its onset) and the PR segment (against the level before P)
    if bd.p_on is not None and bd.p_off is not None and bd.p_off > bd.p_on:
        p_base = _level(x, bd.p_on, half) or 0.0
        p = x[bd.p_on:bd.p_off + 1] - p_base
        out["p_pos_uv"] = _r(max(float(p.max()), 0.0))
        out["p_neg_uv"] = _r(min(float(p.min()), 0.0))
        pre = x[max(bd.p_on - width, 0):bd.p_on + 1]
        out["pr_seg_uv"] = _r(base - float(pre.mean()))

    # QRS waves
    q = y[on:off + 1]
    if q.size >= 3:
        # the lead's own departure from and return to its baseline inside the global span
        moving = np.flatnonzero(np.abs(q) >= MIN_WAVE_UV / 2)
        a = int(moving[0]) if moving.size else 0
        z = int(moving[-1]) + 1 if moving.size else q.size
        lobes = _lobes(q[a:z], fs) if z - a >= 2 else []
        lobes = [(s + a, e + a, pk, k + a) for s, e, pk, k in lobes]
        # a lone lobe under the minimum wave size is no wave (a flat or isoelectric lead: no Q of 0 µV)
        lobes = [lb for lb in lobes if abs(lb[2]) >= MIN_WAVE_UV]
        # a last lobe still at J that has not turned back towards the baseline by a minimum wave
        # (MIN_WAVE_UV) since its peak has no turning point: it is the ST deviation, not an R′ or S
        if lobes and lobes[-1][1] >= q.size and abs(lobes[-1][2]) - abs(q[-1]) < MIN_WAVE_UV:
            lobes = lobes[:-1]
        waves: dict[str, tuple[int, int, float, int]] = {}
        for lobe in lobes:
            positive = lobe[2] > 0
            if "r" not in waves:
                if positive:
                    waves["r"] = lobe
                elif "q" not in waves:
                    waves["q"] = lobe
                else:   # two negative lobes before any R: one QS wave
                    s0, _, pk, k = waves["q"]
                    waves["q"] = (s0, lobe[1], min(pk, lobe[2]), k if pk <= lobe[2] else lobe[3])
            elif "s" not in waves and not positive:
                waves["s"] = lobe
            elif "s" in waves and "rp" not in waves and positive:
                waves["rp"] = lobe
        for name in ("q", "r", "s", "rp"):
            w = waves.get(name)
            out[f"{name}_uv"] = 0.0 if w is None else _r(w[2])
            out[f"{name}_ms"] = 0.0 if w is None else round(_ms(w[1] - w[0], fs))
        out["qrs_pp_uv"] = _r(float(q.max() - min(q.min(), 0.0)) if q.max() > 0 else float(-q.min()))
        last_r = waves.get("rp") or waves.get("r")
        out["r_peak_time_ms"] = None if last_r is None else round(_ms(last_r[3], fs))
        out["r_notched"] = bool(last_r is not None and _notched(q, last_r[0], last_r[1], fs))

    # ST at J, J+60, J+80 (not past the T end)
    end = bd.t_off if bd.t_off is not None else x.size - 1
    for key, dt in (("st_j_uv", 0.0), ("st_60_uv", 60.0), ("st_80_uv", 80.0)):
        i = off + int(round(dt * fs / 1000.0))
        out[key] = _r(_level(y, i, half)) if i <= end else None

    # T wave
    if bd.t_off is not None:
        t0 = off + int(round(T_START_MS * fs / 1000.0))
        if bd.t_off > t0:
            t = y[t0:bd.t_off + 1]
            out["t_pos_uv"] = _r(max(float(t.max()), 0.0))
            out["t_neg_uv"] = _r(min(float(t.min()), 0.0))
    return out


#: QRS activity after a candidate J point: a lead whose slope within :data:`J_LOOK_MS` after J exceeds
#: :data:`J_SLOPE_FRAC` of its own largest QRS slope (and :data:`J_SLOPE_MIN` µV/ms) is still inside its QRS
#: (e.g. the R′ of a right bundle branch block): J moves to where every lead has slowed below that.
J_LOOK_MS = 40.0
J_SLOPE_FRAC = 0.25
J_SLOPE_MIN = 8.0
J_MAX_SHIFT_MS = 60.0


def _j_after_qrs_activity(mb: MedianBeat, bd: Boundaries) -> int:
    """The J point moved past any QRS activity that follows it (see :data:`J_SLOPE_FRAC`), at most
    :data:`J_MAX_SHIFT_MS` later and never past the T peak; ``bd.qrs_off`` when there is none."""
    ms = mb.fs / 1000.0
    x = mb.signal
    d = np.abs(np.gradient(x, axis=1)) * ms                       # µV per ms, the 0.5–40 Hz median beat
    qrs_max = d[:, bd.qrs_on:bd.qrs_off + 1].max(axis=1)
    limit = np.maximum(J_SLOPE_FRAC * qrs_max, J_SLOPE_MIN)
    stop = bd.qrs_off + int(round(J_MAX_SHIFT_MS * ms))
    if bd.t_peak is not None:
        stop = min(stop, bd.t_peak)
    stop = min(stop, x.shape[1] - 1)
    look = int(round(J_LOOK_MS * ms))
    j = bd.qrs_off
    busy = (d > limit[:, None]).any(axis=0)
    if not busy[j:min(j + look, stop) + 1].any():
        return j
    hold = max(int(round(8 * ms)), 1)
    for i in range(j, stop - hold):
        if not busy[i:i + hold].any() and i > j and busy[j:i].any():
            return i
    return j


def lead_matrix(signal: NDArray, fs: float, mb: MedianBeat, bd: Boundaries,
                qrs_ms: float | None = None) -> dict[str, Any] | None:
    """The ``measurements.lead_matrix`` object (see ``docs/analysis-schema.md``), or None when
    the QRS could not be delineated.

    ``signal`` (leads × samples, µV) and ``fs`` are the record's, in ``mb.leads`` order; ``mb``
    and ``bd`` the median beat and global boundaries of :func:`~ecgpilot.signal.measure.measure_detail`.
    ``qrs_ms`` is the reported QRS duration (measured beat by beat): when it ends later than the
    median beat's QRS offset, the J point is QRS onset + ``qrs_ms`` (a J point inside the QRS, e.g.
    the R′ of a bundle branch block, would read the QRS as ST deviation).
    """
    if not bd.qrs_found:
        return None
    if qrs_ms is not None and np.isfinite(qrs_ms):
        j_beat = bd.qrs_on + int(round(qrs_ms * mb.fs / 1000.0))
        if j_beat > bd.qrs_off and (bd.t_off is None or j_beat < bd.t_off):
            bd = dataclasses.replace(bd, qrs_off=j_beat)
    j_end = _j_after_qrs_activity(mb, bd)
    if j_end > bd.qrs_off:
        bd = dataclasses.replace(bd, qrs_off=j_end)
    wide = median_beat_wide(signal, fs, mb)
    to_ms = 1000.0 / mb.fs

    def rel(i: int | None) -> float | None:
        return None if i is None else round((i - mb.fiducial) * to_ms, 1)

    j = rel(bd.qrs_off)
    assert j is not None
    return {
        "baseline": "pr_segment",
        "points_ms": {"qrs_on": rel(bd.qrs_on), "j": j, "j60": round(j + 60.0, 1), "j80": round(j + 80.0, 1),
                      "t_off": rel(bd.t_off)},
        "beats_s": [round(float(b) / mb.fs, 3) for b in mb.beats],
        "leads": {name: lead_values(wide[i], mb.fs, bd) for i, name in enumerate(mb.leads)},
    }
