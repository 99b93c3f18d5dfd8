"""Rhythm read from the tracing: ventricular regularity, atrial activity and the P–QRS relation.

:func:`rhythm_features` ``(signal, fs, leads, beats) -> dict`` (signal: leads × samples in µV;
beats: QRS sample indices from :func:`ecgpilot.signal.beats.record_beats`). Every value is
JSON-able and ``None`` when it cannot be measured. Keys:

* ``n_qrs`` (int), ``ventricular_rate_bpm`` (60 000 / mean RR), ``rr_cv`` (SD/mean of RR),
  ``rr_irregularity`` (median |successive RR difference| / median RR), ``rr_regular`` (bool),
  ``grouped_beating`` (bool: RRs fall in a short and a long cluster, the long ones recurring
  after groups of short ones);
* P waves beat by beat: ``p_before_qrs_share`` (share of QRS complexes with an atrial wave
  whose peak lies :data:`PR_PEAK_MIN_MS`–:data:`PR_PEAK_MAX_MS` before the QRS onset, found
  on each beat), ``pr_ms_median``, ``pr_ms_sd`` (PR of those beats), ``p_morphology_consistent``
  (bool: median correlation of the beats' P waves with their median P ≥ :data:`P_CONSISTENT_CORR`);
* atrial activity: ``n_atrial_waves``, ``atrial_rate_bpm`` (from the median interval between
  all atrial waves found, conducted or not, or from the flutter cycle), ``pp_cv`` (CV of the
  atrial intervals near that median), ``p_per_qrs``
  (atrial / ventricular rate), ``av_relation`` in {'1:1', '2:1', 'variable', 'dissociated',
  'none', 'wenckebach', 'mobitz2'};
* organised atrial activity: ``flutter_waves`` (bool), ``atrial_cycle_ms``, ``atrial_dominant_hz``,
  ``atrial_organisation`` (0–1), ``atrial_lead``, ``atrial_rms_uv`` (residual RMS there); ``fibrillatory_waves`` (bool);
* ``pacing_spikes`` (bool, from :func:`~ecgpilot.signal.delineate.pacing_spike`; None below
  250 Hz), ``qrs_ms`` (median beat, for "narrow"), ``rhythm_guess`` in {'sinus', 'atrial_fibrillation', 'atrial_flutter', 'svt',
  'junctional', 'complete_av_block', 'second_degree_av_block_mobitz1',
  'second_degree_av_block_mobitz2', 'av_block_2to1', 'paced', 'undetermined'} and
  ``rhythm_evidence`` (short English strings naming the values used).

Method:

1. records below 250 Hz are resampled (polyphase) to ≥ 250 Hz; the QRS onset/offset and T end
   come from :func:`~ecgpilot.signal.delineate.delineate` on the median beat;
2. **QRS-T cancellation**: a per-lead median QRS-T (QRS onset − 10 ms to T end + 40 ms, its
   end levels ramped to zero) is scaled by least squares and subtracted at each dominant beat
   (0.5–40 Hz signal); the residual is band-passed 2–15 Hz. The QRS of every beat and the whole
   QRS-T of other beats (ectopics) are masked. Atrial waves phase-locked to the QRS inside the
   T wave (a blocked P hidden in every T) are cancelled with it: they are not seen;
3. **atrial waves**: (a) peaks of the residual's magnitude over the atrial leads (II, III, aVF,
   V1, I, V2) at least :data:`ATRIAL_REFRACTORY_MS` apart, above :data:`ATRIAL_NOISE_K` × its
   median and :data:`ATRIAL_MIN_UV`, kept when their shape correlates with the median of the
   candidates (≥ :data:`P_KEEP_CORR`); (b) where the median beat has a P wave, every beat is
   searched ± :data:`SEED_LAG_MS` around its place for the best match (≥ :data:`P_SEED_CORR`)
   to the residual's median there, so each P is found on its own beat; (c) each QRS still without
   a wave in its PR window gets the largest peak there if it correlates ≥ :data:`P_BEAT_CORR`;
   (d) when P waves precede most QRS, a wave outside the PR windows (a blocked P) is kept only if
   it correlates ≥ :data:`P_EXTRA_CORR` with them at a similar size;
4. **flutter**: spectrum (Hann window, masked samples interpolated) of the residual in II,
   III, aVF and V1; the dominant peak in :data:`FLUTTER_BAND_HZ` and the share of 1.5–20 Hz power
   within ±:data:`OI_HALF_HZ` of it and of its harmonic (organisation index, after Everett et
   al., IEEE Trans Biomed Eng 2001); flutter when the index ≥ :data:`FLUTTER_OI_MIN` with
   ≥ :data:`FLUTTER_MIN_UV` µV of atrial residual;
5. **P–QRS relation** (:func:`_av_relation`): RR cycles holding two P waves on the atrial rhythm
   and longer than :data:`DROP_RR_RATIO` × the others are dropped beats — Wenckebach when the PR
   before the pause exceeds the PR after it by ≥ :data:`WENCKEBACH_PR_DROP_MS`, Mobitz II when
   the PR is constant; 1:1 with P before ≥ :data:`SHARE_CONDUCTED` of QRS; dissociated when
   regular P waves outnumber the QRS with a scattered PR or mostly without P before the QRS;
   2:1 with two P waves per cycle at a constant PR;
6. **rhythm_guess** (:func:`decide`, :func:`_guess`), in order: paced (pacing spikes), atrial
   flutter, atrial fibrillation (irregular RR, no flutter, P before < :data:`AF_MAX_P_SHARE` of
   QRS and not sinus-like), complete AV block (dissociated, regular, ventricles slower), Mobitz I,
   Mobitz II, 2:1, sinus (1:1, P alike; PR SD ≤ :data:`PR_SD_IRREGULAR_MAX` ms if RR irregular),
   SVT (regular, narrow QRS, > 100/min, no P) and junctional (regular, narrow QRS, 40–100/min,
   no P; a wide regular rhythm without P — paced with unseen spikes, idioventricular — stays
   undetermined).

Thresholds were chosen on LUDB records 1–100 and PTB-XL fold 9 only (see
``benchmarks/results/rhythm.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import find_peaks

from ecgpilot.signal.delineate import delineate, median_beats, pacing_spike
from ecgpilot.signal.filters import bandpass, resample_poly

__all__ = ["rhythm_features", "decide", "EMPTY_RHYTHM", "RHYTHM_GUESSES", "AV_RELATIONS"]

RHYTHM_GUESSES = ("sinus", "atrial_fibrillation", "atrial_flutter", "svt", "junctional", "complete_av_block",
                  "second_degree_av_block_mobitz1", "second_degree_av_block_mobitz2", "av_block_2to1", "paced",
                  "undetermined")
AV_RELATIONS = ("1:1", "2:1", "variable", "dissociated", "none", "wenckebach", "mobitz2")

#: Working rate: records below it are resampled to ≥ this (polyphase), as measure.py does.
MIN_FS = 250.0
# --- ventricular rhythm -------------------------------------------------------------------
#: Sinus rate limits (bpm), bradycardia < 60 and tachycardia > 100: the conventional limits used with the
#: AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part II
#: (diagnostic statement list; Mason et al., Circulation 2007;115:1325).
SINUS_RATE_LOW, SINUS_RATE_HIGH = 60.0, 100.0
#: Junctional rhythm rate range (bpm; with a narrow QRS, < QRS_NARROW_MS): junctional escape 40–60 and accelerated junctional 60–100 (textbook limits).
JUNCTIONAL_RATE = (40.0, 100.0)
#: Regular RR: coefficient of variation below this and successive-difference index below RR_IRREGULAR.
RR_CV_REGULAR = 0.08
#: Irregular (atrial fibrillation-like) RR: median |ΔRR| / median RR at or above this (tuned).
RR_IRREGULAR = 0.08
#: ... or a coefficient of variation of RR at or above this (tuned).
RR_CV_IRREGULAR = 0.10
#: PR SD (ms) above which P waves before QRS of an irregular rhythm are not taken as conducted (tuned).
PR_SD_IRREGULAR_MAX = 10.0
#: Atrial fibrillation: P waves found before fewer than this share of QRS (tuned).
AF_MAX_P_SHARE = 0.5
#: Grouped beating: long RRs ≥ this × the short ones, each cluster's CV below GROUP_CV.
GROUP_RATIO = 1.3
GROUP_CV = 0.08
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
# --- P-QRS relation --------------------------------------------------------------------------
SHARE_CONDUCTED = 0.8   # share of QRS with a P for 1:1 / 2:1 / block patterns
SHARE_NO_P = 0.3        # below: "no P before QRS"
RATIO_1TO1_MAX = 1.25
RATIO_2TO1 = (1.7, 2.3)
PR_CONSTANT_SD_MS = 25.0
PR_DISSOCIATED_SD_MS = 50.0
WENCKEBACH_PR_DROP_MS = 40.0
DROP_RR_RATIO = 1.3
DROP_PP_TOL = 0.2  # the blocked P comes on time (± 20 % of the atrial cycle), unlike a blocked premature P
#: P waves before at least this share of QRS, at a constant PR and no more atrial than
#: ventricular waves, are read as 1:1 conduction (P waves missed on some beats, tuned).
SHARE_1TO1_PARTIAL = 0.5
PP_REGULAR_CV = 0.15
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
QRS_NARROW_MS = 120.0

EMPTY_RHYTHM: dict[str, Any] = {
    "n_qrs": 0, "ventricular_rate_bpm": None, "rr_cv": None, "rr_irregularity": None, "rr_regular": None,
    "grouped_beating": None, "p_before_qrs_share": None, "pr_ms_median": None, "pr_ms_sd": None,
    "p_morphology_consistent": None, "n_atrial_waves": None, "atrial_rate_bpm": None, "pp_cv": None, "p_per_qrs": None,
    "av_relation": None, "flutter_waves": None, "atrial_cycle_ms": None, "atrial_dominant_hz": None,
    "atrial_organisation": None, "atrial_lead": None, "atrial_rms_uv": None, "fibrillatory_waves": None, "pacing_spikes": None,
    "qrs_ms": None, "rhythm_guess": "undetermined", "rhythm_evidence": [],
}


def _r(x: float | None, nd: int = 0) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), nd) if nd else float(round(float(x)))


def _grouped(rr: NDArray[np.float64]) -> bool:
    """RRs in two tight clusters (long ≥ GROUP_RATIO × short), long ones recurring after
    groups of short ones of similar size (Wenckebach periods, blocked ectopics)."""
    if rr.size < 5:
        return False
    s = np.sort(rr)
    gaps = s[1:] / s[:-1]
    k = int(np.argmax(gaps))
    if gaps[k] < GROUP_RATIO:
        return False
    short, long_ = s[:k + 1], s[k + 1:]
    if long_.size < 2 or short.size < long_.size:
        return False
    if short.std() / short.mean() > GROUP_CV or long_.std() / long_.mean() > GROUP_CV:
        return False
    is_long = rr >= long_[0]
    pos = np.flatnonzero(is_long)
    groups = np.diff(pos)
    return bool(groups.size == 0 or (groups.max() - groups.min() <= 1 and groups.min() >= 2))


def _ventricular(rr: NDArray[np.float64]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    mean = float(rr.mean())
    out["ventricular_rate_bpm"] = _r(60000.0 / mean, 1)
    out["rr_cv"] = _r(float(rr.std()) / mean, 3) if rr.size >= 2 else None
    irr = float(np.median(np.abs(np.diff(rr)))) / float(np.median(rr)) if rr.size >= 3 else None
    out["rr_irregularity"] = _r(irr, 3)
    if rr.size >= 3:
        assert irr is not None
        out["rr_regular"] = bool(out["rr_cv"] < RR_CV_REGULAR and irr < RR_IRREGULAR)
        out["grouped_beating"] = _grouped(rr)
    return out


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


def rhythm_features(signal: NDArray, fs: float, leads: tuple[str, ...], beats: NDArray[np.int64],
                    *, rules: bool = True) -> dict[str, Any]:
    """Rhythm features of a recording (leads × samples, µV) and its QRS positions; see the module doc.

    ``rules=False`` returns the measurements before the rule layer (:func:`decide`, to be applied
    on a copy when re-evaluating thresholds): ``av_relation`` is then that of the discrete P
    waves and the flutter, fibrillation and guess keys are left empty."""
    out: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in EMPTY_RHYTHM.items()}
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    beats = np.unique(np.asarray(beats, dtype=np.int64))  # sorted, no duplicate
    beats = beats[(beats >= 0) & (beats < x.shape[1])]
    fs = float(fs)
    leads = tuple(leads)
    out["n_qrs"] = int(beats.size)
    if beats.size >= 2:
        out.update(_ventricular(np.diff(beats) * 1000.0 / fs))
    if fs >= MIN_FS and beats.size >= 2:
        out["pacing_spikes"] = pacing_spike(x, fs, beats) is not None
    if beats.size < 3 or x.shape[1] < int(2 * fs):
        out["rhythm_evidence"] = [f"{beats.size} QRS complexes: too few to read the rhythm"]
        return out
    if fs < MIN_FS:
        up = int(np.ceil(MIN_FS / fs))
        x = resample_poly(x, up, 1, axis=1)
        beats, fs = beats * up, fs * up
    ms = fs / 1000.0
    rr_med = float(np.median(np.diff(beats)))
    # global boundaries from the median beat
    mb = median_beats(x, fs, leads, beats)
    qrs_on, qrs_off, t_end = -int(round(50 * ms)), int(round(60 * ms)), int(round(0.35 * fs))
    dominant = np.ones(beats.size, dtype=bool)
    p_next: int | None = None
    p_expect: int | None = None  # P peak of the median beat, from the QRS onset (samples)
    if mb is not None:
        bd = delineate(mb)
        qrs_on, qrs_off = bd.qrs_on - mb.fiducial, bd.qrs_off - mb.fiducial
        if bd.qrs_found:
            out["qrs_ms"] = _r((bd.qrs_off - bd.qrs_on) / ms)
        if bd.t_off is not None:
            t_end = bd.t_off - mb.fiducial
        if bd.p_on is not None and bd.p_off is not None:
            p_next = bd.p_on - mb.fiducial
            lv = mb.signal[:, bd.p_on:bd.p_off + 1] - mb.signal[:, bd.qrs_on:bd.qrs_on + 1]
            p_expect = bd.p_on + int(np.argmax((lv * lv).sum(axis=0))) - bd.qrs_on
        # dominant beats = those median_beats kept (aligned within ± 20 ms)
        d = np.abs(beats[:, None] - mb.beats[None, :]).min(axis=1)
        dominant = d <= int(round(20 * ms))
    a = -qrs_on + int(round(10 * ms))
    e = t_end + int(round(T_END_PAD_MS * ms))
    e = min(e, int(rr_med) - a)
    if p_next is not None:
        e = min(e, int(rr_med) + p_next - int(round(10 * ms)))
    e = max(e, qrs_off + int(round(20 * ms)))
    x40 = bandpass(x, fs, 0.5, 40.0)
    res, valid = _cancel(x40, fs, beats, dominant, a, e, qrs_on, qrs_off)
    res = bandpass(res, fs, RESIDUAL_BAND_HZ[0], RESIDUAL_BAND_HZ[1])
    edge = int(round(EDGE_MS * ms))
    valid[:edge] = False
    valid[-edge:] = False
    rows = [leads.index(n) for n in ATRIAL_LEADS if n in leads] or list(range(len(leads)))
    onsets = beats + qrs_on
    waves, onset, corr = _atrial_waves(res[rows], valid, fs, onsets, p_expect)
    out["n_atrial_waves"] = int(waves.size)
    # flutter / organised atrial activity
    frows = [leads.index(n) for n in FLUTTER_LEADS if n in leads] or rows
    fd, oi, fi, frms = _spectrum(res[frows], valid, fs)
    if fd is not None and fi is not None:
        out["atrial_dominant_hz"] = _r(fd, 2)
        out["atrial_organisation"] = _r(oi, 3)
        out["atrial_lead"] = leads[frows[fi]]
    # P before each QRS
    lo_w, hi_w = PR_PEAK_MIN_MS * ms, PR_PEAK_MAX_MS * ms
    judged = onsets - hi_w >= 0
    pr: list[float] = []
    has_p = np.zeros(beats.size, dtype=bool)
    pr_of = np.full(beats.size, np.nan)
    for j, q in enumerate(onsets):
        d = q - waves
        inside = d[(d >= lo_w) & (d <= hi_w)]
        if inside.size:
            has_p[j] = True
            pr_of[j] = (inside.min() + (onset or 0.0)) / ms
    if judged.sum() >= 2:
        out["p_before_qrs_share"] = _r(float(has_p[judged].mean()), 3)
        pr = [v for v in pr_of[judged] if np.isfinite(v)]
    if pr:
        out["pr_ms_median"] = _r(float(np.median(pr)))
        out["pr_ms_sd"] = _r(float(np.std(pr)), 1) if len(pr) >= 2 else None
    if corr is not None:
        out["p_morphology_consistent"] = bool(corr >= P_CONSISTENT_CORR)
    ventricular = float(out["ventricular_rate_bpm"])
    if waves.size >= 2:
        pp = np.diff(waves).astype(np.float64)
        cyc = float(np.median(pp))
        near = pp[(pp > 0.75 * cyc) & (pp < 1.25 * cyc)]
        cyc = float(near.mean()) if near.size else cyc
        out["atrial_rate_bpm"] = _r(60000.0 / (cyc / ms), 1) if cyc > 0 else None
        out["pp_cv"] = _r(float(near.std() / near.mean()) if near.size >= 2 else None, 3)
    if out["atrial_rate_bpm"] is not None:
        out["p_per_qrs"] = _r(out["atrial_rate_bpm"] / ventricular, 2)
    out["av_relation"] = _av_relation(out, waves, onsets, pr_of, ms)
    out["atrial_rms_uv"] = _r(frms, 1) if fd is not None else None
    return decide(out) if rules else out


def _irregular(out: dict[str, Any]) -> bool:
    """Irregular ventricular rhythm: successive-difference index or coefficient of variation high."""
    irr, cv = out["rr_irregularity"], out["rr_cv"]
    return bool((irr is not None and irr >= RR_IRREGULAR) or (cv is not None and cv >= RR_CV_IRREGULAR))


def _pr_sd_max(out: dict[str, Any]) -> float:
    """Largest PR SD of conducted (sinus-like) P waves: tighter when the RR is irregular, where
    P-like bumps of fibrillation at random PR would otherwise pass."""
    return PR_SD_IRREGULAR_MAX if _irregular(out) else PR_CONSTANT_SD_MS


def decide(out: dict[str, Any]) -> dict[str, Any]:
    """The rule layer on measured features (in place, returned): flutter and fibrillatory waves,
    the AV relation and atrial rate of flutter, ``rhythm_guess`` and ``rhythm_evidence``. Apply it
    once, to the output of ``rhythm_features(..., rules=False)`` (it overwrites ``av_relation``)."""
    share = out["p_before_qrs_share"]
    irregular = _irregular(out)
    pr_sd_max = _pr_sd_max(out)
    sinus_like = bool(share is not None and share >= SHARE_CONDUCTED and out["p_morphology_consistent"]
                      and (out["pr_ms_sd"] or 0.0) <= pr_sd_max)
    oi, fd, rms = out["atrial_organisation"], out["atrial_dominant_hz"], out["atrial_rms_uv"]
    flutter = bool(oi is not None and fd is not None and rms is not None and oi >= FLUTTER_OI_MIN
                   and rms >= FLUTTER_MIN_UV and (not sinus_like or oi >= FLUTTER_OI_STRONG))
    out["flutter_waves"] = flutter
    if flutter:
        out["atrial_cycle_ms"] = _r(1000.0 / fd)
        out["atrial_rate_bpm"] = _r(60.0 * fd, 1)
        ratio = 60.0 * fd / out["ventricular_rate_bpm"]
        out["p_per_qrs"] = _r(ratio, 2)
        out["av_relation"] = "2:1" if RATIO_2TO1[0] <= ratio <= RATIO_2TO1[1] and out["rr_regular"] else "variable"
    if (not flutter and out["av_relation"] == "variable" and share is not None and share >= SHARE_1TO1_PARTIAL
            and out["p_morphology_consistent"] and out["pr_ms_sd"] is not None and out["pr_ms_sd"] <= pr_sd_max
            and out["p_per_qrs"] is not None and out["p_per_qrs"] <= RATIO_1TO1_MAX):
        out["av_relation"] = "1:1"
        sinus_like = True
    out["fibrillatory_waves"] = bool(irregular and not flutter and not sinus_like and (share is None or share < AF_MAX_P_SHARE))
    out["rhythm_guess"], out["rhythm_evidence"] = _guess(out)
    return out


def _av_relation(out: dict[str, Any], waves: NDArray[np.int64], onsets: NDArray[np.int64],
                 pr_of: NDArray[np.float64], ms: float) -> str:
    """Relation of the discrete atrial waves to the QRS complexes (flutter: see :func:`decide`)."""
    ratio = out["p_per_qrs"]
    share = out["p_before_qrs_share"]
    if waves.size < 2 or ratio is None or share is None:
        return "none"
    pr_sd = out["pr_ms_sd"] if out["pr_ms_sd"] is not None else 1e9
    # P waves per RR cycle: a cycle with two is a dropped (blocked) P wave
    lo = PR_PEAK_MIN_MS * ms
    per_cycle = np.array([int(((waves > onsets[k]) & (waves <= onsets[k + 1] - lo)).sum())
                          for k in range(onsets.size - 1)])
    one = float(np.mean(per_cycle == 1)) if per_cycle.size else 0.0
    regular_pp = out.get("pp_cv") is not None and out["pp_cv"] <= PP_REGULAR_CV
    rr = np.diff(onsets).astype(np.float64)
    base = float(np.median(rr[per_cycle == 1])) if np.any(per_cycle == 1) else float(np.median(rr))
    pp_med = float(np.median(np.diff(waves)))
    # dropped beats: a long RR cycle holding two P waves on the atrial rhythm (not a premature P)
    drops = []
    for k in np.flatnonzero((per_cycle >= 2) & (rr >= DROP_RR_RATIO * base)):
        w = waves[(waves > onsets[k]) & (waves <= onsets[k + 1] - lo)]
        if np.all(np.abs(np.diff(w) / pp_med - 1.0) <= DROP_PP_TOL):
            drops.append(k)
    if share >= SHARE_CONDUCTED and drops and one >= 0.5 and ratio > 1.0:
        falls = [pr_of[k] - pr_of[k + 1] for k in drops if np.isfinite(pr_of[k]) and np.isfinite(pr_of[k + 1])]
        if falls and np.median(falls) >= WENCKEBACH_PR_DROP_MS:
            return "wenckebach"
        if falls and pr_sd <= PR_CONSTANT_SD_MS:
            return "mobitz2"
    if share >= SHARE_CONDUCTED and (ratio <= RATIO_1TO1_MAX or one >= SHARE_CONDUCTED):
        return "1:1"
    if ratio > RATIO_1TO1_MAX and share < SHARE_CONDUCTED and regular_pp:
        return "dissociated"
    if ratio > RATIO_1TO1_MAX and pr_sd > PR_DISSOCIATED_SD_MS and regular_pp:
        return "dissociated"
    if share >= SHARE_CONDUCTED and per_cycle.size:
        if RATIO_2TO1[0] <= ratio <= RATIO_2TO1[1] and np.mean(per_cycle == 2) >= SHARE_CONDUCTED \
                and pr_sd <= PR_CONSTANT_SD_MS and regular_pp:
            return "2:1"
    return "variable"


def _guess(o: dict[str, Any]) -> tuple[str, list[str]]:
    """Rhythm guess and its evidence from the features (rules in named thresholds)."""
    rate, share, rel = o["ventricular_rate_bpm"], o["p_before_qrs_share"], o["av_relation"]
    ev = [f"ventricular rate {rate:.0f} bpm", f"RR irregularity {o['rr_irregularity']}"
          + (" (regular)" if o["rr_regular"] else " (irregular)" if o["rr_regular"] is not None else "")]
    if share is not None:
        ev.append(f"P before {share * 100:.0f}% of QRS")
    if o["pacing_spikes"]:
        return "paced", ev + ["pacemaker spikes before the QRS"]
    if o["flutter_waves"]:
        return "atrial_flutter", ev + [f"regular atrial waves {o['atrial_dominant_hz']} Hz in {o['atrial_lead']} "
                                       f"(cycle {o['atrial_cycle_ms']:.0f} ms, organisation {o['atrial_organisation']})",
                                       f"AV conduction {rel}"]
    if o["fibrillatory_waves"]:
        return "atrial_fibrillation", ev + ["irregularly irregular RR without repeated P waves"]
    ar = o["atrial_rate_bpm"]
    if rel == "dissociated" and ar is not None and rate < ar and o["rr_regular"]:
        return "complete_av_block", ev + [f"atrial rate {ar:.0f} bpm unrelated to the ventricular rate"
                                          f" (PR SD {o['pr_ms_sd']} ms)"]
    if rel == "wenckebach":
        return "second_degree_av_block_mobitz1", ev + ["PR lengthening, then a P wave without QRS"]
    if rel == "mobitz2":
        return "second_degree_av_block_mobitz2", ev + [f"constant PR (SD {o['pr_ms_sd']} ms) with P waves without QRS"]
    if rel == "2:1":
        return "av_block_2to1", ev + [f"atrial rate {ar:.0f} bpm, two P waves per QRS"]
    if rel == "1:1" and share is not None and o["p_morphology_consistent"] \
            and (not _irregular(o) or (o["pr_ms_sd"] or 0.0) <= PR_SD_IRREGULAR_MAX):
        band = ("bradycardia" if rate < SINUS_RATE_LOW else "tachycardia" if rate > SINUS_RATE_HIGH else "normal rate")
        return "sinus", ev + [f"PR {o['pr_ms_median']} ms (SD {o['pr_ms_sd']})", "P waves alike", f"sinus {band}"]
    if o["rr_regular"] and (share is None or share < SHARE_NO_P):
        narrow = o["qrs_ms"] is not None and o["qrs_ms"] < QRS_NARROW_MS
        if rate > SINUS_RATE_HIGH and narrow:
            return "svt", ev + [f"regular narrow QRS ({o['qrs_ms']:.0f} ms) tachycardia without P before QRS"]
        if JUNCTIONAL_RATE[0] <= rate <= JUNCTIONAL_RATE[1] and narrow:
            return "junctional", ev + [f"regular narrow QRS ({o['qrs_ms']:.0f} ms) rhythm without P before QRS"]
    return "undetermined", ev
