"""Axis, QT and the remaining AI statements."""

from __future__ import annotations

from collections.abc import Mapping

from ecgpilot.interpret.catalogue import AI_TERRITORY
from ecgpilot.interpret.context import Context, Finding
from ecgpilot.interpret.rules.base import Rule, finding

__all__ = ["OTHER_RULES"]

AHA_2009_I = "AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part I (Kligfield et al. 2007)"
AHA_2009_IV = "AHA/ACCF/HRS recommendations part IV: the ST segment, T and U waves, and the QT interval (Rautaharju et al. 2009)"


def axis(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Frontal QRS axis: normal −30° to 90°, left −30° to −90°, right 90° to 180°, extreme otherwise
    (AHA 2009 part III)."""
    if ctx.axis is None:
        return []
    ax, th = ctx.axis, ctx.th
    if th["axis_left"] <= ax <= th["axis_right"]:
        sid = "axis_normal"
    elif -90 <= ax < th["axis_left"]:
        sid = "left_axis_deviation"
    elif th["axis_right"] < ax <= 180:
        sid = "right_axis_deviation"
    else:
        sid = "extreme_axis"
    return [finding(sid, evidence=[ctx.ev("qrs_axis_deg", ax, ctx.say("evidence.qrs_axis", axis=ax))],
                    detail=f"{ax:.0f}°")]


def qt(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Long QTc > 450 ms (men), > 460 ms (women), > 470 ms (sex unknown) (AHA 2009 part IV); ≥ 500 ms is an
    emergency only when the T end agrees across leads and beats and ends before the next P wave (QT ≤ RR − PR,
    or RR − 120 ms without PR), else "QT not reliably measurable"; a one-lead recording cannot show agreement
    across leads: a long QTc from one lead is "QT not reliably measurable" (rules 2026.12.4, long QTc 2026.12.6).
    With a wide QRS, QTc − (QRS − 100 ms) is judged."""
    if ctx.qtc is None:
        return []
    th = ctx.th
    limit = {"M": th["qtc_long_m"], "F": th["qtc_long_f"]}.get(ctx.sex, th["qtc_long_u"])
    formula = ctx.qtc_formula.capitalize()
    ev = [ctx.ev("qtc_ms", ctx.qtc, f"QTc ({formula}) {ctx.qtc:.0f} ms")]
    judged = ctx.qtc - (ctx.qrs - th["qrs_normal_ref"]) if ctx.wide and ctx.qrs is not None else ctx.qtc
    detail = f"{ctx.qtc:.0f} ms, {formula}" + (
        f"; {ctx.say('detail.qtc_wide_qrs', qtc=judged)}"
        if ctx.wide else "")
    # the T end must come before the next P wave: a QT running into it cannot be measured (Postema & Wilde 2014)
    overlap = ctx.qt is not None and ctx.rr is not None and ctx.qt > ctx.rr - (ctx.pr if ctx.pr is not None else 120.0)
    reliable = ctx.qt_reliable and not overlap
    if overlap:
        detail += "; " + ctx.say("detail.qt_into_next_p", qt=ctx.qt, rr=ctx.rr)
    if judged > limit and ctx.one_lead:   # one lead (a handheld recorder): no agreement across leads to check
        return [finding("qt_unreliable", evidence=ev, detail=detail, note=ctx.say("note.qt_single_lead"))]
    if judged >= th["qtc_very_long"]:
        if not reliable:
            return [finding("qt_unreliable", evidence=ev, detail=detail,
                            note=ctx.say("note.t_end_discordant"))]
        return [finding("very_long_qtc", evidence=ev, detail=detail)]
    if judged > limit:
        if not reliable:
            return [finding("qt_unreliable", evidence=ev, detail=detail)]
        return [finding("long_qtc", evidence=ev, detail=detail)]
    return []


def other_ai(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Atrial enlargement, septal hypertrophy, high voltage, injury codes: from the AI at its operating point.
    The AI's injury (acute ST elevation) codes are shown as AI only when the measured ST does not
    reach the STEMI limits (the classifier alone never raises an emergency)."""
    out = []
    for code, sid in (("LAO/LAE", "left_atrial_enlargement"), ("RAO/RAE", "right_atrial_enlargement"),
                      ("SEHYP", "septal_hypertrophy"), ("HVOLT", "high_voltage")):
        for a in ctx.ai_present(code):
            out.append(finding(sid, source="ai", evidence=[ctx.ev_ai(a)], confidence=a.probability))
    inj = ctx.ai_present("INJAS", "INJAL", "INJIN", "INJLA", "INJIL", "STE_", "STE")
    acute = [k for k in ("stemi", "sgarbossa", "posterior_stemi", "avr_stemi_equivalent",
                         "de_winter") if k in found]
    if inj:
        best = max(inj, key=lambda a: a.probability)
        if acute:
            found[acute[0]].evidence.append(ctx.ev_ai(best))
            found[acute[0]].source = "ai+measurement"
        elif ctx.leads:
            out.append(finding("acute_st_elevation", source="ai", status="ai_only", evidence=[ctx.ev_ai(best)],
                               confidence=best.probability, leads=list(AI_TERRITORY.get(best.code, [])),
                               note=ctx.say("note.st_below_limits")))
        else:   # no matrix (older documents): the AI's injury statement stands, as before
            out.append(finding("acute_st_elevation", source="ai", evidence=[ctx.ev_ai(best)], confidence=best.probability,
                               leads=list(AI_TERRITORY.get(best.code, []))))
    return out


OTHER_RULES: tuple[Rule, ...] = (
    Rule("axis", "AHA/ACCF/HRS recommendations part III (Surawicz et al. 2009)", axis),
    Rule("qtc", AHA_2009_IV, qt),
    Rule("other_ai", "PTB-XL classifier at its fold-9 operating point", other_ai),
)
