"""Atrial activity for :mod:`ecgpilot.signal.rhythm`: QRS-T cancellation, the atrial waves found in the
residual (discrete P waves, beat by beat) and the spectrum of organised atrial activity (flutter), with
their thresholds (steps 2 to 4 of the method in :mod:`ecgpilot.signal.rhythm`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks


# --- cancellation and atrial waves ----------------------------------------------------------
QRS_MASK_PRE_MS, QRS_MASK_POST_MS = 10.0, 20.0
T_END_PAD_MS = 40.0
SCALE_RANGE = (0.7, 1.3)
RESIDUAL_BAND_HZ = (2.0, 15.0)  # P-wave / flutter band; 2 Hz removes what is left of the baseline
EDGE_MS = 150.0  # filter edges are not used
ATRIAL_LEADS = ("II", "III", "aVF", "V1", "I", "V2")
#: Atrial waves at most 300/min apart as discrete waves (faster organised activity is flutter).
ATRIAL_REFRACTORY_MS = 200.0
ATRIAL_NOISE_K = 3.0
ATRIAL_MIN_UV = 12.0
P_HALF_MS = 60.0
P_KEEP_CORR = 0.5
#: Per-beat search in the PR window (where a P is expected): lower amplitude, higher likeness.
P_BEAT_K = 2.0
P_BEAT_MIN_UV = 8.0
P_BEAT_CORR = 0.6
#: Search near the median beat's P: ± this around its place, correlation with the residual's median there.
SEED_LAG_MS = 40.0
P_SEED_CORR = 0.6
#: When P waves precede at least this share of QRS, an atrial wave outside the PR windows (a
#: blocked P) is kept only if it correlates ≥ P_EXTRA_CORR with them at P_EXTRA_AMP × their size.
EXTRA_MIN_SHARE = 0.5
P_EXTRA_CORR = 0.8
P_EXTRA_AMP = (0.5, 2.0)
P_CONSISTENT_CORR = 0.7
#: P peak to QRS onset window (ms) for "a P before this QRS": PR 120–200 ms normal, up to
#: ~ 400 ms in first-degree block (P onset ~ 50 ms before its peak).
PR_PEAK_MIN_MS, PR_PEAK_MAX_MS = 40.0, 400.0
P_ONSET_FRAC = 0.2
# --- organised atrial activity --------------------------------------------------------------
#: Flutter waves 210–420/min (typical flutter ~ 300/min, cycle 200–260 ms; atypical slower/faster).
FLUTTER_BAND_HZ = (3.5, 7.0)
FLUTTER_LEADS = ("II", "III", "aVF", "V1")
SPECTRUM_BAND_HZ = (1.5, 20.0)
OI_HALF_HZ = 0.4
FLUTTER_OI_MIN = 0.6
#: Above this organisation, flutter waves taken 1:1 for P waves (2:1 flutter) still count as flutter.
FLUTTER_OI_STRONG = 0.6
FLUTTER_MIN_UV = 40.0


def _cancel(x: NDArray[np.float64], fs: float, beats: NDArray[np.int64], dominant: NDArray[np.bool_],
            a: int, e: int, qrs_on: int, qrs_off: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Residual of ``x`` after subtracting the median QRS-T ([-a, e] around each dominant beat)
    and the mask of usable samples (QRS of every beat, whole QRS-T of other beats masked)."""
    n = x.shape[1]
    res = x.copy()
    valid = np.ones(n, dtype=bool)
    fit = dominant & (beats - a >= 0) & (beats + e < n)
    m_pre, m_post = int(round(QRS_MASK_PRE_MS * fs / 1000)), int(round(QRS_MASK_POST_MS * fs / 1000))
    if fit.sum() >= 2:
        idx = beats[fit][:, None] + np.arange(-a, e + 1)[None, :]
        tmpl = np.median(x[:, idx], axis=1)  # leads × samples
        k = max(int(round(0.005 * fs)), 1)
        left, right = tmpl[:, :k].mean(axis=1), tmpl[:, -k:].mean(axis=1)
        ramp = np.linspace(0.0, 1.0, tmpl.shape[1])
        tmpl = tmpl - left[:, None] - (right - left)[:, None] * ramp[None, :]
        tt = (tmpl * tmpl).sum(axis=1) + 1e-9
        taper_n = max(int(round(0.02 * fs)), 2)
        for j, b in enumerate(beats):
            if not dominant[j]:
                continue
            lo = b - a
            hi = min(b + e + 1, n, (beats[j + 1] - a) if j + 1 < beats.size else n)
            t0 = max(0, -lo)
            if hi - max(lo, 0) < a + qrs_off:
                continue
            seg = tmpl[:, t0:hi - lo]
            if hi - lo < tmpl.shape[1]:  # cut by the next beat: fade the end out
                w = np.ones(seg.shape[1])
                tn = min(taper_n, seg.shape[1])
                w[-tn:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, tn))
                seg = seg * w
            piece = res[:, lo + t0:hi]
            scale = np.clip((piece * seg).sum(axis=1) / tt, *SCALE_RANGE) if t0 == 0 else np.ones(len(seg))
            res[:, lo + t0:hi] = piece - scale[:, None] * seg
    else:
        dominant = np.zeros_like(dominant)
    for j, b in enumerate(beats):
        if dominant[j] and fit.sum() >= 2:
            valid[max(b + qrs_on - m_pre, 0):min(b + qrs_off + m_post + 1, n)] = False
        else:
            valid[max(b - a - m_post * 3, 0):min(b + e + 1, n)] = False
    return res, valid


def _seeded(r: NDArray[np.float64], env: NDArray[np.float64], valid: NDArray[np.bool_], onsets: NDArray[np.int64],
            p_expect: int, half: int, fs: float) -> tuple[NDArray[np.int64], list[float], NDArray[np.float64] | None]:
    """P waves searched beat by beat near where the median beat has its P (``p_expect`` samples
    from the QRS onset, ± :data:`SEED_LAG_MS`): best correlation with the median of the residual
    at that place; kept when ≥ :data:`P_SEED_CORR` and ≥ :data:`P_BEAT_MIN_UV`."""
    n = r.shape[1]
    lag = int(round(SEED_LAG_MS * fs / 1000))
    pos = onsets + p_expect
    pos = pos[(pos - half - lag >= 0) & (pos + half + lag < n)]
    if pos.size < 3:
        return np.zeros(0, dtype=np.int64), [], None
    win = np.arange(-half, half + 1)
    seed = np.median(r[:, pos[:, None] + win[None, :]], axis=1)
    seed = seed - seed.mean(axis=1, keepdims=True)
    sflat = seed.ravel() / (np.linalg.norm(seed) + 1e-12)
    lags = np.arange(-lag, lag + 1)
    centre = pos[:, None] + lags[None, :]                                   # beats × lags
    seg = r[:, centre[:, :, None] + win[None, None, :]]                      # leads × beats × lags × samples
    seg = seg - seg.mean(axis=3, keepdims=True)
    seg = np.moveaxis(seg, 0, 2).reshape(pos.size, lags.size, -1)            # beats × lags × (leads·samples)
    cc = seg @ sflat / (np.linalg.norm(seg, axis=2) + 1e-12)
    best = np.argmax(cc, axis=1)
    at = centre[np.arange(pos.size), best]
    c = cc[np.arange(pos.size), best]
    ok = (c >= P_SEED_CORR) & (env[at] >= P_BEAT_MIN_UV) & valid[at]
    return at[ok].astype(np.int64), list(c[ok]), seed


def _atrial_waves(r: NDArray[np.float64], valid: NDArray[np.bool_], fs: float, onsets: NDArray[np.int64],
                  p_expect: int | None = None) -> tuple[NDArray[np.int64], float | None, float | None]:
    """Atrial wave peaks in the residual ``r`` (atrial leads × samples): positions, the onset
    offset of their median shape (samples before the peak) and the median correlation of the
    waves with it. Waves above the strict threshold make a template; where the median beat has a
    P wave, each beat is searched near that place (:func:`_seeded`); then each QRS still without
    a wave in its PR window gets the best match there if it passes the per-beat threshold."""
    env = np.sqrt((r * r).mean(axis=0)) * valid
    if not valid.any():
        return np.zeros(0, dtype=np.int64), None, None
    noise = float(np.median(env[valid]))
    thr = max(ATRIAL_NOISE_K * noise, ATRIAL_MIN_UV)
    half = int(round(P_HALF_MS * fs / 1000))
    refr = max(int(round(ATRIAL_REFRACTORY_MS * fs / 1000)), 1)
    pk, _ = find_peaks(env, height=thr, distance=refr)
    pk = pk[(pk - half >= 0) & (pk + half < r.shape[1])]
    kept = np.zeros(0, dtype=np.int64)
    ccs: list[float] = []
    tm: NDArray[np.float64] | None = None
    if pk.size >= 2:
        segs = r[:, pk[:, None] + np.arange(-half, half + 1)[None, :]].transpose(1, 0, 2)  # waves × leads × samples
        segs = segs - segs.mean(axis=2, keepdims=True)
        flat = segs.reshape(pk.size, -1)
        keep = np.ones(pk.size, dtype=bool)
        cc = np.zeros(pk.size)
        for _ in range(2):
            tmpl = np.median(flat[keep], axis=0)
            cc = flat @ tmpl / (np.linalg.norm(flat, axis=1) * np.linalg.norm(tmpl) + 1e-12)
            new = cc >= P_KEEP_CORR
            if new.sum() < 2:
                break
            keep = new
        kept = pk[keep]
        tm = np.median(segs[keep], axis=0)
        ccs = list(cc[keep])
    if p_expect is not None:
        seeded, sc, seed = _seeded(r, env, valid, onsets, p_expect, half, fs)
        if seed is not None and seeded.size:
            far = np.all(np.abs(kept[:, None] - seeded[None, :]) >= refr, axis=1) if kept.size else np.zeros(0, bool)
            ccs = [c for c, f in zip(ccs, far) if f] + sc
            kept = np.concatenate([kept[far], seeded])
            kept, first = np.unique(kept, return_index=True)
            ccs = [ccs[i] for i in first]
            tm = seed
    if tm is None or kept.size < 2:
        return kept.astype(np.int64), None, None
    tflat = tm.ravel() / (np.linalg.norm(tm) + 1e-12)
    # per-beat search in the PR window of each QRS without a wave there
    ms = fs / 1000.0
    lo_w, hi_w = int(round(PR_PEAK_MIN_MS * ms)), int(round(PR_PEAK_MAX_MS * ms))
    beat_thr = max(P_BEAT_K * noise, P_BEAT_MIN_UV)
    added = []
    for q in onsets:
        a, b = max(q - hi_w, half), min(q - lo_w, r.shape[1] - half - 1)
        if b <= a or np.any((kept >= a) & (kept <= b)):
            continue
        i = a + int(np.argmax(env[a:b + 1]))
        if env[i] < beat_thr or i in (a, b):
            continue
        seg = r[:, i - half:i + half + 1]
        seg = seg - seg.mean(axis=1, keepdims=True)
        c = float(seg.ravel() @ tflat / (np.linalg.norm(seg) + 1e-12))
        if c >= P_BEAT_CORR:
            added.append(i)
            ccs.append(c)
    if added:
        kept = np.unique(np.concatenate([kept, np.asarray(added)]))
    # with P waves before most QRS, a wave elsewhere (blocked P) must look like them
    d = onsets[None, :] - kept[:, None]
    conducted = np.any((d >= lo_w) & (d <= hi_w), axis=1)
    if conducted.sum() >= max(3, EXTRA_MIN_SHARE * onsets.size):
        cs = r[:, kept[:, None] + np.arange(-half, half + 1)[None, :]].transpose(1, 0, 2)
        cs = cs - cs.mean(axis=2, keepdims=True)
        cflat = cs.reshape(kept.size, -1)
        ct = np.median(cflat[conducted], axis=0)
        ccc = cflat @ ct / (np.linalg.norm(cflat, axis=1) * np.linalg.norm(ct) + 1e-12)
        amp = env[kept] / float(np.median(env[kept[conducted]]))
        ok = conducted | ((ccc >= P_EXTRA_CORR) & (amp >= P_EXTRA_AMP[0]) & (amp <= P_EXTRA_AMP[1]))
        kept, ccs = kept[ok], list(ccc[ok])
        tm = np.median(cs[conducted], axis=0)
    tenv = np.sqrt((tm * tm).mean(axis=0))
    c0 = half
    above = np.flatnonzero(tenv[:c0 + 1] < P_ONSET_FRAC * tenv[c0])
    onset = float(c0 - above[-1]) if above.size else float(c0)
    return kept.astype(np.int64), onset, float(np.median(ccs))


def _spectrum(r: NDArray[np.float64], valid: NDArray[np.bool_], fs: float) -> tuple[float | None, float | None, int | None, float]:
    """Dominant frequency in FLUTTER_BAND_HZ, organisation index, best lead row, its RMS (µV)."""
    n = r.shape[1]
    if valid.sum() < 2 * fs:
        return None, None, None, 0.0
    t = np.arange(n)
    nfft = max(int(20 * fs), n)
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (f >= SPECTRUM_BAND_HZ[0]) & (f <= SPECTRUM_BAND_HZ[1])
    fl = (f >= FLUTTER_BAND_HZ[0]) & (f <= FLUTTER_BAND_HZ[1])
    best: tuple[float, float, int, float] | None = None
    win = np.hanning(n)
    for i in range(r.shape[0]):
        y = np.interp(t, t[valid], r[i, valid])
        y = y - y.mean()
        p = np.abs(np.fft.rfft(y * win, nfft)) ** 2
        fd = float(f[fl][np.argmax(p[fl])])
        near = (np.abs(f - fd) <= OI_HALF_HZ) | (np.abs(f - 2 * fd) <= OI_HALF_HZ)
        oi = float(p[near & band].sum() / (p[band].sum() + 1e-12))
        rms = float(np.sqrt(np.mean(y[valid] ** 2)))
        if best is None or oi > best[1]:
            best = (fd, oi, i, rms)
    return best if best is not None else (None, None, None, 0.0)
