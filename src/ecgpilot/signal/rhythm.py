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

Steps 2–4 (cancellation, atrial waves, flutter) live in :mod:`ecgpilot.signal._rhythm_atrial`, the
ventricular regularity, the P–QRS relation and the rules (steps 5–6) in
:mod:`ecgpilot.signal._rhythm_rules`; every threshold stays importable from this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.signal._rhythm_atrial import (
    ATRIAL_LEADS,
    ATRIAL_MIN_UV as ATRIAL_MIN_UV,
    ATRIAL_NOISE_K as ATRIAL_NOISE_K,
    ATRIAL_REFRACTORY_MS as ATRIAL_REFRACTORY_MS,
    EDGE_MS,
    EXTRA_MIN_SHARE as EXTRA_MIN_SHARE,
    FLUTTER_BAND_HZ as FLUTTER_BAND_HZ,
    FLUTTER_LEADS,
    FLUTTER_MIN_UV as FLUTTER_MIN_UV,
    FLUTTER_OI_MIN as FLUTTER_OI_MIN,
    FLUTTER_OI_STRONG as FLUTTER_OI_STRONG,
    OI_HALF_HZ as OI_HALF_HZ,
    PR_PEAK_MAX_MS,
    PR_PEAK_MIN_MS,
    P_BEAT_CORR as P_BEAT_CORR,
    P_BEAT_K as P_BEAT_K,
    P_BEAT_MIN_UV as P_BEAT_MIN_UV,
    P_CONSISTENT_CORR,
    P_EXTRA_AMP as P_EXTRA_AMP,
    P_EXTRA_CORR as P_EXTRA_CORR,
    P_HALF_MS as P_HALF_MS,
    P_KEEP_CORR as P_KEEP_CORR,
    P_ONSET_FRAC as P_ONSET_FRAC,
    P_SEED_CORR as P_SEED_CORR,
    QRS_MASK_POST_MS as QRS_MASK_POST_MS,
    QRS_MASK_PRE_MS as QRS_MASK_PRE_MS,
    RESIDUAL_BAND_HZ,
    SCALE_RANGE as SCALE_RANGE,
    SEED_LAG_MS as SEED_LAG_MS,
    SPECTRUM_BAND_HZ as SPECTRUM_BAND_HZ,
    T_END_PAD_MS,
    _atrial_waves,
    _cancel,
    _spectrum,
)
from ecgpilot.signal._rhythm_rules import (
    AF_MAX_P_SHARE as AF_MAX_P_SHARE,
    DROP_PP_TOL as DROP_PP_TOL,
    DROP_RR_RATIO as DROP_RR_RATIO,
    GROUP_CV as GROUP_CV,
    GROUP_RATIO as GROUP_RATIO,
    JUNCTIONAL_RATE as JUNCTIONAL_RATE,
    PP_REGULAR_CV as PP_REGULAR_CV,
    PR_CONSTANT_SD_MS as PR_CONSTANT_SD_MS,
    PR_DISSOCIATED_SD_MS as PR_DISSOCIATED_SD_MS,
    PR_SD_IRREGULAR_MAX as PR_SD_IRREGULAR_MAX,
    QRS_NARROW_MS as QRS_NARROW_MS,
    RATIO_1TO1_MAX as RATIO_1TO1_MAX,
    RATIO_2TO1 as RATIO_2TO1,
    RR_CV_IRREGULAR as RR_CV_IRREGULAR,
    RR_CV_REGULAR as RR_CV_REGULAR,
    RR_IRREGULAR_WITH_CV as RR_IRREGULAR_WITH_CV,
    RR_IRREGULAR as RR_IRREGULAR,
    SHARE_1TO1_PARTIAL as SHARE_1TO1_PARTIAL,
    SHARE_CONDUCTED as SHARE_CONDUCTED,
    SHARE_NO_P as SHARE_NO_P,
    SINUS_RATE_HIGH as SINUS_RATE_HIGH,
    SINUS_RATE_LOW as SINUS_RATE_LOW,
    WENCKEBACH_PR_DROP_MS as WENCKEBACH_PR_DROP_MS,
    _av_relation,
    _r,
    _ventricular,
    decide,
)
from ecgpilot.signal.delineate import delineate, median_beats, pacing_spike
from ecgpilot.signal.filters import bandpass, resample_poly

__all__ = ["rhythm_features", "decide", "EMPTY_RHYTHM", "RHYTHM_GUESSES", "AV_RELATIONS"]

RHYTHM_GUESSES = ("sinus", "atrial_fibrillation", "atrial_flutter", "svt", "junctional", "complete_av_block",
                  "second_degree_av_block_mobitz1", "second_degree_av_block_mobitz2", "av_block_2to1", "paced",
                  "undetermined")
AV_RELATIONS = ("1:1", "2:1", "variable", "dissociated", "none", "wenckebach", "mobitz2")

#: Working rate: records below it are resampled to ≥ this (polyphase), as measure.py does.
MIN_FS = 250.0

EMPTY_RHYTHM: dict[str, Any] = {
    "n_qrs": 0, "ventricular_rate_bpm": None, "rr_cv": None, "rr_irregularity": None, "rr_regular": None,
    "grouped_beating": None, "p_before_qrs_share": None, "pr_ms_median": None, "pr_ms_sd": None,
    "p_morphology_consistent": None, "n_atrial_waves": None, "atrial_rate_bpm": None, "pp_cv": None, "p_per_qrs": None,
    "av_relation": None, "flutter_waves": None, "atrial_cycle_ms": None, "atrial_dominant_hz": None,
    "atrial_organisation": None, "atrial_lead": None, "atrial_rms_uv": None, "fibrillatory_waves": None, "pacing_spikes": None,
    "qrs_ms": None, "rhythm_guess": "undetermined", "rhythm_evidence": [],
}


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
