"""The evaluation report (HTML, self-contained, printable): results generated from the data, the plots inline,
the CONSORT-AI checklist (Liu et al., *Nat Med* 2020;26:1364–1374 — the AI-specific items added to
CONSORT 2010) and the DECIDE-AI one (Vasey et al., *Nat Med* 2022;28:924–933), each item pointing to where the report answers it or saying "not applicable" / "outside
the software". Pure: a results dict (:func:`ecgpilot.pilot.evaluate.evaluate`) in, a string out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["CONSORT_AI", "DECIDE_AI", "render_html", "summary_lines"]

# (item, requirement, where this report answers it)
CONSORT_AI: tuple[tuple[str, str, str], ...] = (
    ("1a,b (i)", "Indicate that the intervention involves AI/ML and specify the type of model", "#design; MODEL_CARD.md"),
    ("1a,b (ii)", "State the intended use of the AI intervention in the title/abstract", "#design"),
    ("2a (i)", "Explain the intended use in the context of the clinical pathway, its purpose and intended users",
     "#design; docs/pilot.md §1"),
    ("4a (i)", "Inclusion and exclusion criteria at the level of participants", "outside the software: protocol text"),
    ("4a (ii)", "Inclusion and exclusion criteria at the level of the input data", "#data (studies signed in an allocated "
     "practice during the periods; unreadable files excluded)"),
    ("4b", "How the AI intervention was integrated into the trial setting, including onsite or offsite requirements",
     "#design (self-hosted instance; AI on/off per practice and period from the registered allocation)"),
    ("5 (i)", "The version of the AI algorithm used", "#ai (model versions in use per arm)"),
    ("5 (ii)", "How the input data were acquired and selected", "#data"),
    ("5 (iii)", "How poor quality or unavailable input data were assessed and handled", "MODEL_CARD.md (quality gate); "
     "#data"),
    ("5 (iv)", "Whether there was human–AI interaction in the handling of the input data, and the expertise required",
     "#ai (the GP reviews and signs every proposal)"),
    ("5 (v)", "The output of the AI intervention", "#ai (statements and urgency level)"),
    ("5 (vi)", "How the AI intervention's outputs contributed to decision-making or other elements of clinical practice",
     "#ai (doctors' decisions on the proposal)"),
    ("19", "Results of any analysis of performance errors and how errors were identified", "#ai (against over-reads and "
     "30-day diagnoses; drift chart)"),
    ("25", "Whether and how the AI intervention and/or its code can be accessed, including any restrictions",
     "open source (Apache-2.0) repository; MODEL_CARD.md"),
)


# DECIDE-AI (Vasey et al., Nat Med 2022;28:924–933 and BMJ 2022;377:e070904): the early live clinical evaluation
# of AI decision support, 17 AI-specific items. Items 1–4 with their published numbers; the other themes of the
# checklist are listed by name (see the published checklist for their numbering and exact wording).
DECIDE_AI: tuple[tuple[str, str, str], ...] = (
    ("1", "Title: identify the study as early clinical evaluation of an AI/ML decision support system, with the problem",
     "#design (title of this report)"),
    ("2a", "Intended use: the targeted condition and problem, current standard practice, intended patients",
     "#design; docs/pilot.md §1"),
    ("2b", "Intended use: the intended users, the planned integration in the care pathway, the expected impact",
     "#design (GPs; the AI proposes, the GP signs; referral and tele-expertise paths)"),
    ("3a", "Participants: patient recruitment, inclusion and exclusion criteria at patient and data level",
     "#data; outside the software: protocol text"),
    ("3b", "Participants: how users (doctors) were recruited and how many", "#design (practices and GPs per arm)"),
    ("3c", "Participants: how users were familiarised with the AI system", "outside the software: training plan; "
     "the GP model card page (/model) is what users read"),
    ("4a", "AI system: version, type of algorithm, training population and preclinical performance",
     "#ai (model versions in use); MODEL_CARD.md; BENCHMARKS.md"),
    ("theme: implementation", "Settings, integration in the clinical workflow, how AI outputs reached users",
     "#design (self-hosted instance; AI on/off per practice and period from the registered allocation)"),
    ("theme: modifications", "Changes made to the AI system or its use during the study, with their timing",
     "#ai (model and rules versions in use per month)"),
    ("theme: human-AI agreement", "Users' agreement with the AI outputs, and how decisions were made",
     "#ai (doctors' decisions on the proposal; agreement per month, drift chart)"),
    ("theme: safety and errors", "Errors of the AI system, their identification, and the harms they could cause",
     "#ai (against over-reads and 30-day diagnoses; under-triage)"),
    ("theme: human factors", "Usability and the users' experience of the system", "outside the software: user survey"),
)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _pct(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("p") is None:
        return "—"
    return f"{100 * d['p']:.1f} % ({d['k']}/{d['n']}; IC 95 % {100 * d['ci_low']:.1f}–{100 * d['ci_high']:.1f})"


def render_html(res: Mapping[str, Any], meta: Mapping[str, Any], svgs: Mapping[str, str] | None = None) -> str:
    """The report as one HTML page (no external resource). ``svgs``: plot name → SVG text (inlined)."""
    svgs = svgs or {}
    p = res["protocol"]
    lmm = res["primary"].get("lmm") or {}
    pois = res["primary"].get("poisson") or {}
    fig = lambda name: f"<figure>{svgs[name][svgs[name].find('<svg'):]}</figure>" if name in svgs else ""  # noqa: E731
    out = ["<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Rapport d'évaluation — "
           f"{_e(p['name'])}</title><style>body{{font:14px/1.4 sans-serif;max-width:60em;margin:2em auto}}"
           "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;text-align:left}"
           "figure{margin:1em 0;break-inside:avoid}svg{max-width:100%;height:auto}</style></head><body>",
           f"<h1>Rapport d'évaluation / Evaluation report — {_e(p['name'])}</h1>",
           f"<p>Protocol sha256 <code>{_e(res['protocol_sha256'])}</code>; registration "
           f"<code>{_e(meta.get('registration_sha256'))}</code> ({_e(meta.get('status'))}); seed {_e(meta.get('seed'))}.</p>",
           "<h2 id='design'>1. Design</h2>",
           f"<p>Intervention: AI aid (ECG classifier + rule-based reading, proposal reviewed and signed by the GP) vs "
           f"no AI proposal (control). Design: {_e(p['design'])}, unit of allocation: {_e(p['unit'])}, "
           f"{_e(p['n_periods'])} periods of {_e(p['period_months'])} months from {_e(p['start_month'])}, "
           f"stratified randomisation by {_e(p['strata_by'])}. Analysis: Hussey &amp; Hughes mixed model.</p>",
           fig("stepped_wedge.svg"),
           "<h2 id='data'>2. Data</h2>",
           f"<p>{_e(res['n_gp_months'])} GP-months (insurer's extract and the app's studies), {_e(res['n_studies'])} signed "
           "ECGs of allocated practices during the periods. Pseudonymised dataset with dictionary and manifest: dataset/.</p>",
           "<h2 id='primary'>3. Primary outcome: ECGs per GP per month</h2>"]
    if lmm:
        out.append(f"<p><strong>{lmm['estimate']:+.2f}</strong> ECG/GP/month with the AI (95 % CI {lmm['ci_low']:+.2f}; "
                   f"{lmm['ci_high']:+.2f}; p = {lmm['p_value']:.3g}), {lmm['n_clusters']} practices, {lmm['n_obs']} GP-months; "
                   f"ICC {lmm['details'].get('icc', float('nan')):.3f}.</p>")
    else:
        out.append(f"<p>{_e(res['primary'].get('error', 'not estimable'))}</p>")
    gp = res["primary"].get("lmm_gp")
    if gp:
        out.append(f"<p>Sensitivity analysis, GPs as a cohort (random GP intercept within practice): {gp['estimate']:+.2f} "
                   f"(95 % CI {gp['ci_low']:+.2f}; {gp['ci_high']:+.2f}).</p>")
    if pois:
        out.append(f"<p>Rate ratio (Poisson GEE): {pois['estimate']:.3f} (95 % CI {pois['ci_low']:.3f}; {pois['ci_high']:.3f}).</p>")
    out += [fig("volume_by_arm.svg"), fig("funnel_practices.svg"), "<h2 id='pathway'>4. Care pathway at 30 days</h2>",
            "<table><tr><th></th>" + "".join(f"<th>{_e(a)}</th>" for a in res["indicators"]) + "</tr>"]
    for k in ("followup_completion", "referral", "tele_expertise", "emergency", "hospitalised", "new_diagnosis",
              "treatment_changed"):
        out.append(f"<tr><th>{_e(k)}</th>" + "".join(f"<td>{_pct(d.get(k))}</td>" for d in res["indicators"].values()) + "</tr>")
    out += ["</table>", fig("indicators.svg"), "<h2 id='ai'>5. The AI: versions, outputs, decisions, errors</h2><ul>"]
    for arm, d in res["indicators"].items():
        out.append(f"<li>{_e(arm)}: model versions {_e(d['model_versions'] or '—')}; decisions {_e(d['decisions'] or '—')}</li>")
    out.append("</ul><table><tr><th>urgency ≥</th><th>sensitivity vs over-read</th><th>PPV vs over-read</th></tr>")
    for lvl, d in res["ai_vs_overread"].items():
        out.append(f"<tr><td>{_e(lvl)}</td><td>{_pct(d['sensitivity'])}</td><td>{_pct(d['ppv'])}</td></tr>")
    fu = res["ai_vs_followup"]
    out += ["</table>", f"<p>Against the 30-day diagnosis ({_e(fu['definition'])}): sensitivity {_pct(fu['sensitivity'])}, "
            f"PPV {_pct(fu['ppv'])}.</p>",
            f"<p>Months outside the control limits of AI/doctor agreement: "
            f"{_e(', '.join(c['month'] for c in res['drift_agreement'] if c['out_of_control']) or 'none')}.</p>",
            fig("confusion_overread.svg"), fig("drift_agreement.svg"), "<h2 id='costs'>6. Costs and budget impact</h2><ul>"]
    for arm, c in res["costs"].items():
        out.append(f"<li>{_e(arm)}: {c['per_ecg_eur']:.2f} € per ECG ({c['n_ecg']} ECGs)</li>")
    out.append("</ul>")
    icer = res.get("icer")
    if icer and icer.get("icer") is not None:
        ci = icer.get("icer_ci")
        out.append(f"<p>ICER: {icer['icer']:.0f} € per additional new diagnosis"
                   + (f" (95 % CI {ci[0]:.0f}; {ci[1]:.0f}{'' if icer['icer_ci_meaningful'] else ', not interpretable: Δ effect CI includes 0'})" if ci else "")
                   + f"; bootstrap of {icer['clusters']} practices.</p>")
    bi = res["budget_impact"]
    out.append(f"<p>Budget impact over {len(bi['years'])} years for {bi['inputs']['n_gps']} GPs ({_e(bi['inputs']['scenario'])} "
               f"uptake): {sum(r['total_eur'] for r in bi['years']) / 1e6:.1f} M€ (slow / medium / fast: "
               + " / ".join(f"{v / 1e6:.1f}" for v in bi["scenarios"].values()) + " M€).</p>")
    assumed = [u["code"] for u in res["tariffs"]["items"].values() if u.get("assumption")]
    out += [f"<p>Unit costs marked as assumptions to check: {_e(', '.join(assumed) or 'none')} (tariffs in protocol.json).</p>",
            fig("cost_effect_plane.svg"), fig("tornado.svg"),
            "<h2 id='consort'>7. CONSORT-AI checklist (AI-specific items)</h2>",
            "<table><tr><th>item</th><th>requirement</th><th>where</th></tr>"]
    out += [f"<tr><td>{_e(i)}</td><td>{_e(r)}</td><td>{_e(w)}</td></tr>" for i, r, w in CONSORT_AI]
    out += ["</table>", "<h2 id='decide'>8. DECIDE-AI checklist (early live clinical evaluation)</h2>",
            "<table><tr><th>item</th><th>requirement</th><th>where</th></tr>"]
    out += [f"<tr><td>{_e(i)}</td><td>{_e(r)}</td><td>{_e(w)}</td></tr>" for i, r, w in DECIDE_AI]
    out += ["</table><p>The CONSORT 2010 items and its stepped-wedge extension (Hemming et al., BMJ 2018), and the DECIDE-AI "
            "generic items, not listed here are answered by the protocol text and the trial report written by the "
            "committee.</p></body></html>"]
    return "\n".join(x for x in out if x)


def summary_lines(res: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
    """The key results as short lines (the first page of the PDF report)."""
    p = res["protocol"]
    lines = [f"Design: {p['design']}, {p['n_periods']} periods of {p['period_months']} months from {p['start_month']}; "
             f"unit: {p['unit']}; strata: {p['strata_by']}.",
             f"Protocol sha256 {res['protocol_sha256'][:16]}…; registration {str(meta.get('registration_sha256'))[:16]}… "
             f"({meta.get('status')}).",
             f"Data: {res['n_gp_months']} GP-months, {res['n_studies']} signed ECGs.", ""]
    lmm = res["primary"].get("lmm")
    if lmm:
        lines.append(f"Primary: {lmm['estimate']:+.2f} ECG/GP/month with the AI (95% CI {lmm['ci_low']:+.2f}; "
                     f"{lmm['ci_high']:+.2f}), {lmm['n_clusters']} practices.")
    pois = res["primary"].get("poisson")
    if pois:
        lines.append(f"Rate ratio (Poisson GEE): {pois['estimate']:.3f} (95% CI {pois['ci_low']:.3f}; {pois['ci_high']:.3f}).")
    lines.append("")
    for arm, d in res["indicators"].items():
        lines.append(f"{arm}: {d['n_ecg']} ECGs; referral {_plain(d['referral'])}; tele-expertise {_plain(d['tele_expertise'])}; "
                     f"new diagnoses {_plain(d['new_diagnosis'])}.")
    for arm, c in res["costs"].items():
        lines.append(f"{arm}: {c['per_ecg_eur']:.2f} EUR per ECG.")
    icer = res.get("icer")
    if icer and icer.get("icer") is not None:
        lines.append(f"ICER: {icer['icer']:.0f} EUR per additional new diagnosis"
                     + ("" if icer["icer_ci_meaningful"] else " (CI not interpretable: delta effect CI includes 0)") + ".")
    bi = res["budget_impact"]
    lines.append(f"Budget impact, {len(bi['years'])} years, {bi['inputs']['n_gps']} GPs ({bi['inputs']['scenario']}): "
                 f"{sum(r['total_eur'] for r in bi['years']) / 1e6:.1f} M EUR.")
    assumed = [u["code"] for u in res["tariffs"]["items"].values() if u.get("assumption")]
    lines.append(f"Unit costs still assumptions: {', '.join(assumed) or 'none'}.")
    lines.append("The checklist (CONSORT-AI) and all tables: report.html; the data: dataset/.")
    return lines


def _plain(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("p") is None:
        return "-"
    return f"{100 * d['p']:.1f}% [{100 * d['ci_low']:.1f}-{100 * d['ci_high']:.1f}]"
