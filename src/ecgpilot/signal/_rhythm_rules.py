"""Ventricular regularity, the P–QRS relation and the rule layer (:func:`decide`, the rhythm guess) of
:mod:`ecgpilot.signal.rhythm`, with their thresholds (steps 5 and 6 of the method there)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.signal._rhythm_atrial import (
    FLUTTER_MIN_UV,
    FLUTTER_OI_MIN,
    FLUTTER_OI_STRONG,
    PR_PEAK_MIN_MS,
)


# --- ventricular rhythm -------------------------------------------------------------------
#: Sinus rate limits (bpm), bradycardia < 60 and tachycardia > 100: the conventional limits used with the
#: AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part II
#: (diagnostic statement list; Mason et al., Circulation 2007;115:1325).
SINUS_RATE_LOW, SINUS_RATE_HIGH = 60.0, 100.0
#: Junctional rhythm rate range (bpm; with a narrow QRS, < QRS_NARROW_MS): junctional escape 40–60 and accelerated junctional 60–100 (textbook limits).
JUNCTIONAL_RATE = (40.0, 100.0)
#: Regular RR: coefficient of variation below this and successive-difference index below RR_IRREGULAR.
RR_CV_REGULAR = 0.08
#: Irregular (atrial fibrillation-like, "irregularly irregular") RR: median |ΔRR| / median RR at or above
#: this (tuned) ...
RR_IRREGULAR = 0.08
#: ... or a coefficient of variation of RR at or above this (tuned) with a successive-difference index of at
#: least RR_IRREGULAR_WITH_CV (2026.12.4): a high CV alone comes from sinus arrhythmia or a few noise beats,
#: not from beat-to-beat irregularity (CinC 2017 tune half, normal single-lead recordings read AF 7/78 → 2/78).
RR_CV_IRREGULAR = 0.10
RR_IRREGULAR_WITH_CV = 0.05
#: PR SD (ms) above which P waves before QRS of an irregular rhythm are not taken as conducted (tuned).
PR_SD_IRREGULAR_MAX = 10.0
#: Atrial fibrillation: P waves found before fewer than this share of QRS (tuned).
AF_MAX_P_SHARE = 0.5
#: Grouped beating: long RRs ≥ this × the short ones, each cluster's CV below GROUP_CV.
GROUP_RATIO = 1.3
GROUP_CV = 0.08
QRS_NARROW_MS = 120.0
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


def _irregular(out: dict[str, Any]) -> bool:
    """Irregularly irregular ventricular rhythm: a high successive-difference index, or a high coefficient of
    variation with a moderate one (see :data:`RR_IRREGULAR`, :data:`RR_CV_IRREGULAR`)."""
    irr, cv = out["rr_irregularity"], out["rr_cv"]
    if irr is None:
        return False
    return bool(irr >= RR_IRREGULAR or (cv is not None and cv >= RR_CV_IRREGULAR and irr >= RR_IRREGULAR_WITH_CV))


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
