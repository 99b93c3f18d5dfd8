"""One coherent reading: exclusive statements never appear together, AI-only statements raise
nothing, findings on poor-quality leads become "repeat the recording now", children's ECGs raise
no urgency from adult limits. Pure functions over the rules' findings."""

from __future__ import annotations

from ecgpilot.interpret.context import Context, Finding

__all__ = ["EXCLUDES", "resolve", "quality_gate", "paediatric_cap"]

#: winner → the statements it excludes (when the winner is a finding, not AI only).
EXCLUDES: dict[str, tuple[str, ...]] = {
    # rhythm: one atrial mechanism
    "atrial_flutter": ("atrial_fibrillation", "irregular_rhythm_no_p", "sinus_rhythm", "svt", "sinus_arrhythmia"),
    "atrial_fibrillation": ("irregular_rhythm_no_p", "sinus_rhythm", "svt", "sinus_arrhythmia", "junctional_rhythm"),
    "irregular_rhythm_no_p": ("sinus_rhythm", "svt", "sinus_arrhythmia"),
    "svt": ("sinus_rhythm", "sinus_tachycardia", "tachycardia", "sinus_arrhythmia"),
    "junctional_rhythm": ("sinus_rhythm", "sinus_bradycardia", "sinus_bradycardia_marked", "first_degree_avb"),
    "wide_complex_tachycardia": ("svt", "tachycardia", "wide_qrs", "ivcd"),
    "sinus_bradycardia": ("sinus_rhythm",),
    "sinus_bradycardia_marked": ("sinus_rhythm",),
    "sinus_tachycardia": ("sinus_rhythm",),
    # AV conduction: the highest degree
    "complete_avb": ("mobitz2", "mobitz1", "avb_2to1", "high_degree_avb", "first_degree_avb", "av_block", "sinus_rhythm"),
    "mobitz2": ("mobitz1", "avb_2to1", "high_degree_avb", "av_block"),
    "avb_2to1": ("mobitz1", "high_degree_avb", "av_block"),
    "mobitz1": ("high_degree_avb", "av_block"),
    "high_degree_avb": ("av_block",),
    # ventricular conduction
    "lbbb": ("incomplete_lbbb", "rbbb", "incomplete_rbbb", "ivcd", "wide_qrs", "lafb", "lpfb"),
    "rbbb": ("incomplete_rbbb", "incomplete_lbbb", "ivcd", "wide_qrs"),
    "incomplete_lbbb": ("ivcd",),
    "incomplete_rbbb": ("ivcd",),
    "wpw": ("possible_preexcitation", "ivcd", "wide_qrs", "incomplete_lbbb", "incomplete_rbbb", "pathological_q",
            "infarction", "lvh", "rvh"),
    "bifascicular_block": (),
    # pacing: intrinsic conduction and repolarisation findings do not apply
    "paced_rhythm": ("lbbb", "rbbb", "incomplete_lbbb", "incomplete_rbbb", "ivcd", "wide_qrs", "lafb", "lpfb",
                     "bifascicular_block", "lvh", "lvh_strain", "rvh", "infarction", "pathological_q", "st_depression",
                     "t_wave_inversion", "ischaemic_st_t", "nonspecific_st_t", "sinus_rhythm", "wide_complex_tachycardia",
                     "high_voltage", "q_waves"),
    # hypertrophy, QT
    "lvh_strain": ("lvh", "high_voltage", "st_depression", "t_wave_inversion"),
    "lvh": ("high_voltage",),
    "very_long_qtc": ("long_qtc", "qt_unreliable"),
    "qt_unreliable": ("long_qtc",),
    # ischaemia: the acute statement carries the others as evidence
    "stemi": ("acute_st_elevation", "st_elevation_mimic", "pericarditis_pattern"),
    "sgarbossa": ("acute_st_elevation",),
    "infarction": ("pathological_q", "q_waves"),
    "pathological_q": ("q_waves",),
    "pericarditis_pattern": ("st_elevation_mimic",),
    "ischaemic_st_t": ("nonspecific_st_t",),
    "st_depression": ("nonspecific_st_t",),
    "t_wave_inversion": ("nonspecific_st_t",),
}


def resolve(found: dict[str, Finding]) -> dict[str, Finding]:
    """Drop every statement excluded by a winner that is a finding (in :data:`EXCLUDES`' order)."""
    out = dict(found)
    for winner, losers in EXCLUDES.items():
        w = out.get(winner)
        if w is None or w.status != "finding":
            continue
        for loser in losers:
            gone = out.pop(loser, None)
            if gone is not None and gone.source != "measurement" and gone.source in ("ai", "ai+measurement"):
                # the AI's confidence survives as evidence of the winner when the AI said it
                w.evidence.extend(e for e in gone.evidence if e.get("kind") == "ai" and e not in w.evidence)
    return out


#: Emergencies read on ST levels: a lead with baseline wander, muscle noise, mains interference or
#: saturation cannot carry them (the ST segment is what those artefacts move).
ST_EMERGENCIES: frozenset[str] = frozenset({"stemi", "posterior_stemi",
                                            "avr_stemi_equivalent", "de_winter", "sgarbossa"})
ST_NOISE: frozenset[str] = frozenset({"baseline_wander", "muscle_noise", "powerline", "saturated"})


def _noisy_leads(ctx: Context) -> set[str]:
    return {r["lead"] for r in ctx.quality_reasons if r.get("lead") and r.get("code") in ST_NOISE}


def quality_gate(ctx: Context, found: dict[str, Finding], urgency_of: dict[str, str]) -> list[Finding]:
    """Emergency findings that rest on leads the quality gate calls critical (a finding without leads
    rests on the whole tracing), and ST-based emergencies that rest on a lead with an ST artefact
    warning (:data:`ST_NOISE`), become "possible <finding>: poor tracing, repeat the recording now";
    they are returned as the ``possible_on_poor_tracing`` statements that replace them."""
    noisy = _noisy_leads(ctx)
    if not ctx.critical_leads and not noisy:
        return []
    out = []
    for sid, f in list(found.items()):
        if f.status != "finding" or urgency_of[sid] != "emergency":
            continue
        bad = sorted(set(f.leads) & ctx.critical_leads) if f.leads else sorted(ctx.critical_leads)
        why = "critical_leads"
        if not bad and sid in ST_EMERGENCIES:
            bad, why = sorted(set(f.leads) & noisy), "st_artefact_leads"
        if not bad:
            continue
        del found[sid]
        g = Finding(id="possible_on_poor_tracing", rule="quality_gate",
                    citation="ecgpilot quality gate (tuned on PhysioNet/CinC 2011, see benchmarks/results/quality_cinc2011.md)",
                    source=f.source, evidence=f.evidence + [
                        {"kind": "quality", "name": why, "value": bad, "text": ", ".join(bad)}],
                    leads=f.leads, confidence=f.confidence, detail=None)
        g.note = sid   # the finding it replaces (its text is built by the reading)
        out.append(g)
    return out


def paediatric_cap(ctx: Context) -> bool:
    """Under 16 years: adult limits raise no urgency (the reading caps them at routine)."""
    return ctx.child
