"""Acute coronary syndromes and their mimics, Q waves and repolarisation, on the per-lead matrix.

ST levels are at the J point against the PR segment (``st_j_uv``), as the 4th universal
definition of MI measures them; the STEMI thresholds are the guideline's, by sex and age.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecgpilot import messages
from ecgpilot.interpret.catalogue import AI_TERRITORY, TERRITORIES
from ecgpilot.interpret.context import Context, Finding, lead_order
from ecgpilot.interpret.rules.base import Rule, finding
from ecgpilot.interpret.rules.conduction import lbbb_morphology
from ecgpilot.interpret.rules.voltage import lvh_voltage

__all__ = ["ISCHAEMIA_RULES", "stemi_limit_uv", "st_elevation_leads", "pathological_q_leads"]

UDMI_2018 = "Fourth universal definition of myocardial infarction (Thygesen et al. 2018); ESC STEMI guidelines (Ibanez et al. 2017)"
_INFARCT_CODES = ("AMI", "ASMI", "ALMI", "IMI", "ILMI", "IPMI", "IPLMI", "LMI", "PMI")
_BLOCKING = ("lbbb", "paced_rhythm")


def stemi_limit_uv(ctx: Context, lead: str) -> float:
    """J-point elevation limit of one lead (4th UDMI 2018): V2–V3 ≥ 2 mm men ≥ 40 y, ≥ 2.5 mm men < 40 y,
    ≥ 1.5 mm women; other leads ≥ 1 mm. Unknown sex: ``stemi_v2v3_u_uv`` (one of the guideline's limits,
    chosen on PTB-XL fold 9, whose shared copy has no sex); unknown age in men: the ≥ 40 y limit."""
    th = ctx.th
    if lead not in ("V2", "V3"):
        return th["stemi_uv"]
    if ctx.sex == "M":
        return th["stemi_v2v3_m_young_uv"] if ctx.age is not None and ctx.age < 40 else th["stemi_v2v3_m_uv"]
    if ctx.sex == "F":
        return th["stemi_v2v3_f_uv"]
    return th["stemi_v2v3_u_uv"]


def st_elevation_leads(ctx: Context, limit: float | None = None) -> list[str]:
    """Leads in contiguous pairs whose J-point elevation, sustained at J+60 ms, both reach their limit
    (``limit`` µV for every lead when given, else :func:`stemi_limit_uv`)."""
    def high(x: str) -> bool:
        j, j60 = ctx.v(x, "st_j_uv"), ctx.v(x, "st_60_uv")
        lim = limit if limit is not None else stemi_limit_uv(ctx, x)
        # at J, sustained at J+60 ms: a J-point value the ST segment does not keep is a QRS-end artefact
        # (J located ±10 ms); chosen on PTB-XL fold 9 (false STEMI 41 → 30 of 2180, no fold-9 STE lost)
        return j is not None and j >= lim and j60 is not None and j60 >= lim

    return ctx.contiguous({x for x in ctx.leads if high(x)})


def _blocked(ctx: Context, found: Mapping[str, Finding]) -> bool:
    """LBBB, pacing, a QRS ≥ 120 ms of LBBB shape, or a QRS ≥ ``qrs_very_wide`` (160 ms) without RBBB
    (unseen pacing, severe conduction disease): the ST criteria of the 4th UDMI do not apply (secondary
    ST-T changes), the modified Sgarbossa criteria do."""
    rbbb = "rbbb" in found and found["rbbb"].status == "finding"
    very_wide = ctx.qrs is not None and ctx.qrs >= ctx.th["qrs_very_wide"] and not rbbb
    return ctx.pacing or any(k in found and found[k].status == "finding" for k in _BLOCKING) or (
        ctx.wide and lbbb_morphology(ctx)[0]) or very_wide


def _reciprocal(ctx: Context, leads: list[str]) -> list[str]:
    """Leads outside ``leads`` with ST depression ≥ 0.5 mm at J (aVR excluded)."""
    return [x for x in ctx.leads if x not in leads and x != "aVR" and (ctx.v(x, "st_j_uv") or 0) <= -50]


def _depth(ctx: Context, x: str) -> float:
    """Depth (µV, ≥ 0) of the deepest negative QRS wave (S or QS) of a lead."""
    return -min(ctx.v(x, "s_uv") or 0.0, ctx.v(x, "q_uv") or 0.0)


def _lvh_discordant(ctx: Context, leads: list[str], found: Mapping[str, Finding] | None = None) -> bool:
    """LVH (or an incomplete LBBB / conduction delay) with ST elevation confined to V1–V4 leads whose QRS
    is mostly negative, each elevation smaller than 25 % of the preceding S wave (Armstrong et al. 2012,
    the same proportion as Smith's modified Sgarbossa criterion): the elevation is secondary, not an infarction."""
    found = found or {}
    cause = bool(lvh_voltage(ctx)) or any(k in found and found[k].status == "finding"
                                           for k in ("incomplete_lbbb", "ivcd"))
    if not cause or not leads or any(x not in ("V1", "V2", "V3", "V4") for x in leads):
        return False
    for x in leads:
        depth, r = _depth(ctx, x), (ctx.v(x, "r_uv") or 0.0)
        if depth <= r or (ctx.v(x, "st_j_uv") or 0.0) >= 0.25 * depth:
            return False
    return True


def _pericarditis(ctx: Context, leads: list[str]) -> bool:
    """Diffuse ST elevation (limb and precordial leads, ≥ 5 leads) with PR depression in ≥ 2 leads and
    no reciprocal ST depression outside aVR and V1 (ESC 2015 pericardial diseases guidelines)."""
    elevated = [x for x in ctx.leads if (ctx.v(x, "st_j_uv") or 0) >= 50]
    limb = [x for x in elevated if not x.startswith("V")]
    prec = [x for x in elevated if x.startswith("V")]
    pr_dep = [x for x in ctx.leads if x != "aVR" and (ctx.v(x, "pr_seg_uv") or 0) <= -50]
    recip = [x for x in _reciprocal(ctx, elevated) if x != "V1"]
    return len(elevated) >= 5 and bool(limb) and bool(prec) and len(pr_dep) >= 2 and not recip


def pathological_q_leads(ctx: Context) -> dict[str, list[str]]:
    """Q-wave criteria of prior MI by territory (4th UDMI 2018): any Q ≥ 20 ms or QS in V2–V3; Q ≥ 30 ms
    and ≥ 0.1 mV deep, or QS, in I, II, aVL, aVF, V4–V6; in any two leads of a contiguous group
    (I, aVL, V6; V1–V6; II, III, aVF)."""
    def qualifies(x: str) -> bool:
        q, qd, r = ctx.v(x, "q_uv"), ctx.v(x, "q_ms"), ctx.v(x, "r_uv")
        if q is None or qd is None or q >= 0:
            return False
        qs = (r or 0) <= 0
        if x in ("V2", "V3"):
            return qd >= 20 or qs
        if x in ("I", "II", "aVL", "aVF", "V4", "V5", "V6"):
            return (qd >= 30 and q <= -100) or qs
        return False

    groups = {"lateral": ("I", "aVL", "V6"), "anterior": ("V2", "V3", "V4", "V5", "V6"), "inferior": ("II", "aVF")}
    out = {}
    for name, group in groups.items():
        hits = [x for x in group if qualifies(x)]
        if len(hits) >= 2:
            out[name] = hits
    return out


def stemi(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """J-point elevation in two contiguous leads at the guideline limits, with reciprocal depression
    as supporting evidence; a pattern explained by a mimic (pericarditis, LVH) is named as such."""
    if _blocked(ctx, found) or not ctx.leads:
        return []
    leads = st_elevation_leads(ctx)
    if not leads:
        return []
    ev = [ctx.ev_lead(x, "st_j_uv", "ST J") for x in leads]
    recip = _reciprocal(ctx, leads)
    ev_r = [ctx.ev_lead(x, "st_j_uv", ctx.say("evidence.st_j_reciprocal")) for x in recip]
    if _pericarditis(ctx, leads):
        return [finding("pericarditis_pattern", leads=leads, evidence=ev + [
            ctx.ev_lead(x, "pr_seg_uv", "PR") for x in ctx.leads if x != "aVR" and (ctx.v(x, "pr_seg_uv") or 0) <= -50][:4],
            note=ctx.say("note.pericarditis"))]
    if _lvh_discordant(ctx, leads, found):
        return [finding("st_elevation_mimic", leads=leads, evidence=ev,
                        note=ctx.say("note.lvh_discordant"))]
    return [finding("stemi", leads=leads, evidence=ev + ev_r,
                    detail=", ".join(leads) + (f"; {ctx.say('detail.reciprocal', leads=', '.join(recip))}" if recip else ""))]


def sgarbossa_smith(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Modified Sgarbossa criteria (Smith et al. 2012) in LBBB, paced rhythm or another QRS ≥ 120 ms
    without RBBB: concordant ST elevation ≥ 1 mm in any lead, concordant ST depression ≥ 1 mm in V1–V3,
    or discordant ST elevation ≥ 1 mm reaching 25 % of the preceding S wave; each deviation must hold
    at J and at J+60 ms (the smaller of the two is judged)."""
    if not _blocked(ctx, found) or not ctx.leads:
        return []
    hits: list[str] = []
    ev = []
    for x in ctx.leads:
        j0, j60 = ctx.v(x, "st_j_uv"), ctx.v(x, "st_60_uv")
        if j0 is None or j60 is None:
            continue
        # the J point of a wide QRS is uncertain: a deviation counts when it holds at J and J+60 ms
        j = j0 if abs(j60) >= abs(j0) else (j60 if j0 * j60 > 0 else 0.0)
        pos = (ctx.v(x, "r_uv") or 0) + (ctx.v(x, "rp_uv") or 0)
        neg = -((ctx.v(x, "s_uv") or 0) + (ctx.v(x, "q_uv") or 0))
        positive = pos > neg
        if positive and j >= 100:
            hits.append(x)
            ev.append(ctx.ev_lead(x, "st_j_uv", ctx.say("evidence.st_j_concordant")))
        elif not positive and x in ("V1", "V2", "V3") and j <= -100:
            hits.append(x)
            ev.append(ctx.ev_lead(x, "st_j_uv", ctx.say("evidence.st_j_concordant")))
        elif not positive and j >= 100 and neg > 0 and j / neg >= 0.25:
            hits.append(x)
            ev.append(ctx.ev(f"lead_matrix.{x}.st_s_ratio", round(j / neg, 2), f"ST/S {x} {j / neg:.2f} (≥ 0.25)"))
    if not hits:
        return []
    paced = ctx.pacing or ("paced_rhythm" in found and found["paced_rhythm"].status == "finding")
    lbbb = "lbbb" in found and found["lbbb"].status == "finding"
    if paced or not lbbb:   # paced beats, or a very wide QRS of unknown mechanism: automated ST unreliable, soon
        return [finding("sgarbossa", leads=sorted(hits, key=lead_order), evidence=ev, urgency="soon",
                        note=ctx.say("note.paced_st"))]
    return [finding("sgarbossa", leads=sorted(hits, key=lead_order), evidence=ev)]


def posterior(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Horizontal or downsloping ST depression ≥ 0.5 mm in two contiguous leads of V1–V3 with a dominant R
    wave (R ≥ S) and an upright T: posterior STEMI equivalent (4th UDMI 2018; ESC 2017). Not with RBBB
    or pre-excitation."""
    if _blocked(ctx, found) or any(k in found and found[k].status == "finding" for k in ("rbbb", "incomplete_rbbb", "wpw")):
        return []
    dep = {x for x in ("V1", "V2", "V3") if (ctx.v(x, "st_j_uv") or 0) <= -50 and (ctx.v(x, "t_pos_uv") or 0) >= 50
           and (ctx.v(x, "st_80_uv") or 0) <= (ctx.v(x, "st_j_uv") or 0) + 20}   # horizontal or downsloping
    leads = ctx.contiguous(dep)
    dominant = any((ctx.v(x, "r_uv") or 0) >= -(ctx.v(x, "s_uv") or 0) > 0 or
                   ((ctx.v(x, "r_uv") or 0) > 0 and (ctx.v(x, "s_uv") or 0) == 0) for x in ("V1", "V2"))
    if len(leads) < 2 or not dominant:
        return []
    return [finding("posterior_stemi", leads=leads, evidence=[ctx.ev_lead(x, "st_j_uv", "ST J") for x in leads]
                    + [ctx.ev_lead("V2", "r_uv", "R")])]


def avr_diffuse(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """ST elevation ≥ 1 mm in aVR (and/or V1) with ST depression ≥ 1 mm in ≥ 6 leads (4th UDMI 2018)."""
    if _blocked(ctx, found) or not ctx.leads or any(
            k in found and found[k].status == "finding" for k in ("lvh_strain",)):
        return []
    up = [x for x in ("aVR", "V1") if (ctx.v(x, "st_j_uv") or 0) >= 100]
    down = [x for x in ctx.leads if x not in ("aVR", "V1") and (ctx.v(x, "st_j_uv") or 0) <= -100]
    if not up or len(down) < ctx.th["avr_depressed_leads"]:
        return []
    return [finding("avr_stemi_equivalent", leads=up + down, evidence=[ctx.ev_lead(x, "st_j_uv", "ST J") for x in up + down])]


def de_winter(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Upsloping J-point depression of 1–3 mm in ≥ 2 contiguous precordial leads running into tall,
    symmetrical T waves (de Winter et al., NEJM 2008); 'tall' taken as T ≥ 0.5 mV and ≥ twice the depression."""
    if _blocked(ctx, found) or not ctx.leads:
        return []
    hit = set()
    for x in ("V1", "V2", "V3", "V4", "V5", "V6"):
        j, s80, t = ctx.v(x, "st_j_uv"), ctx.v(x, "st_80_uv"), ctx.v(x, "t_pos_uv")
        if j is None or s80 is None or t is None:
            continue
        if -300 <= j <= -100 and s80 > j + 50 and t >= max(500.0, 2 * -j):
            hit.add(x)
    leads = ctx.contiguous(hit)
    if len(leads) < 2:
        return []
    return [finding("de_winter", leads=leads, evidence=[ctx.ev_lead(x, "st_j_uv", "ST J") for x in leads]
                    + [ctx.ev_lead(x, "t_pos_uv", "T+") for x in leads])]


def wellens(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Deep (≥ 2 mm) symmetric or biphasic T waves in V2 and V3 with preserved R waves, no Q waves and no
    significant ST elevation (de Zwaan et al. 1982; Rhinehardt et al. 2002)."""
    if _blocked(ctx, found) or any(k in found and found[k].status == "finding" for k in ("rbbb", "lvh_strain", "wpw")):
        return []
    hits = []
    for x in ("V2", "V3"):
        tn, tp, r, j = ctx.v(x, "t_neg_uv"), ctx.v(x, "t_pos_uv"), ctx.v(x, "r_uv"), ctx.v(x, "st_j_uv")
        if tn is None or r is None or j is None:
            return []
        deep = tn <= -200
        biphasic = tn <= -100 and (tp or 0) >= 100
        if (deep or biphasic) and r >= 100 and j < 100 and (ctx.v(x, "q_ms") or 0) < 20:
            hits.append(x)
    if len(hits) < 2:
        return []
    return [finding("wellens", leads=hits, evidence=[ctx.ev_lead(x, "t_neg_uv", "T−") for x in hits])]


def q_waves_and_infarction(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Prior infarction from Q waves (4th UDMI 2018), with the AI's infarction statement as support; a
    STEMI over Q waves of its territory says so (evolving/recent, or aneurysm: compare with a previous ECG).
    An AI infarction without Q waves or ST changes in its territory is AI only and raises nothing."""
    if _blocked(ctx, found) or any(k in found and found[k].status == "finding" for k in ("wpw",)):
        return []
    q = pathological_q_leads(ctx) if ctx.leads else {}
    ai = ctx.ai_present(*_INFARCT_CODES)
    out: list[Finding] = []
    q_leads = sorted({x for v in q.values() for x in v}, key=lead_order)
    st = found.get("stemi")
    if st is not None and st.status == "finding" and set(q_leads) & {x for t, g in TERRITORIES.items()
                                                                     if set(g) & set(st.leads) for x in g}:
        # ST elevation over Q waves: an evolving or recent infarction, or an old one with an aneurysm
        st.evidence += [ctx.ev_lead(x, "q_ms", "Q") for x in q_leads]
        st.note = ctx.say("note.q_waves_under_stemi")
    if q_leads:
        ev = [ctx.ev_lead(x, "q_ms", "Q") for x in q_leads]
        terrs = ", ".join(_territory(ctx, t) for t in q)
        if ai:
            out.append(finding("infarction", source="ai+measurement", leads=q_leads, evidence=ev + [ctx.ev_ai(a) for a in ai],
                               confidence=max(a.probability for a in ai), detail=terrs))
        elif ctx.ai_ok and any(c in ctx.ai for c in _INFARCT_CODES):   # the AI looked and saw no infarction
            out.append(finding("pathological_q", leads=q_leads, evidence=ev, detail=terrs, urgency="routine",
                               note=ctx.say("note.ai_sees_no_infarction")))
        else:
            out.append(finding("pathological_q", leads=q_leads, evidence=ev, detail=terrs))
    elif ai and not ctx.leads:   # no matrix (older documents): nothing can check the AI, its statement stands
        best = max(ai, key=lambda a: a.probability)
        out.append(finding("infarction", source="ai", evidence=[ctx.ev_ai(best)], confidence=best.probability,
                           leads=list(AI_TERRITORY.get(best.code, []))))
    elif ai and _st_t_support(ctx, {x for a in ai for x in AI_TERRITORY.get(a.code, [])}):
        best = max(ai, key=lambda a: a.probability)
        terr = {x for a in ai for x in AI_TERRITORY.get(a.code, [])}
        support = _st_t_support(ctx, terr)
        out.append(finding("infarction", source="ai+measurement", evidence=[ctx.ev_ai(best)] + support,
                           confidence=best.probability, leads=sorted({str(e["name"]).split(".")[1] for e in support}, key=lead_order),
                           note=ctx.say("note.st_t_in_territory")))
    elif ai:
        best = max(ai, key=lambda a: a.probability)
        out.append(finding("infarction", source="ai", status="ai_only", evidence=[ctx.ev_ai(best)],
                           confidence=best.probability, leads=list(AI_TERRITORY.get(best.code, [])),
                           note=ctx.say("note.no_q_no_st")))
    return out


def _st_t_support(ctx: Context, leads: set[str]) -> list[dict[str, object]]:
    """ST-T changes in ``leads`` that support the AI's infarction without Q waves: J elevation at its
    4th-UDMI limit (sustained at J+60), ST depression ≥ 0.5 mm at J and J+60, or T inversion ≥ 1 mm
    (III, aVR and V1 excluded)."""
    ev = []
    for x in sorted(leads, key=lead_order):
        j, j60, tn = ctx.v(x, "st_j_uv"), ctx.v(x, "st_60_uv"), ctx.v(x, "t_neg_uv")
        if j is None or j60 is None:
            continue
        lim = stemi_limit_uv(ctx, x)
        if j >= lim and j60 >= lim:
            ev.append(ctx.ev_lead(x, "st_j_uv", "ST J"))
        elif j60 >= 100 and (ctx.v(x, "st_80_uv") or 0) >= 100 and x not in ("V2", "V3"):
            ev.append(ctx.ev_lead(x, "st_60_uv", "ST J+60"))
        elif j <= -50 and j60 <= -50:
            ev.append(ctx.ev_lead(x, "st_j_uv", "ST J"))
        elif x not in ("III", "aVR", "V1") and tn is not None and tn <= -100 and (ctx.v(x, "t_pos_uv") or 0) < 50:
            ev.append(ctx.ev_lead(x, "t_neg_uv", "T−"))
    return ev


def _territory(ctx: Context, t: str) -> str:
    """The territory's name in the reading's language (catalogue ``reading.territory``), else ``t``."""
    return ctx.say(f"territory.{t}") if messages.has(f"reading.territory.{t}", ctx.lang) else t


def st_depression(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """Horizontal or downsloping ST depression ≥ 0.5 mm at J in two contiguous leads (4th UDMI 2018),
    not judged with bundle branch block, LVH strain, pacing or pre-excitation."""
    if _blocked(ctx, found) or not ctx.leads or any(k in found and found[k].status == "finding" for k in
                                                   ("rbbb", "lvh_strain", "wpw", "avr_stemi_equivalent", "de_winter")):
        return []
    dep = set()
    for x in ctx.leads:
        if x == "aVR" or x in found.get("stemi", Finding("", "", "")).leads:
            continue
        j, s60, s80 = ctx.v(x, "st_j_uv"), ctx.v(x, "st_60_uv"), ctx.v(x, "st_80_uv")
        if j is None or s60 is None:
            continue
        if j <= -50 and s60 <= -50 and (s80 is None or s80 <= j + 20):
            dep.add(x)
    leads = ctx.contiguous(dep)
    ai = ctx.ai_present("STD_", "ISC_", "ISCA", "ISCI", "ISCAL", "ISCIN", "ISCIL", "ISCAS", "ISCLA", "ISCAN")
    if len(leads) >= 2:
        ev = [ctx.ev_lead(x, "st_j_uv", "ST J") for x in leads]
        return [finding("st_depression", leads=leads, evidence=ev + [ctx.ev_ai(a) for a in ai],
                        source="ai+measurement" if ai else "measurement", detail=", ".join(leads))]
    return []


def t_inversion(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """T inversion > 1 mm in two contiguous leads with a prominent R wave or R/S > 1 (4th UDMI 2018);
    III, aVR and V1 excluded (normally negative), not judged with bundle branch block or pacing."""
    if _blocked(ctx, found) or not ctx.leads or any(k in found and found[k].status == "finding" for k in
                                                   ("rbbb", "lvh_strain", "wellens", "wpw", "brugada_type1")):
        return []
    inv = set()
    for x in ctx.leads:
        if x in ("III", "aVR", "V1"):
            continue
        tn, tp, r, s = ctx.v(x, "t_neg_uv"), ctx.v(x, "t_pos_uv"), ctx.v(x, "r_uv"), ctx.v(x, "s_uv")
        if tn is None or r is None:
            continue
        if tn <= -100 and (tp or 0) < 50 and r > -(s or 0) and r >= 300:
            inv.add(x)
    leads = ctx.contiguous(inv)
    if len(leads) < 2:
        return []
    return [finding("t_wave_inversion", leads=leads, evidence=[ctx.ev_lead(x, "t_neg_uv", "T−") for x in leads],
                    detail=", ".join(leads))]


def ai_repolarisation(ctx: Context, found: Mapping[str, Finding]) -> list[Finding]:
    """The AI's ischaemic and nonspecific ST-T statements: confirmed by measured ST depression or T
    inversion, otherwise shown as AI only (ischaemic) or as a minor finding (nonspecific)."""
    out = []
    measured = [found[k] for k in ("st_depression", "t_wave_inversion", "lvh_strain", "stemi") if k in found]
    isc = ctx.ai_present("ISC_", "ISCA", "ISCI", "ISCAL", "ISCIN", "ISCIL", "ISCAS", "ISCLA", "ISCAN")
    if isc:
        best = max(isc, key=lambda a: a.probability)
        if measured:
            out.append(finding("ischaemic_st_t", source="ai+measurement", confidence=best.probability,
                               leads=sorted({x for f in measured for x in f.leads}, key=lead_order),
                               evidence=[ctx.ev_ai(best)] + measured[0].evidence[:3]))
        else:
            out.append(finding("ischaemic_st_t", source="ai", status="ai_only", confidence=best.probability,
                               evidence=[ctx.ev_ai(best)],
                               note=ctx.say("note.no_st_t_measured")))
    nst = ctx.ai_present("NST_", "NDT", "NT_", "INVT", "LOWT", "TAB_", "STTC", "STD_")
    if nst and not isc and "st_depression" not in found and "t_wave_inversion" not in found:
        best = max(nst, key=lambda a: a.probability)
        out.append(finding("nonspecific_st_t", source="ai", evidence=[ctx.ev_ai(best)], confidence=best.probability))
    for code, sid in (("ANEUR", "aneurysm"), ("DIG", "drug_or_electrolyte"), ("EL", "drug_or_electrolyte")):
        for a in ctx.ai_present(code):
            out.append(finding(sid, source="ai", evidence=[ctx.ev_ai(a)], confidence=a.probability))
    return out


ISCHAEMIA_RULES: tuple[Rule, ...] = (
    Rule("stemi_udmi", UDMI_2018 + "; mimics: ESC 2015 pericardial diseases, Armstrong et al. 2012 (LVH)", stemi),
    Rule("sgarbossa_smith", "Smith et al. 2012, modified Sgarbossa criteria (Ann Emerg Med)", sgarbossa_smith),
    Rule("posterior_stemi", UDMI_2018, posterior),
    Rule("avr_diffuse_depression", UDMI_2018, avr_diffuse),
    Rule("de_winter", "de Winter et al. 2008 (N Engl J Med); ESC 2017 STEMI guidelines", de_winter),
    Rule("q_waves_infarction", UDMI_2018 + " (ECG criteria of prior MI)", q_waves_and_infarction),
    Rule("wellens", "de Zwaan et al. 1982 (Am Heart J); Rhinehardt et al. 2002", wellens),
    Rule("st_depression", UDMI_2018, st_depression),
    Rule("t_wave_inversion", UDMI_2018, t_inversion),
    Rule("ai_repolarisation", "PTB-XL classifier at its fold-9 operating point, checked against the matrix", ai_repolarisation),
)
