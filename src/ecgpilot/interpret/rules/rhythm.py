"""Rhythm and rate from the tracing (``measurements.rhythm``, the global rate and P waves), with
the AI as a second opinion, never alone when the tracing says otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from ecgpilot import messages
from ecgpilot.interpret.context import Context, Finding
from ecgpilot.interpret.rules.base import Rule, finding

__all__ = ["RHYTHM_RULES"]

AHA_2009_II = "AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part II (Mason et al. 2007)"
AHA_2009_III = "AHA/ACCF/HRS recommendations, part III: intraventricular conduction disturbances (Surawicz et al. 2009)"
ESC_2019_SVT = "ESC guidelines for the management of supraventricular tachycardia (Brugada et al. 2019)"
ESC_2018_BRADY = "ESC guidelines on cardiac pacing (Glikson et al. 2021); ACC/AHA/HRS bradycardia guideline (Kusumoto et al. 2018)"


def _guess(ctx: Context) -> str | None:
    return ctx.rhythm.get("rhythm_guess") if ctx.rhythm else None


def _rhythm_ev(ctx: Context) -> list[dict[str, object]]:
    """The rhythm read from the tracing as evidence, labelled in the reading's language."""
    r = ctx.rhythm
    ev: list[dict[str, object]] = []
    share = r.get("p_before_qrs_share")
    if share is not None:
        ev.append(ctx.ev("rhythm.p_before_qrs_share", share,
                         ctx.say("evidence.p_before_qrs", pct=100 * share)))
    if r.get("atrial_rate_bpm") is not None:
        ev.append(ctx.ev("rhythm.atrial_rate_bpm", r["atrial_rate_bpm"],
                         ctx.say("evidence.atrial_rate", rate=r["atrial_rate_bpm"])))
    if r.get("flutter_waves") and r.get("atrial_cycle_ms") is not None:
        ev.append(ctx.ev("rhythm.atrial_cycle_ms", r["atrial_cycle_ms"],
                         ctx.say("evidence.flutter_waves", cycle=r["atrial_cycle_ms"])))
    rel = r.get("av_relation")
    if rel is not None:
        # the P–QRS relation's name (catalogue ``reading.av_relation``), an unknown one as it is
        name = ctx.say(f"av_relation.{rel}") if messages.has(f"reading.av_relation.{rel}") else str(rel)
        ev.append(ctx.ev("rhythm.av_relation", rel, ctx.say("evidence.av_relation", relation=name)))
    if ctx.lang == "en":
        ev += [{"kind": "measurement", "name": "rhythm.evidence", "value": None, "text": str(t)}
               for t in r.get("rhythm_evidence") or []]
    return ev


def _ev_cv(ctx: Context) -> dict[str, object]:
    cv = ctx.rr_cv
    label = ctx.say("evidence.rr_variability")
    return ctx.ev("rr_cv", None if cv is None else round(cv, 3), f"{label} {cv:.2f}" if cv is not None else label)


def _ev_p(ctx: Context) -> dict[str, object]:
    text = ctx.say("evidence.p_wave_absent") if ctx.p_dur is None else ctx.say("evidence.p_wave", ms=ctx.p_dur)
    return ctx.ev("p_duration_ms", ctx.p_dur, text)


def _ev_hr(ctx: Context) -> dict[str, object]:
    return ctx.ev("heart_rate_bpm", ctx.hr, ctx.say("evidence.rate", hr=ctx.hr))


def paced(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Pacemaker spikes before the QRS: paced rhythm. Below 250 Hz the spikes cannot be seen
    (``rhythm.pacing_spikes`` is None): the AI's paced rhythm is then taken, with a wide QRS."""
    ai = ctx.ai_present("PACE")
    if ctx.pacing:
        text = ctx.say("evidence.pacing_spikes")
        return [finding("paced_rhythm", source="ai+measurement" if ai else "measurement",
                        evidence=[ctx.ev("pacing_spikes", True, text)] + [ctx.ev_ai(a) for a in ai])]
    unseen = ctx.rhythm.get("pacing_spikes") is None
    if ai and unseen and ctx.wide:
        note = ctx.say("note.spikes_unseen")
        return [finding("paced_rhythm", source="ai+measurement", note=note,
                        evidence=[ctx.ev_ai(ai[0]), ctx.ev("qrs_ms", ctx.qrs, f"QRS {ctx.qrs:.0f} ms")],
                        confidence=ai[0].probability)]
    return []


def atrial_flutter(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Organised atrial activity (regular sawtooth, atrial cycle 170–300 ms) in II, III, aVF or V1."""
    if ctx.pacing or "paced_rhythm" in found:
        return []
    tracing = bool(ctx.rhythm.get("flutter_waves")) or _guess(ctx) == "atrial_flutter"
    ai = ctx.ai_present("AFLT")
    if tracing:
        ev = _rhythm_ev(ctx) + [ctx.ev_ai(a) for a in ai]
        return [finding("atrial_flutter", source="ai+measurement" if ai else "measurement", evidence=ev,
                        confidence=ai[0].probability if ai else None)]
    if ai and ctx.rhythm and ctx.rhythm.get("p_before_qrs_share", 0) is not None \
            and (ctx.rhythm.get("p_before_qrs_share") or 0) >= 0.9 and ctx.rhythm.get("p_morphology_consistent"):
        return [finding("atrial_flutter", source="ai", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability,
                        status="ai_only", note=ctx.say("note.p_before_each_qrs"))]
    if ai:
        return [finding("atrial_flutter", source="ai", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability)]
    return []


def atrial_fibrillation(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Irregularly irregular RR without repeated P waves (fibrillatory activity); flutter wins when
    the atrial activity is organised."""
    if ctx.pacing or "paced_rhythm" in found:
        return []
    ai = ctx.ai_present("AFIB")
    no_p = ctx.p_dur is None or (ctx.rhythm.get("p_before_qrs_share") is not None
                                 and ctx.rhythm["p_before_qrs_share"] < 0.5)
    tracing = _guess(ctx) == "atrial_fibrillation" or (ctx.measured and ctx.irregular and no_p)
    if "atrial_flutter" in found and found["atrial_flutter"].status == "finding" \
            and found["atrial_flutter"].source != "ai":
        if ai:   # organised atrial activity: the AI's AF is flutter
            return [finding("atrial_fibrillation", source="ai", evidence=[ctx.ev_ai(ai[0])], status="ai_only",
                            confidence=ai[0].probability,
                            note=ctx.say("note.organised_atrial_activity"))]
        return []
    if tracing and ai:
        return [finding("atrial_fibrillation", source="ai+measurement", confidence=ai[0].probability,
                        evidence=[ctx.ev_ai(ai[0]), _ev_cv(ctx), _ev_p(ctx)] + _rhythm_ev(ctx))]
    if tracing:
        return [finding("irregular_rhythm_no_p", evidence=[_ev_cv(ctx), _ev_p(ctx)] + _rhythm_ev(ctx))]
    if ai:
        regular_with_p = ctx.measured and not ctx.irregular and ctx.p_dur is not None and ctx.pr is not None
        if regular_with_p:
            return [finding("atrial_fibrillation", source="ai", evidence=[ctx.ev_ai(ai[0]), _ev_cv(ctx), _ev_p(ctx)],
                            confidence=ai[0].probability, status="ai_only",
                            note=ctx.say("note.regular_with_p"))]
        return [finding("atrial_fibrillation", source="ai", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability)]
    return []


def av_block_from_tracing(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Second- and third-degree AV block from the P–QRS relation (atrial waves that do not conduct)."""
    if ctx.pacing or "paced_rhythm" in found or any(
            k in found and found[k].status == "finding" for k in ("atrial_fibrillation", "atrial_flutter")):
        return []
    guess = _guess(ctx)
    sid = {"complete_av_block": "complete_avb", "second_degree_av_block_mobitz1": "mobitz1",
           "second_degree_av_block_mobitz2": "mobitz2", "av_block_2to1": "avb_2to1"}.get(guess or "")
    ai = ctx.ai_present("3AVB", "2AVB")
    if sid == "complete_avb" and not ai and not ctx.ai_present("AVB", "_AVB") and (ctx.hr is None or ctx.hr >= ctx.th["hr_slow"]):
        sid = None   # AV dissociation at a normal ventricular rate without AI support: not called complete block
    one_to_one = ctx.rhythm.get("av_relation") == "1:1" and (ctx.rhythm.get("p_before_qrs_share") or 0) >= 0.9
    if sid is not None:
        ev = _rhythm_ev(ctx) + [ctx.ev_ai(a) for a in ai]
        return [finding(sid, source="ai+measurement" if ai else "measurement", evidence=ev,
                        confidence=ai[0].probability if ai else None)]
    if ai and one_to_one:
        return [finding("high_degree_avb", source="ai", evidence=[ctx.ev_ai(ai[0])] + _rhythm_ev(ctx),
                        confidence=ai[0].probability, status="ai_only",
                        note=ctx.say("note.conducted_p_1to1"))]
    if ai:
        slow = ctx.hr is not None and ctx.hr < 60
        if slow or ctx.pr is None:
            return [finding("high_degree_avb", source="ai+measurement" if ctx.hr else "ai",
                            evidence=[ctx.ev_ai(ai[0])] + ([_ev_hr(ctx)] if ctx.hr else []),
                            confidence=ai[0].probability)]
        return [finding("high_degree_avb", source="ai", evidence=[ctx.ev_ai(ai[0]), _ev_hr(ctx)],
                        confidence=ai[0].probability, status="ai_only",
                        note=ctx.say("note.conduction_1to1_rate"))]
    unspecified = ctx.ai_present("AVB", "_AVB")
    if unspecified:   # the AI's AV block of unspecified degree (97 % first degree in PTB-XL): the tracing says which
        a = unspecified[0]
        blocked = ctx.rhythm.get("av_relation") in ("2:1", "dissociated", "wenckebach", "mobitz2")
        slow = ctx.hr is not None and ctx.hr < ctx.th["hr_slow"] and (blocked or ctx.pr is None)
        if ctx.pr is not None and ctx.pr > ctx.th["pr_long"] and not blocked:
            return [finding("first_degree_avb", source="ai", evidence=[ctx.ev_ai(a)], confidence=a.probability)]
        if slow or blocked:
            ev = [ctx.ev_ai(a)] + ([_ev_hr(ctx)] if ctx.hr else [])
            return [finding("high_degree_avb", source="ai+measurement" if ctx.hr else "ai", evidence=ev,
                            confidence=a.probability)]
        return [finding("av_block", source="ai", evidence=[ctx.ev_ai(a)], confidence=a.probability)]
    return []


def svt_and_junctional(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Regular narrow tachycardia without a P wave before each QRS: SVT; regular 40–100/min without
    P: junctional rhythm. A P wave before each QRS makes it sinus tachycardia, not SVT."""
    if ctx.pacing or any(k in found and found[k].status == "finding"
                         for k in ("paced_rhythm", "atrial_fibrillation", "atrial_flutter", "irregular_rhythm_no_p",
                                   "complete_avb")):
        return []
    guess = _guess(ctx)
    ai = ctx.ai_present("SVTAC", "PSVT")
    share = ctx.rhythm.get("p_before_qrs_share")
    p_each = (share is not None and share >= 0.8) or (not ctx.rhythm and ctx.p_dur is not None and ctx.pr is not None)
    out: list[Finding] = []
    if guess == "svt" or (ai and not p_each and not ctx.wide):
        ev = _rhythm_ev(ctx) + [_ev_hr(ctx)] if ctx.hr else _rhythm_ev(ctx)
        out.append(finding("svt", source="ai+measurement" if ai and guess == "svt" else ("ai" if ai else "measurement"),
                           evidence=ev + [ctx.ev_ai(a) for a in ai], confidence=ai[0].probability if ai else None))
    elif ai and p_each:
        out.append(finding("svt", source="ai", evidence=[ctx.ev_ai(ai[0]), _ev_p(ctx)], confidence=ai[0].probability,
                           status="ai_only", note=ctx.say("note.sinus_tachycardia")))
    if guess == "junctional" and not ctx.ai_present("SR"):   # small P waves the tracing misses: the AI's sinus wins
        out.append(finding("junctional_rhythm", evidence=_rhythm_ev(ctx)))
    return out


def sinus(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Sinus rhythm: a consistent P wave before each QRS with a measurable PR and a regular rhythm
    (or the tracing's rhythm says sinus)."""
    blocking = ("paced_rhythm", "atrial_fibrillation", "atrial_flutter", "irregular_rhythm_no_p", "svt",
                "junctional_rhythm", "complete_avb")
    if any(k in found and found[k].status == "finding" for k in blocking):
        return []
    guess = _guess(ctx)
    ai = ctx.ai_present("SR")
    if ai and guess == "junctional" and not ctx.irregular:
        return [finding("sinus_rhythm", source="ai", evidence=[ctx.ev_ai(ai[0])] + _rhythm_ev(ctx),
                        confidence=ai[0].probability,
                        note=ctx.say("note.small_p_waves"))]
    if guess in ("sinus", "second_degree_av_block_mobitz1", "second_degree_av_block_mobitz2", "av_block_2to1") \
            or (guess in (None, "undetermined") and ctx.measured and ctx.p_dur is not None and ctx.pr is not None
                and not ctx.irregular):
        ev = [_ev_p(ctx), _ev_cv(ctx)] + _rhythm_ev(ctx)
        return [finding("sinus_rhythm", source="ai+measurement" if ai else "measurement", evidence=ev + [ctx.ev_ai(a) for a in ai],
                        confidence=ai[0].probability if ai else None)]
    return []


def rate(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Rate limits (AHA 2007 part II: sinus bradycardia < 60/min, marked < 50, sinus tachycardia
    > 100/min); < 40 and > 130/min are emergencies (NEWS2 2017 scores ≥ 131/min highest)."""
    if ctx.hr is None:
        return []
    th, hr = ctx.th, ctx.hr
    sinus = "sinus_rhythm" in found
    ev = [_ev_hr(ctx)]
    d = f"{hr:.0f}/min"
    out: list[Finding] = []
    if hr > th["hr_very_fast"]:
        out.append(finding("very_fast_rate", evidence=ev, detail=d))
    elif hr > th["hr_fast"]:
        out.append(finding("sinus_tachycardia" if sinus else "tachycardia", evidence=ev, detail=d))
    if hr < th["hr_very_slow"]:
        out.append(finding("very_slow_rate", evidence=ev, detail=d))
    elif hr < th["hr_slow"]:
        if sinus:
            marked = hr < th["hr_marked_slow"]
            out.append(finding("sinus_bradycardia_marked" if marked else "sinus_bradycardia", evidence=ev, detail=d))
        else:
            out.append(finding("bradycardia", evidence=ev, detail=d))
    return out


def wide_complex_tachycardia(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """QRS ≥ 120 ms at more than 120/min without a P wave before each QRS and not paced:
    ventricular tachycardia until proven otherwise (ESC 2022 ventricular arrhythmias)."""
    if ctx.hr is None or not ctx.wide or ctx.hr <= ctx.th["hr_wide_fast"] or ctx.pacing or "sinus_rhythm" in found \
            or "paced_rhythm" in found:
        return []
    return [finding("wide_complex_tachycardia", evidence=[_ev_hr(ctx), ctx.ev("qrs_ms", ctx.qrs, f"QRS {ctx.qrs:.0f} ms")])]


def _times(ts: list[float]) -> str:
    shown = ", ".join(f"{t:.1f}" for t in ts[:6])
    return shown + (" …" if len(ts) > 6 else "") + " s"


def premature_complexes(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Premature ventricular complexes: beats whose QRS differs from the dominant one (AAMI EC57 class V,
    ``signal.ectopy``), when the AI does not rule them out (its PVC probability at least
    ``pvc_ai_support``; without an AI reading, the beats of another shape that also come early and are followed
    by a pause, ``ectopy.n_v_timed``). Premature atrial complexes: the AI's,
    supported (or not) by early beats of dominant shape. An AI PVC that the classified tracing contradicts
    (every QRS of the dominant shape) is shown as AI only."""
    e = ctx.ectopy
    if ctx.pacing or "paced_rhythm" in found or not e or int(e.get("n_classified") or 0) < 4:
        return []
    out = []
    n_v = int(e.get("n_v") or 0)
    ai_v = ctx.ai_present("PVC")
    p_v = ctx.ai["PVC"].probability if "PVC" in ctx.ai else None
    v_times, shape_key = e.get("v_s") or [], "evidence.other_shape"
    if n_v and ctx.ai_ok and p_v is not None and p_v < ctx.th["pvc_ai_support"]:
        n_v = 0   # another QRS shape the AI does not see as a PVC (noise, aberrancy, a changing axis)
        ai_v = []
    elif n_v and not ctx.ai_ok and e.get("n_v_timed") is not None:
        # the tracing alone (no AI, e.g. a one- or two-lead recorder): a beat of another shape must also come
        # early and be followed by a pause, as a PVC does, so that noise bursts are not called PVCs (2026.12.5)
        n_v, v_times, shape_key = int(e["n_v_timed"]), e.get("v_timed_s") or [], "evidence.other_shape_timed"
    if n_v:
        ev = [ctx.ev("ectopy.n_v", n_v, ctx.say(shape_key, n=n_v, times=_times(v_times)))]
        out.append(finding("pvc", source="ai+measurement" if ai_v else "measurement",
                           evidence=ev + [ctx.ev_ai(a) for a in ai_v]))
    elif ai_v:
        out.append(finding("pvc", source="ai", evidence=[ctx.ev_ai(a) for a in ai_v], status="ai_only",
                           confidence=ai_v[0].probability,
                           note=ctx.say("note.dominant_shape")))
    ai_s = ctx.ai_present("PAC")
    n_s = int(e.get("n_s") or 0)
    if ai_s:
        if n_s:
            ev = [ctx.ev("ectopy.n_s", n_s, ctx.say("evidence.early_dominant", n=n_s, times=_times(e.get("s_s") or [])))]
            out.append(finding("pac", source="ai+measurement", evidence=[ctx.ev_ai(ai_s[0])] + ev,
                               confidence=ai_s[0].probability))
        else:
            out.append(finding("pac", source="ai", evidence=[ctx.ev_ai(ai_s[0])], confidence=ai_s[0].probability))
    return out


def ectopy_from_ai(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Bigeminy, trigeminy, sinus and supraventricular arrhythmia: from the AI at its operating point."""
    out = []
    for code, sid in (("BIGU", "bigeminy"), ("TRIGU", "trigeminy"),
                      ("SARRH", "sinus_arrhythmia"), ("SVARR", "supraventricular_arrhythmia")):
        for a in ctx.ai_present(code):
            if sid == "sinus_arrhythmia" and "sinus_rhythm" not in found:
                continue
            out.append(finding(sid, source="ai", evidence=[ctx.ev_ai(a)], confidence=a.probability))
    return out


RHYTHM_RULES: tuple[Rule, ...] = (
    Rule("paced_rhythm", "Pacemaker spike before the QRS (AHA 2009 part I, pacing artefacts)", paced),
    Rule("atrial_flutter", ESC_2019_SVT + "; atrial organisation index (Everett et al. 2001)", atrial_flutter),
    Rule("atrial_fibrillation", "ESC guidelines for atrial fibrillation (Van Gelder et al. 2024): irregularly "
         "irregular RR, no distinct P waves", atrial_fibrillation),
    Rule("av_block_2nd_3rd", ESC_2018_BRADY, av_block_from_tracing),
    Rule("svt_junctional", ESC_2019_SVT, svt_and_junctional),
    Rule("sinus_rhythm", AHA_2009_II, sinus),
    Rule("rate", AHA_2009_II + "; NEWS2 (Royal College of Physicians 2017)", rate),
    Rule("wide_complex_tachycardia", "ESC guidelines for ventricular arrhythmias (Zeppenfeld et al. 2022)",
         wide_complex_tachycardia),
    Rule("premature_complexes", "AAMI EC57 beat classes (ANSI/AAMI EC57:2012): QRS shape against the dominant beat, "
         "prematurity ≤ 85 % of the dominant RR (thresholds chosen on the MIT-BIH tuning half)", premature_complexes),
    Rule("ectopy_ai", "PTB-XL classifier at its fold-9 operating point", ectopy_from_ai),
)
