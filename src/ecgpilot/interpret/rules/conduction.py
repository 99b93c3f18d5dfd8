"""Conduction: AV conduction time, bundle branch and fascicular blocks, pre-excitation, Brugada,
measured on the per-lead matrix and arbitrated with the AI."""

from __future__ import annotations

from collections.abc import Mapping

from ecgpilot.interpret.context import Context, Finding
from ecgpilot.interpret.rules.base import Rule, finding

__all__ = ["CONDUCTION_RULES", "lbbb_morphology", "rbbb_morphology"]

AHA_2009_III = ("AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part III: "
                "intraventricular conduction disturbances (Surawicz et al. 2009)")


def _ev_qrs(ctx: Context) -> dict[str, object]:
    return ctx.ev("qrs_ms", ctx.qrs, f"QRS {ctx.qrs:.0f} ms")


def lbbb_morphology(ctx: Context) -> tuple[bool, list[dict[str, object]]]:
    """LBBB shape (AHA 2009 part III): V1 negative (QS or rS), no Q wave in I, V5 and V6 (two of the
    three, for measurement robustness), and a late R (R-peak time > 60 ms in V5 or V6); a notched R in
    I, aVL, V5 or V6 is listed as evidence."""
    if not ctx.leads:
        return False, []
    r1, s1, q1 = ctx.v("V1", "r_uv"), ctx.v("V1", "s_uv"), ctx.v("V1", "q_uv")
    v1_neg = r1 is not None and ((s1 or 0) + (q1 or 0)) < -2 * max(r1, 1.0)
    lateral = [x for x in ("I", "V5", "V6") if x in ctx.leads]
    # no Q in I, V5, V6: at least two of the three without a Q ≥ 20 ms (one small q is often a notch)
    no_q = len(lateral) >= 2 and sum((ctx.v(x, "q_ms") or 0) < 20 for x in lateral) >= 2
    late = [x for x in ("V5", "V6") if (ctx.v(x, "r_peak_time_ms") or 0) > 60]
    notched = [x for x in ("I", "aVL", "V5", "V6") if (ctx.leads.get(x) or {}).get("r_notched")]
    ok = v1_neg and no_q and bool(late)   # notching is supporting evidence only (noise can notch an R)
    ev = [ctx.ev_lead("V1", "s_uv", "S"), *(ctx.ev_lead(x, "r_peak_time_ms", "R peak time") for x in late)]
    ev += [ctx.ev(f"lead_matrix.{x}.r_notched", True, ctx.say("evidence.r_notched", lead=x)) for x in notched]
    return ok, ev


def rbbb_morphology(ctx: Context) -> tuple[bool, list[dict[str, object]]]:
    """RBBB shape (AHA 2009 part III): rsr′/rsR′/rSR′ in V1 or V2 (R′ ≥ ``rprime_min_uv``, 1 mm: a smaller
    terminal notch is not counted) or a notched dominant R in V1, and an S wave in I or V6 longer than the
    R wave or longer than 40 ms."""
    if not ctx.leads:
        return False, []
    rsr = [x for x in ("V1", "V2") if (ctx.v(x, "rp_uv") or 0) >= ctx.th["rprime_min_uv"]]
    notched_r = (ctx.leads.get("V1") or {}).get("r_notched") and (ctx.v("V1", "r_uv") or 0) > -(ctx.v("V1", "s_uv") or 0)
    wide_s = [x for x in ("I", "V6") if x in ctx.leads and ((ctx.v(x, "s_ms") or 0) > 40
                                                              or (ctx.v(x, "s_ms") or 0) > (ctx.v(x, "r_ms") or 0) > 0)]
    ok = bool(rsr or notched_r) and len(wide_s) >= 1
    ev = [ctx.ev_lead(x, "rp_uv", "R′") for x in rsr] + [ctx.ev_lead(x, "s_ms", "S") for x in wide_s]
    return ok, ev


def bundle_branch_blocks(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Complete (QRS ≥ 120 ms) and incomplete (110–119 ms) LBBB and RBBB by duration and morphology;
    an AI block that the measured QRS contradicts is shown as AI only."""
    if ctx.pacing or "paced_rhythm" in found or ctx.qrs is None:
        return []
    out: list[Finding] = []
    qrs = ctx.qrs
    lb, lb_ev = lbbb_morphology(ctx)
    rb, rb_ev = rbbb_morphology(ctx)
    complete, incomplete = qrs >= ctx.th["qrs_wide"], ctx.th["qrs_incomplete"] <= qrs < ctx.th["qrs_wide"]
    for kind, morph, ev, ai_codes, ai_inc in (("lbbb", lb, lb_ev, ("CLBBB",), ("ILBBB",)),
                                               ("rbbb", rb, rb_ev, ("CRBBB",), ("IRBBB",))):
        ai_c, ai_i = ctx.ai_present(*ai_codes), ctx.ai_present(*ai_inc)
        ai_any = ai_c + ai_i
        sid = None
        if complete and (morph or ai_c):
            sid = kind
        elif incomplete and (morph or ai_i or ai_c):
            sid = f"incomplete_{kind}"
        if sid is not None and (morph or ai_any):
            src = "ai+measurement" if (morph and ai_any) else ("measurement" if morph else "ai+measurement")
            out.append(finding(sid, source=src, evidence=[_ev_qrs(ctx), *(ev if morph else []),
                                                           *(ctx.ev_ai(a) for a in ai_any)],
                               confidence=ai_any[0].probability if ai_any else None))
            continue
        for a in ai_c + ai_i:   # the AI says block, the measured QRS says otherwise
            block = "complete" if a in ai_c else "incomplete"
            limit = ctx.th["qrs_wide"] if block == "complete" else ctx.th["qrs_incomplete"]
            sid = kind if block == "complete" else f"incomplete_{kind}"
            out.append(finding(sid, source="ai", status="ai_only", evidence=[ctx.ev_ai(a), _ev_qrs(ctx)],
                               confidence=a.probability,
                               note=f"QRS {qrs:.0f} ms (< {limit:.0f} ms)"))
            break
    return out


def ivcd(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """QRS > 110 ms without a bundle branch block shape: nonspecific intraventricular conduction
    delay (AHA 2009 part III); ≥ 120 ms without any named cause: wide QRS. Not from one lead (2026.12.6)."""
    if ctx.qrs is None or ctx.pacing or "paced_rhythm" in found or ctx.one_lead:
        return []
    named = ("lbbb", "rbbb", "incomplete_lbbb", "incomplete_rbbb", "wpw", "wide_complex_tachycardia")
    if any(k in found and found[k].status == "finding" for k in named):
        return []
    ai = ctx.ai_present("IVCD")
    if ctx.qrs > ctx.th["qrs_ivcd"]:
        # 111–119 ms with a normal shape: stated, no urgency of its own; from 120 ms: routine
        return [finding("ivcd", source="ai+measurement" if ai else "measurement",
                        evidence=[_ev_qrs(ctx), *(ctx.ev_ai(a) for a in ai)], detail=f"QRS {ctx.qrs:.0f} ms",
                        confidence=ai[0].probability if ai else None,
                        urgency=None if ctx.wide else "normal")]
    if ai:
        return [finding("ivcd", source="ai", status="ai_only", evidence=[ctx.ev_ai(ai[0]), _ev_qrs(ctx)],
                        confidence=ai[0].probability, note=f"QRS {ctx.qrs:.0f} ms")]
    return []


def first_degree_avb(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """PR > 200 ms with 1:1 conduction (AHA 2009 part II; ESC 2021 pacing). Not from one lead (2026.12.6)."""
    if ctx.one_lead or any(k in found and found[k].status == "finding" for k in
           ("atrial_fibrillation", "atrial_flutter", "irregular_rhythm_no_p", "complete_avb", "paced_rhythm",
            "junctional_rhythm")):
        return []
    ai = ctx.ai_present("1AVB", "LPR")
    if ctx.pr is not None and ctx.pr > ctx.th["pr_long"]:
        return [finding("first_degree_avb", source="ai+measurement" if ai else "measurement",
                        evidence=[ctx.ev("pr_ms", ctx.pr, f"PR {ctx.pr:.0f} ms"), *(ctx.ev_ai(a) for a in ai)],
                        detail=f"PR {ctx.pr:.0f} ms", confidence=ai[0].probability if ai else None)]
    if ai and ctx.pr is not None:
        return [finding("first_degree_avb", source="ai", status="ai_only", confidence=ai[0].probability,
                        evidence=[ctx.ev_ai(ai[0]), ctx.ev("pr_ms", ctx.pr, f"PR {ctx.pr:.0f} ms")],
                        note=f"PR {ctx.pr:.0f} ms (≤ {ctx.th['pr_long']:.0f} ms)")]
    return []


def fascicular_blocks(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """LAFB: axis −45° to −90°, qR in aVL, QRS < 120 ms; LPFB: axis 90°–180°, rS in I and aVL, qR in
    III and aVF (AHA 2009 part III). The AI's LAFB/LPFB confirms or is shown as AI only."""
    if ctx.axis is None or ctx.pacing or "paced_rhythm" in found:
        return []
    out: list[Finding] = []
    ax = ctx.axis
    ev_ax = ctx.ev("qrs_axis_deg", ax, ctx.say("evidence.qrs_axis", axis=ax))
    qr_avl = (ctx.v("aVL", "q_uv") or 0) < 0 and (ctx.v("aVL", "r_uv") or 0) > 0
    lafb = -90 <= ax <= -45 and (qr_avl or not ctx.leads)
    qr_inf = all((ctx.v(x, "q_uv") or 0) < 0 and (ctx.v(x, "r_uv") or 0) > 0 for x in ("III", "aVF"))
    rs_lat = all((ctx.v(x, "r_uv") or 0) > 0 and (ctx.v(x, "s_uv") or 0) < -(ctx.v(x, "r_uv") or 0) for x in ("I", "aVL"))
    lpfb = 90 < ax <= 180 and qr_inf and rs_lat
    for sid, ok, codes in (("lafb", lafb, ("LAFB",)), ("lpfb", lpfb, ("LPFB",))):
        ai = ctx.ai_present(*codes, "LAFB/LPFB")
        if ok:
            out.append(finding(sid, source="ai+measurement" if ai else "measurement",
                               evidence=[ev_ax, *(ctx.ev_ai(a) for a in ai)], confidence=ai[0].probability if ai else None))
        elif ctx.ai_present(*codes):
            a = ctx.ai_present(*codes)[0]
            out.append(finding(sid, source="ai", status="ai_only", evidence=[ctx.ev_ai(a), ev_ax], confidence=a.probability,
                               note=ctx.say("note.axis", axis=ax)))
    return out


def bifascicular(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """RBBB with LAFB or LPFB (AHA 2009 part III)."""
    rb = found.get("rbbb")
    fasc = [found[k] for k in ("lafb", "lpfb") if k in found and found[k].status == "finding"]
    if rb is None or rb.status != "finding" or not fasc:
        return []
    return [finding("bifascicular_block", source=rb.source, evidence=rb.evidence[:1] + fasc[0].evidence[:1])]


def preexcitation(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Short PR (< 120 ms) with a widened QRS (≥ 110 ms): ventricular pre-excitation (AHA 2009 part III:
    PR < 120 ms, delta wave, QRS > 120 ms); named WPW when the AI also sees it. Not from one lead (2026.12.6)."""
    if ctx.pr is None or ctx.qrs is None or ctx.pacing or ctx.one_lead or any(
            k in found and found[k].status == "finding" for k in ("atrial_fibrillation", "atrial_flutter", "paced_rhythm")):
        return []
    ai = ctx.ai_present("WPW")
    ev = [ctx.ev("pr_ms", ctx.pr, f"PR {ctx.pr:.0f} ms"), _ev_qrs(ctx)]
    if ctx.pr < ctx.th["pr_short"] and ctx.qrs >= ctx.th["qrs_delta"]:
        if ai:
            return [finding("wpw", source="ai+measurement", evidence=ev + [ctx.ev_ai(ai[0])], confidence=ai[0].probability)]
        return [finding("possible_preexcitation", evidence=ev)]
    if ai:
        return [finding("wpw", source="ai", status="ai_only", evidence=[ctx.ev_ai(ai[0])] + ev, confidence=ai[0].probability,
                        note=f"PR {ctx.pr:.0f} ms, QRS {ctx.qrs:.0f} ms")]
    return []


def brugada(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Brugada type 1: coved ST elevation ≥ 2 mm at J in V1 or V2, descending to a negative T
    (Priori et al. 2013 HRS/EHRA/APHRS consensus; ESC 2022 ventricular arrhythmias)."""
    out_leads = []
    for x in ("V1", "V2"):
        j, s60, s80, tn = (ctx.v(x, k) for k in ("st_j_uv", "st_60_uv", "st_80_uv", "t_neg_uv"))
        if j is None or s60 is None or s80 is None or tn is None:
            continue
        if j >= 200 and j > s60 > s80 and tn <= -50 and (ctx.v(x, "t_pos_uv") or 0) < j / 2:
            out_leads.append(x)
    if not out_leads or ctx.pacing:
        return []
    return [finding("brugada_type1", leads=out_leads,
                    evidence=[ctx.ev_lead(x, "st_j_uv", "ST J") for x in out_leads]
                    + [ctx.ev_lead(x, "t_neg_uv", "T−") for x in out_leads])]


CONDUCTION_RULES: tuple[Rule, ...] = (
    Rule("bundle_branch_blocks", AHA_2009_III, bundle_branch_blocks),
    Rule("ivcd", AHA_2009_III, ivcd),
    Rule("first_degree_avb", "AHA/ACCF/HRS recommendations part II (Mason et al. 2007): PR > 200 ms", first_degree_avb),
    Rule("fascicular_blocks", AHA_2009_III, fascicular_blocks),
    Rule("bifascicular_block", AHA_2009_III, bifascicular),
    Rule("preexcitation", AHA_2009_III, preexcitation),
    Rule("brugada_type1", "Priori et al. 2013 HRS/EHRA/APHRS expert consensus; ESC 2022 ventricular arrhythmias", brugada),
)
