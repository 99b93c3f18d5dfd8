"""Voltage criteria on the per-lead matrix: left and right ventricular hypertrophy, low voltage."""

from __future__ import annotations

from collections.abc import Mapping

from ecgpilot.interpret.context import Context, Finding
from ecgpilot.interpret.rules.base import Rule, finding

__all__ = ["VOLTAGE_RULES", "lvh_voltage"]

AHA_2009_V = ("AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, part V: "
              "chamber hypertrophy (Hancock et al. 2009)")
ESC_2018_HT = "2018 ESC/ESH hypertension guidelines (Sokolow-Lyon > 35 mm, Cornell voltage > 28 mm men / > 20 mm women, R aVL ≥ 11 mm)"


def lvh_voltage(ctx: Context) -> list[tuple[str, float, float]]:
    """The voltage criteria met: (name, value µV, limit µV). Cornell by sex (unknown sex: the men's
    limit, the more specific)."""
    out = []
    s1, r5, r6 = ctx.v("V1", "s_uv"), ctx.v("V5", "r_uv"), ctx.v("V6", "r_uv")
    if s1 is not None and (r5 is not None or r6 is not None):
        sok = -s1 + max(r5 or 0.0, r6 or 0.0)
        if sok > ctx.th["sokolow_lyon_uv"]:
            out.append(("Sokolow-Lyon", sok, ctx.th["sokolow_lyon_uv"]))
    ravl, s3 = ctx.v("aVL", "r_uv"), ctx.v("V3", "s_uv")
    if ravl is not None and s3 is not None:
        corn = ravl - s3
        limit = ctx.th["cornell_f_uv"] if ctx.sex == "F" else ctx.th["cornell_m_uv"]
        if corn > limit:
            out.append(("Cornell", corn, limit))
    if ravl is not None and ravl >= ctx.th["ravl_uv"]:
        out.append(("R aVL", ravl, ctx.th["ravl_uv"]))
    return out


def lvh(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """LVH by voltage (Sokolow-Lyon, Cornell by sex, R aVL), not judged with LBBB or pacing; with
    lateral ST depression and T inversion: LVH with strain. The AI's LVH without any voltage
    criterion is shown as AI only."""
    if ctx.pacing or any(k in found and found[k].status == "finding" for k in ("lbbb", "paced_rhythm")):
        return []
    if not ctx.amplitudes_reliable:   # gains of the file inconsistent: the AI's view only, unchecked
        ai = ctx.ai_present("LVH", "VCLVH")
        return [finding("lvh", source="ai", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability)] if ai else []
    met = lvh_voltage(ctx)
    ai = ctx.ai_present("LVH", "VCLVH")
    if not met:
        if ai and ctx.leads:
            return [finding("lvh", source="ai", status="ai_only", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability,
                            note=ctx.say("note.no_voltage_criterion"))]
        if ai:
            return [finding("lvh", source="ai", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability)]
        return []
    ev = [ctx.ev(f"voltage.{name}", round(val), f"{name} {val / 1000:.1f} mV (> {lim / 1000:.1f})") for name, val, lim in met]
    strain = [x for x in ("I", "aVL", "V5", "V6")
              if (ctx.v(x, "st_j_uv") or 0) <= -50 and (ctx.v(x, "t_neg_uv") or 0) <= -100]
    src = "ai+measurement" if ai else "measurement"
    conf = ai[0].probability if ai else None
    if len(strain) >= 2:
        ev += [ctx.ev_lead(x, "st_j_uv", "ST J") for x in strain]
        return [finding("lvh_strain", source=src, evidence=ev + [ctx.ev_ai(a) for a in ai], leads=strain, confidence=conf,
                        detail=", ".join(n for n, _, _ in met))]
    return [finding("lvh", source=src, evidence=ev + [ctx.ev_ai(a) for a in ai], confidence=conf,
                    detail=", ".join(n for n, _, _ in met))]


def rvh(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """RVH: right axis deviation (> 90°) with a dominant R in V1 (R ≥ 0.7 mV, or R/S > 1), QRS < 120 ms,
    no RBBB (AHA 2009 part V)."""
    if ctx.axis is None or ctx.pacing or ctx.wide or any(
            k in found and found[k].status == "finding" for k in ("rbbb", "incomplete_rbbb", "paced_rhythm", "wpw")):
        return []
    r1, s1 = ctx.v("V1", "r_uv"), ctx.v("V1", "s_uv")
    ai = ctx.ai_present("RVH")
    ok = ctx.axis > 90 and r1 is not None and (r1 >= ctx.th["rvh_r_v1_uv"] or (s1 is not None and r1 > -s1 and r1 >= 300))
    if ok:
        ev = [ctx.ev("qrs_axis_deg", ctx.axis, ctx.say("evidence.qrs_axis", axis=ctx.axis)), ctx.ev_lead("V1", "r_uv", "R")]
        return [finding("rvh", source="ai+measurement" if ai else "measurement", evidence=ev + [ctx.ev_ai(a) for a in ai],
                        confidence=ai[0].probability if ai else None)]
    if ai and ctx.leads:
        return [finding("rvh", source="ai", status="ai_only", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability,
                        note=ctx.say("note.no_rvh_criterion"))]
    return []


def low_voltage(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """QRS peak to peak < 0.5 mV in every limb lead, or < 1.0 mV in every precordial lead (AHA 2009 part V)."""
    if not ctx.amplitudes_reliable:
        return []
    limb = [v for x in ("I", "II", "III", "aVR", "aVL", "aVF") if (v := ctx.v(x, "qrs_pp_uv")) is not None]
    prec = [v for x in ("V1", "V2", "V3", "V4", "V5", "V6") if (v := ctx.v(x, "qrs_pp_uv")) is not None]
    limb_low = len(limb) == 6 and max(limb) < ctx.th["low_voltage_limb_uv"]
    prec_low = len(prec) == 6 and max(prec) < ctx.th["low_voltage_precordial_uv"]
    ai = ctx.ai_present("LVOLT")
    if limb_low or prec_low:
        ev = []
        if limb_low:
            ev.append(ctx.ev("voltage.limb_max_qrs_pp", max(limb), ctx.say("evidence.limb_max_qrs", mv=max(limb) / 1000)))
        if prec_low:
            ev.append(ctx.ev("voltage.precordial_max_qrs_pp", max(prec), ctx.say("evidence.precordial_max_qrs", mv=max(prec) / 1000)))
        return [finding("low_voltage", source="ai+measurement" if ai else "measurement", evidence=ev + [ctx.ev_ai(a) for a in ai])]
    if ai and ctx.leads:
        return [finding("low_voltage", source="ai", status="ai_only", evidence=[ctx.ev_ai(ai[0])], confidence=ai[0].probability,
                        note=ctx.say("note.normal_voltages"))]
    return []


VOLTAGE_RULES: tuple[Rule, ...] = (
    Rule("lvh_voltage", ESC_2018_HT + "; " + AHA_2009_V, lvh),
    Rule("rvh", AHA_2009_V, rvh),
    Rule("low_voltage", AHA_2009_V, low_voltage),
)
