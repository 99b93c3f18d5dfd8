"""Representative (median) beats and global wave boundaries (P, QRS, T) across leads.

Like commercial programs, boundaries are *global*: found once on the median beats of
all leads together, which amounts to the earliest onset / latest offset over leads:

* the median beat of each lead is the sample-wise median of the dominant beats
  (correlation with the template ≥ :data:`DOMINANT_CORR`), aligned by cross-correlation;
* QRS onset/offset: where the **spatial velocity** (root sum of squares over the
  independent leads of the first difference) leaves / returns to its floor plus
  :data:`QRS_ON_FRAC` / :data:`QRS_OFF_FRAC` of its QRS peak, for at least :data:`HOLD_MS`,
  then walked to the foot of the slope (≤ :data:`FOOT_MS`); a wave rising again above
  :data:`RETRIGGER_FRAC` within :data:`RETRIGGER_MS` after the offset (RBBB R') is included;
* T end: on the spatial magnitude of the ST-T (root mean square over leads of the median
  beat minus its level at QRS onset, 15 Hz low-pass), the knee after the T peak found by the
  trapezium-area method (Vázquez-Seisdedos et al. 2011) within :data:`T_TAIL_MS` of the peak;
* P: largest spatial magnitude before QRS onset; it is "absent" (None) when smaller than
  :data:`P_MIN_UV` µV or not repeated beat to beat (median correlation < :data:`P_MIN_CORR`),
  e.g. atrial fibrillation; onset/offset at :data:`P_ON_FRAC` / :data:`P_OFF_FRAC` of its
  peak above the local floor, walked to the foot (≤ :data:`P_FOOT_MS`);
* paced beats: a pacemaker spike (:func:`pacing_spike`) is not part of the P wave, and the
  QRS starts :data:`SPIKE_SKIP_MS` after it.

Thresholds were tuned on LUDB records 1–100 only (see ``benchmarks/results/measurements.md``).
Since 2026-12-05 (QT Database, ``benchmarks/results/qtdb.md``; chosen on its tuning half and LUDB
1–100) the QRS offset is at :data:`QRS_OFF_FRAC_V2` of the velocity peak on the median beat and at
:data:`BEAT_QRS_OFF_FRAC_V2` beat by beat (:func:`beat_qrs_ms`), and the T peak is searched from
:data:`T_START_MS` after the QRS offset, and on recordings of at most :data:`T_LOBE_MAX_LEADS`
leads a late T lobe of opposite sign (biphasic T) extends the T end (:func:`_late_lobe`); ``delineate(..., legacy=True)`` keeps
the former boundaries (the shipped classifier's features were computed with them). The T end is
also found per lead (:func:`lead_t_ends`) and per beat (:func:`beat_boundaries`) to tell how much
it disagrees (:func:`t_end_spread_ms`), which decides whether the QT is reliable.
All functions are pure; times are sample indices into the median beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ecgpilot.leads import LIMB_INDEPENDENT
from ecgpilot.signal.filters import bandpass, lowpass, moving_average

__all__ = ["MedianBeat", "Boundaries", "median_beats", "delineate", "beat_boundaries", "t_end_spread_ms", "lead_t_ends",
           "qrs_bounds", "beat_qrs_ms", "pacing_spike"]

HIGHPASS_HZ = 0.5
LOWPASS_HZ = 40.0
ALIGN_MS = 20.0
DOMINANT_CORR = 0.80
HOLD_MS = 8.0
QRS_ON_FRAC = 0.05
QRS_OFF_FRAC = 0.05
QRS_MAX_MS = 220.0
T_LOWPASS_HZ = 15.0
T_TAIL_MS = 220.0
FOOT_MS = 10.0
P_FOOT_MS = 10.0
RETRIGGER_MS = 50.0
RETRIGGER_FRAC = 0.15
P_LOWPASS_HZ = 15.0
P_ON_FRAC = 0.15
P_OFF_FRAC = 0.20
P_MIN_UV = 20.0
P_MIN_CORR = 0.30
P_MIN_CORR_V2 = 0.60  # LUDB 1-100: sinus P waves 0.79-0.99, fibrillatory/flutter "P" 0.42-0.44 (not legacy)
P_SEARCH_MS = 330.0
P_HALF_MS = 120.0
SPIKE_RATIO = 5.0
BEAT_QRS_ON_FRAC = 0.05   # the QRS duration is measured beat by beat (beat_qrs_ms), offset at 3 % of the
BEAT_QRS_OFF_FRAC = 0.03  # peak: a single beat's velocity floor is noisier than the median beat's (chosen on LUDB 1-100)
BEAT_QRS_MIN = 3          # fewer dominant beats with a found QRS: the median beat's duration is kept
BEAT_QRS_MAX = 100        # long recordings: at most this many beats, evenly spread, are measured one by one
SPIKE_MIN_FS = 250.0
SPIKE_SKIP_MS = 8.0
NOISE_MAX_FRAC = 0.22  # LUDB maximum 0.16
# Since 2026-12-05 (chosen on the QT Database tuning half and LUDB 1-100; ``legacy=True`` keeps the former values):
QRS_OFF_FRAC_V2 = 0.08    # median-beat QRS offset at 8 % of the velocity peak (was 5 %)
BEAT_QRS_OFF_FRAC_V2 = 0.08  # per-beat QRS offset (the reported QRS duration) at 8 % (was 3 %)
T_START_MS = 120.0        # the T peak is searched from QRS offset + 120 ms (was + 60 ms)
T_LOBE_FRAC = 0.2         # a later lobe of opposite sign this large (share of the T) extends the T (biphasic T)
T_LOBE_LOOK_MS = 120.0    # ... when it peaks within this time after the first T end
T_LOBE_TAIL_MS = 120.0    # ... and its end is searched this far after its peak
T_LOBE_MAX_MS = T_TAIL_MS  # ... and ends at most this long after the T peak, as the T end search
T_LOBE_MAX_LEADS = 3      # ... on recordings with at most this many leads (Holter, monitor, handheld)
BEAT_REFINE_MS = 40.0     # per-beat boundaries are searched this close to the global ones
SPREAD_MAX_BEATS = 30     # beats whose T end enters the T-end spread (evenly spread)
LEAD_T_PEAK_MS = 40.0     # a lead's T peak is searched this close to the global one
T_LEAD_MIN_FRAC = 0.7     # leads whose T is smaller than this share of the largest have no T end of their own


@dataclass(frozen=True)
class MedianBeat:
    """Median beat of every lead. ``signal`` (leads × samples, µV, 0.5–40 Hz filtered)
    has the QRS fiducial at index ``fiducial``; ``beats`` are the aligned beat
    positions (record samples) that were averaged; ``segments`` the aligned beats."""

    signal: NDArray[np.float64]
    fs: float
    leads: tuple[str, ...]
    fiducial: int
    beats: NDArray[np.int64]
    segments: NDArray[np.float64]
    rr_s: float  # median RR interval (s)


@dataclass(frozen=True)
class Boundaries:
    """Global boundaries as sample indices in the median beat (None = absent).

    ``qrs_found`` is False when the QRS never returned to its baseline within the search
    limits (noise): the QRS-based intervals are then not reported.
    """

    p_on: int | None
    p_off: int | None
    qrs_on: int
    qrs_off: int
    t_peak: int | None
    t_off: int | None
    qrs_found: bool = True
    #: T end per lead (None where the lead has no T wave); None with the legacy delineation
    lead_t_off: tuple[int | None, ...] | None = None


def _window(rr_s: float) -> tuple[float, float]:
    pre = float(np.clip(0.5 * rr_s, 0.25, 0.45))
    post = float(np.clip(rr_s - 0.12, 0.35, 0.75))
    return pre, post


def _median0(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.median(a, axis=0)`` of finite values, by sorting (same values, faster for the
    few to few dozen beats of a recording)."""
    s = np.sort(np.moveaxis(a, 0, -1), axis=-1)
    k = s.shape[-1] // 2
    return s[..., k] if s.shape[-1] % 2 else (s[..., k - 1] + s[..., k]) / 2


def median_beats(signal: NDArray, fs: float, leads: tuple[str, ...], beats: NDArray[np.int64]) -> MedianBeat | None:
    """Median beat per lead from the dominant beats; None when fewer than 2 beats fit
    in the recording with their whole window, or fewer than 2 are alike."""
    x = bandpass(np.atleast_2d(signal), fs, HIGHPASS_HZ, LOWPASS_HZ)
    beats = np.asarray(beats, dtype=np.int64)
    if beats.size < 2:
        return None
    rr_s = float(np.median(np.diff(beats))) / fs
    pre_s, post_s = _window(rr_s)
    pad = int(round(ALIGN_MS * fs / 1000))
    pre, post = int(round(pre_s * fs)), int(round(post_s * fs))
    n = x.shape[1]
    ok = (beats - pre - pad >= 0) & (beats + post + pad < n)
    b = beats[ok]
    if b.size < 2:
        return None
    # alignment on the QRS (±80 ms), all leads together, by cross-correlation with the median
    q = int(round(0.08 * fs))
    wide = x[:, b[:, None] + np.arange(-q - pad, q + pad + 1)[None, :]].transpose(1, 0, 2)  # beats × leads × samples
    template = _median0(wide[:, :, pad:pad + 2 * q + 1])
    lags = np.arange(-pad, pad + 1)
    scores = np.empty((b.size, lags.size))
    for k in range(lags.size):
        scores[:, k] = np.einsum("bls,ls->b", np.ascontiguousarray(wide[:, :, k:k + 2 * q + 1]), template)
    b = b + lags[np.argmax(scores, axis=1)]
    # dominant beats: correlation of the QRS with the template
    core = x[:, b[:, None] + np.arange(-q, q + 1)[None, :]].transpose(1, 0, 2).reshape(b.size, -1)
    tmpl = _median0(core)
    cc = (core - core.mean(1, keepdims=True)) @ (tmpl - tmpl.mean())
    cc /= np.linalg.norm(core - core.mean(1, keepdims=True), axis=1) * np.linalg.norm(tmpl - tmpl.mean()) + 1e-12
    dom = cc >= DOMINANT_CORR
    if dom.sum() < 2:
        dom = cc >= np.median(cc)
    b = b[dom]
    if b.size < 2:  # one beat is not a representative beat
        return None
    idx = b[:, None] + np.arange(-pre, post + 1)[None, :]
    segs = x[:, idx].transpose(1, 0, 2)
    med = _median0(segs)
    return MedianBeat(signal=med, fs=float(fs), leads=tuple(leads), fiducial=pre, beats=b, segments=segs, rr_s=rr_s)


def _independent(leads: tuple[str, ...]) -> list[int]:
    rows = [i for i, name in enumerate(leads) if name in LIMB_INDEPENDENT]
    return rows if len(rows) >= 2 else list(range(len(leads)))


def _first_quiet(curve: NDArray, start: int, stop: int, thr: float, hold: int) -> int:
    """First index from ``start`` towards ``stop`` (either direction) where ``curve``
    stays below ``thr`` for ``hold`` samples; ``stop`` if none."""
    step = 1 if stop >= start else -1
    run = 0
    for i in range(start, stop, step):
        run = run + 1 if curve[i] < thr else 0
        if run >= hold:
            return i - step * (hold - 1)
    return stop


def pacing_spike(signal: NDArray, fs: float, beats: NDArray[np.int64]) -> int | None:
    """Offset (samples, relative to the beats) of a pacemaker spike before the QRS, or None.

    A spike is a one-to-two-sample deflection: the summed absolute second difference of the
    raw leads, at its maximum from 200 to 10 ms before each beat (median over beats), is
    more than :data:`SPIKE_RATIO` times its 99th percentile over the recording. Not
    assessed below :data:`SPIKE_MIN_FS` Hz, where spikes are filtered out by the device.
    """
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    beats = np.asarray(beats, dtype=np.int64)
    if fs < SPIKE_MIN_FS or beats.size < 2 or x.shape[1] < 3:
        return None
    s = np.zeros(x.shape[1])
    s[1:-1] = np.abs(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]).sum(axis=0)
    pre, post = int(round(0.2 * fs)), -int(round(0.01 * fs))
    b = beats[(beats - pre >= 0) & (beats + post < x.shape[1])]
    if b.size < 2:
        return None
    win = s[b[:, None] + np.arange(-pre, post + 1)[None, :]]
    ref = float(np.percentile(s, 99))
    if ref <= 0 or np.median(win.max(axis=1)) < SPIKE_RATIO * ref:
        return None
    return int(np.median(np.argmax(win, axis=1))) - pre


def qrs_bounds(m: NDArray[np.float64], fs: float, leads: tuple[str, ...], f: int, spike: int | None = None,
               on_frac: float = QRS_ON_FRAC, off_frac: float = QRS_OFF_FRAC) -> tuple[int, int, bool]:
    """QRS onset, offset (sample indices) and whether the QRS was found, on one beat ``m``
    (leads × samples, the QRS near sample ``f``): the spatial-velocity search of :func:`delineate`."""
    ms = fs / 1000.0
    rows = _independent(leads)
    n = m.shape[1]
    # spatial velocity
    w = int(round(60 * ms))
    lo, hi = max(f - w, 0), min(f + w, n - 1)
    d = np.gradient(m[rows], axis=1)
    sv = moving_average(np.sqrt((d * d).sum(axis=0)), max(int(round(4 * ms)), 1))
    if spike is not None:  # paced: the QRS is what follows the spike
        lo = min(max(f + spike + int(round(SPIKE_SKIP_MS * ms)), 1), n - 2)
        hi = min(lo + int(round(150 * ms)), n - 1)
    peak = lo + int(np.argmax(sv[lo:hi + 1]))
    floor = float(np.percentile(sv, 10))
    span = float(sv[peak]) - floor
    hold = max(int(round(HOLD_MS * ms)), 1)
    on_lim = lo if spike is not None else max(peak - int(round(QRS_MAX_MS * 0.7 * ms)), 1)
    off_lim = min(peak + int(round(QRS_MAX_MS * 0.8 * ms)), n - 2)
    qrs_on = _first_quiet(sv, peak, on_lim, floor + on_frac * span, hold)
    qrs_off = _first_quiet(sv, peak, off_lim, floor + off_frac * span, hold)
    # not found: no return to baseline within the limits, or a baseline as busy as the QRS
    qrs_found = (
        (qrs_on != on_lim or spike is not None)
        and qrs_off != off_lim
        and float(np.percentile(sv, 75)) - floor < NOISE_MAX_FRAC * span
    )
    look = int(round(RETRIGGER_MS * ms))
    for _ in range(3):  # a terminal wave after a short pause (RBBB R', notch) belongs to the QRS
        seg = sv[qrs_off:min(qrs_off + look, off_lim) + 1]
        if seg.size == 0 or seg.max() < RETRIGGER_FRAC * span:
            break
        qrs_off = _first_quiet(sv, qrs_off + int(np.argmax(seg)), off_lim, floor + off_frac * span, hold)
    if FOOT_MS > 0:
        qrs_on = _foot(sv, qrs_on, -1, int(round(FOOT_MS * ms)))
        qrs_off = _foot(sv, qrs_off, 1, int(round(FOOT_MS * ms)))
    if spike is not None:
        qrs_on = max(qrs_on, lo)

    return qrs_on, qrs_off, qrs_found


def beat_qrs_ms(mb: MedianBeat, spike: int | None = None, off_frac: float = BEAT_QRS_OFF_FRAC_V2) -> float | None:
    """QRS duration (ms) measured on each dominant beat (``mb.segments``, aligned) and the median
    taken over beats, as cardiologists measure it beat by beat; None with fewer than
    :data:`BEAT_QRS_MIN` beats whose QRS is found (at most :data:`BEAT_QRS_MAX` beats, evenly spread).
    ``off_frac``: QRS offset threshold (:data:`BEAT_QRS_OFF_FRAC` before 2026-12-05)."""
    segs = mb.segments
    if len(segs) > BEAT_QRS_MAX:
        segs = segs[np.linspace(0, len(segs) - 1, BEAT_QRS_MAX).round().astype(int)]
    found = [b - a for a, b, ok in (qrs_bounds(seg, mb.fs, mb.leads, mb.fiducial, spike, BEAT_QRS_ON_FRAC,
                                                off_frac) for seg in segs) if ok]
    return float(np.median(found)) * 1000.0 / mb.fs if len(found) >= BEAT_QRS_MIN else None


def delineate(mb: MedianBeat, spike: int | None = None, legacy: bool = False) -> Boundaries:
    """Global P/QRS/T boundaries of a median beat.

    ``spike``: position of a pacemaker spike relative to the fiducial (see
    :func:`pacing_spike`); the QRS then starts just after it, as cardiologists mark it.
    ``legacy``: the boundaries before 2026-12-05 (QRS offset at :data:`QRS_OFF_FRAC`, T peak
    searched from QRS offset + 60 ms, no per-lead T ends).
    """
    fs = mb.fs
    ms = fs / 1000.0
    m = mb.signal
    n = m.shape[1]
    f = mb.fiducial
    if legacy:
        qrs_on, qrs_off, qrs_found = qrs_bounds(m, fs, mb.leads, f, spike)
    else:
        qrs_on, qrs_off, qrs_found = qrs_bounds(m, fs, mb.leads, f, spike, QRS_ON_FRAC, QRS_OFF_FRAC_V2)
    hold = max(int(round(HOLD_MS * ms)), 1)

    # levels at QRS onset (PR segment) per lead
    a = max(qrs_on - int(round(10 * ms)), 0)
    base = m[:, a:qrs_on + 1].mean(axis=1, keepdims=True)
    centred = m - base

    # T wave on the spatial magnitude (all leads), before the next P wave
    low_t = lowpass(centred, fs, T_LOWPASS_HZ)
    tm = np.sqrt((low_t ** 2).mean(axis=0))
    rr = mb.rr_s
    t0 = min(qrs_off + int(round(60 * ms)), n - 2)
    peak_hi = min(f + int(round(min(0.45, 0.55 * rr) * fs)), n - 1)
    end_hi = min(f + int(round(max(min(rr - 0.20, 0.70), 0.62 * rr) * fs)), n - 1)
    t_peak = t_off = None
    lead_t = None
    if peak_hi - t0 > int(round(20 * ms)):
        ts = t0 if legacy else min(qrs_off + int(round(T_START_MS * ms)), peak_hi - int(round(20 * ms)))
        t_peak = ts + int(np.argmax(tm[ts:peak_hi + 1]))
        end_hi = min(max(end_hi, t_peak + hold + 1), n - 1)
        t_stop = min(end_hi, t_peak + int(round(T_TAIL_MS * ms)))
        t_off = _trapezium_end(tm, t_peak, t_stop)
        if not legacy:
            lobe_hi = min(end_hi, t_peak + int(round(T_LOBE_MAX_MS * ms))) if m.shape[0] <= T_LOBE_MAX_LEADS else None
            lead_t = lead_t_ends(low_t, fs, t_peak, t_stop)
            if lobe_hi is not None:
                t_off = _late_lobe(low_t, fs, t_peak, t_off, lobe_hi)

    # P wave on the spatial magnitude before QRS onset
    p_on = p_off = None
    low_p = low_t if P_LOWPASS_HZ == T_LOWPASS_HZ else lowpass(centred, fs, P_LOWPASS_HZ)
    pm_all = np.sqrt((low_p ** 2).mean(axis=0))
    s0 = max(qrs_on - int(round(P_SEARCH_MS * ms)), 0)
    s1 = qrs_on - int(round(20 * ms))
    if spike is not None:  # the filtered pacing spike is not a P wave
        s1 = min(s1, f + spike - int(round(20 * ms)))
    if s1 > s0 and pm_all[s0] >= 0.5 * pm_all[s0:s1].max():  # window starts in the previous T
        top = s0 + int(np.argmax(pm_all[s0:s1]))
        top = s0 if top == s0 else _foot(-pm_all, s0, 1, top - s0)  # climb to its peak if rising
        s0 = _foot(pm_all, top, 1, max(s1 - top, 0))  # then down to the T–P trough
    if s1 - s0 > int(round(40 * ms)):
        pk = s0 + int(np.argmax(pm_all[s0:s1]))
        amp = float(pm_all[pk])
        half = int(round(P_HALF_MS * ms))  # a P wave lasts at most ~2 × P_HALF_MS
        lo_on = max(s0 - int(round(60 * ms)), pk - half, 0)
        hi_off = min(qrs_on, pk + half)
        floor_on = float(pm_all[lo_on:pk + 1].min())
        floor_off = float(pm_all[pk:hi_off + 1].min())
        if amp - floor_on >= P_MIN_UV and pk > s0:
            on = _first_quiet(pm_all, pk, lo_on, floor_on + P_ON_FRAC * (amp - floor_on), hold)
            if on <= lo_on:  # no flat baseline before P (fused with the T wave at fast rates)
                trough = lo_on + int(np.argmin(pm_all[lo_on:pk + 1]))
                if trough > lo_on and pm_all[trough] < 0.5 * amp:
                    on = trough
            off = _first_quiet(pm_all, pk, hi_off, floor_off + P_OFF_FRAC * (amp - floor_off), hold)
            if P_FOOT_MS > 0:
                on = _foot(pm_all, on, -1, int(round(P_FOOT_MS * ms)))
                off = min(_foot(pm_all, off, 1, int(round(P_FOOT_MS * ms))), qrs_on)
            if on > 0 and off > on and _p_repeats(mb, on, off, P_MIN_CORR if legacy else P_MIN_CORR_V2):
                p_on, p_off = on, off
    return Boundaries(p_on=p_on, p_off=p_off, qrs_on=qrs_on, qrs_off=qrs_off, t_peak=t_peak, t_off=t_off,
                      qrs_found=qrs_found, lead_t_off=None if lead_t is None else tuple(lead_t))


def beat_boundaries(mb: MedianBeat, bd: Boundaries, spike: int | None = None) -> dict[str, NDArray[np.int64]]:
    """Boundaries of each dominant beat (``mb.segments``, indices in median-beat samples; −1 where
    not found), refined near the global ones: QRS onset/offset by the search of :func:`qrs_bounds`
    on the beat itself (kept only within :data:`BEAT_REFINE_MS` of the global boundary), T end
    by the trapezium knee of the beat's own spatial T magnitude after its T peak (searched within
    :data:`BEAT_REFINE_MS` of the global T peak)."""
    fs = mb.fs
    ms = fs / 1000.0
    segs = mb.segments
    nb, _, n = segs.shape
    out = {k: np.full(nb, -1, dtype=np.int64) for k in ("qrs_on", "qrs_off", "t_peak", "t_off")}
    lim = int(round(BEAT_REFINE_MS * ms))
    tail = int(round(T_TAIL_MS * ms))
    for i in range(nb):
        on, off, ok = qrs_bounds(segs[i], fs, mb.leads, mb.fiducial, spike, QRS_ON_FRAC, QRS_OFF_FRAC_V2)
        out["qrs_on"][i] = on if ok and abs(on - bd.qrs_on) <= lim else bd.qrs_on
        out["qrs_off"][i] = off if ok and abs(off - bd.qrs_off) <= lim else bd.qrs_off
    if bd.t_peak is None or bd.t_off is None:
        return out
    a = max(out["qrs_on"].min() - int(round(10 * ms)), 0)
    lo, hi = max(bd.t_peak - lim, 0), min(bd.t_peak + lim, n - 1)
    stop_max = min(bd.t_off + tail, n - 1)
    for i in range(nb):
        q = int(out["qrs_on"][i])
        b0 = max(q - int(round(10 * ms)), 0)
        c = segs[i] - segs[i][:, b0:q + 1].mean(axis=1, keepdims=True)
        tm = np.sqrt((lowpass(c[:, a:], fs, T_LOWPASS_HZ) ** 2).mean(axis=0))
        pk = lo + int(np.argmax(tm[lo - a:hi - a + 1]))
        stop = min(pk + tail, stop_max)
        out["t_peak"][i] = pk
        out["t_off"][i] = a + _trapezium_end(tm, pk - a, stop - a)
    return out


def t_end_spread_ms(mb: MedianBeat, bd: Boundaries, spike: int | None = None) -> float | None:
    """How much the T end disagrees across leads and beats (ms), None without a T end.

    The median over leads (:attr:`Boundaries.lead_t_off`, leads with a T wave) of the distance
    between the lead's T end and the global one, plus the median absolute deviation of the T ends
    found on each dominant beat (:func:`beat_boundaries`, at most :data:`SPREAD_MAX_BEATS` beats,
    evenly spread). Both are 0 on a clean recording whose leads agree."""
    if bd.t_off is None or bd.t_peak is None:
        return None
    to_ms = 1000.0 / mb.fs
    ends = [e for e in (bd.lead_t_off or ()) if e is not None]
    lead = float(np.median(np.abs(np.asarray(ends) - bd.t_off))) if ends else 0.0
    sub = mb
    if len(mb.segments) > SPREAD_MAX_BEATS:
        keep = np.linspace(0, len(mb.segments) - 1, SPREAD_MAX_BEATS).round().astype(int)
        sub = MedianBeat(signal=mb.signal, fs=mb.fs, leads=mb.leads, fiducial=mb.fiducial, beats=mb.beats[keep],
                         segments=mb.segments[keep], rr_s=mb.rr_s)
    te = beat_boundaries(sub, bd, spike)["t_off"]
    te = te[te >= 0].astype(np.float64)
    beat = float(np.median(np.abs(te - np.median(te)))) if te.size >= 3 else 0.0
    return (lead + beat) * to_ms


def lead_t_ends(low: NDArray[np.float64], fs: float, t_peak: int, stop: int) -> list[int | None]:
    """T end per lead of ``low`` (leads × samples, centred on the PR level, low-passed): the
    trapezium-area knee of the lead's T wave, taken with the sign it has at the global T peak,
    from its own extremum within :data:`LEAD_T_PEAK_MS` of ``t_peak`` up to ``stop``; None where
    the lead's T is smaller than :data:`T_LEAD_MIN_FRAC` of the largest lead's."""
    ms = fs / 1000.0
    w = int(round(LEAD_T_PEAK_MS * ms))
    lo, hi = max(t_peak - w, 0), min(t_peak + w, low.shape[1] - 1)
    amp = np.abs(low[:, lo:hi + 1]).max(axis=1)
    out: list[int | None] = []
    for y, a in zip(low, amp):
        if a < T_LEAD_MIN_FRAC * amp.max() or a <= 0:
            out.append(None)
            continue
        sgn = 1.0 if y[t_peak] >= 0 else -1.0
        pk = lo + int(np.argmax(sgn * y[lo:hi + 1]))
        out.append(_trapezium_end(sgn * y, pk, stop) if stop > pk else None)
    return out


def _late_lobe(low: NDArray[np.float64], fs: float, t_peak: int, t_off: int, end_hi: int) -> int:
    """T end moved past a second lobe of opposite sign (biphasic T, or a small T after a deep
    ST-T deflection) in the lead with the largest T (see :func:`_lobe_end`)."""
    y = low[int(np.argmax(np.abs(low[:, t_peak])))]
    return _lobe_end(y, 1.0 if y[t_peak] >= 0 else -1.0, abs(float(y[t_peak])), t_off, end_hi, fs)


def _lobe_end(y: NDArray[np.float64], sgn: float, amp: float, t_off: int, end_hi: int, fs: float) -> int:
    """End of a deflection of ``y`` opposite to ``sgn`` peaking within :data:`T_LOBE_LOOK_MS` after
    ``t_off`` and at least :data:`T_LOBE_FRAC` × ``amp`` (its trapezium-area knee, at most
    :data:`T_LOBE_TAIL_MS` after its peak and not after ``end_hi``); ``t_off`` when there is none."""
    ms = fs / 1000.0
    hi = min(t_off + int(round(T_LOBE_LOOK_MS * ms)), end_hi)
    if hi - t_off < 3:
        return t_off
    seg = -sgn * y[t_off:hi + 1]
    j = int(np.argmax(seg))
    if 0 < j < len(seg) - 1 and seg[j] >= T_LOBE_FRAC * amp:
        pk = t_off + j
        return _trapezium_end(-sgn * y, pk, min(pk + int(round(T_LOBE_TAIL_MS * ms)), end_hi))
    return t_off


def _foot(curve: NDArray[np.float64], i: int, step: int, limit: int) -> int:
    """Walk from ``i`` in direction ``step`` while ``curve`` keeps decreasing (≤ ``limit`` samples)."""
    n = len(curve)
    for _ in range(limit):
        j = i + step
        if j < 0 or j >= n or curve[j] > curve[i]:
            break
        i = j
    return i


def _trapezium_end(curve: NDArray[np.float64], peak: int, stop: int) -> int:
    """Wave end by the trapezium-area method: from the steepest descent after ``peak``,
    the point maximising the area of the trapezium up to ``stop`` (the curve's knee)."""
    if stop - peak < 3:
        return stop
    slope = np.diff(curve[peak:stop + 1])
    m = peak + int(np.argmin(slope))
    t = np.arange(m, stop + 1)
    area = 0.5 * (curve[m] - curve[t]) * (2 * stop - t - m)
    return int(t[np.argmax(area)])


def _p_repeats(mb: MedianBeat, on: int, off: int, min_corr: float = P_MIN_CORR) -> bool:
    """True when the beats' P segments correlate with the median P (a real, repeated P wave):
    median correlation at least ``min_corr``."""
    if mb.segments.shape[0] < 3:
        return True
    seg = mb.segments[:, :, on:off + 1]
    seg = seg - seg.mean(axis=2, keepdims=True)
    ref = mb.signal[:, on:off + 1]
    ref = ref - ref.mean(axis=1, keepdims=True)
    num = (seg * ref[None]).sum(axis=(1, 2))
    den = np.sqrt((seg * seg).sum(axis=(1, 2)) * (ref * ref).sum()) + 1e-12
    return float(np.median(num / den)) >= min_corr
