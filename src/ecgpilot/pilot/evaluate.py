"""One evaluation run: the primary analysis, the care-pathway indicators, drift, costs and budget impact,
from the GP-month panel and the per-study rows; then its outputs (JSON, plots, dataset) in a folder.

:func:`evaluate` is pure (data in, a dict out); :func:`write_outputs` does the writing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ecgpilot.errors import ConfigError
from ecgpilot.pilot import analysis, costs, dataset, followup, plots
from ecgpilot.pilot import protocol as proto
from ecgpilot.pilot.volume import practice_funnel

__all__ = ["evaluate", "write_outputs"]


def _primary(p: proto.Protocol, panel: pd.DataFrame, gp_sensitivity: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    in_pilot = panel[panel["period"].notna()]
    if in_pilot["ai_on"].nunique() < 2:
        return {"error": "both arms are needed in the data (no GP-month with the AI on, or none with it off)"}
    try:
        out["lmm"] = analysis.stepped_wedge_lmm(in_pilot).to_dict()
        if gp_sensitivity and "gp" in in_pilot.columns and in_pilot["gp"].nunique() > in_pilot["practice"].nunique():
            out["lmm_gp"] = analysis.stepped_wedge_lmm(in_pilot, nested="gp").to_dict()   # sensitivity: GPs as a cohort
        out["poisson"] = analysis.stepped_wedge_poisson(in_pilot).to_dict()
        if p.design == "parallel" and (in_pilot["period"] < 0).any():
            d = in_pilot.assign(treated=(in_pilot["crossover_period"] == 0).astype(int),
                                post=(in_pilot["period"] >= 0).astype(int))
            out["did"] = analysis.difference_in_differences(d).to_dict()
    except ConfigError as exc:
        out["error"] = str(exc)
    return out


def evaluate(p: proto.Protocol, allocation: Mapping[int, int | None], panel: pd.DataFrame,
             rows: Sequence[Mapping[str, Any]], tariffs: costs.Tariffs = costs.DEFAULT_TARIFFS, *,
             n_gps: int = 50_000, uptake: str = "medium", seed: int = 0, n_resamples: int = 2000,
             gp_sensitivity: bool = False) -> dict[str, Any]:
    """Every result of the evaluation as a JSON-able dict. ``gp_sensitivity``: add the model with a random GP
    intercept within the practice (three optimisers: about 10–20 s more at 1 000 GPs × 24 months)."""
    if uptake not in costs.UPTAKE_SCENARIOS:
        raise ConfigError(f"uptake scenario {uptake!r} is not known; accepted: {', '.join(costs.UPTAKE_SCENARIOS)}.")
    rows = [r for r in rows if r.get("arm") in proto.ARMS]
    res: dict[str, Any] = {"protocol": p.to_dict(), "protocol_sha256": proto.protocol_sha256(p),
                           "n_gp_months": int(len(panel)), "n_studies": len(rows)}
    res["primary"] = _primary(p, panel, gp_sensitivity) if len(panel) else {"error": "no GP-month in the panel"}
    res["funnel"] = practice_funnel(panel) if len(panel) else []
    ind = followup.arm_indicators(rows)
    res["indicators"] = {a: {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in d.items()} for a, d in ind.items()}
    on = [r for r in rows if r["arm"] == "ai_on"]
    res["ai_vs_overread"] = {lvl: {k: v.to_dict() for k, v in d.items()} for lvl, d in followup.urgency_performance(
        [(r.get("ai_urgency"), r.get("overread_urgency")) for r in on]).items()}
    fu_pairs = [(r.get("ai_urgency") != "normal", r.get("diagnosis") in costs.ABNORMAL_DIAGNOSES) for r in on
                if r.get("ai_urgency") in followup.URGENCY_LEVELS and r.get("diagnosis") not in (None, "unknown")]
    res["ai_vs_followup"] = {
        "sensitivity": followup.proportion(sum(a and d for a, d in fu_pairs), sum(d for _, d in fu_pairs)).to_dict(),
        "ppv": followup.proportion(sum(a and d for a, d in fu_pairs), sum(a for a, _ in fu_pairs)).to_dict(),
        "definition": "AI urgency above 'normal' vs an abnormal final diagnosis at 30 days"}
    monthly: dict[str, tuple[int, int]] = {}
    for r in on:
        if r.get("ai_urgency") in followup.URGENCY_LEVELS and r.get("doctor_urgency") in followup.URGENCY_LEVELS:
            k, n = monthly.get(r["month"], (0, 0))
            monthly[r["month"]] = (k + (r["ai_urgency"] == r["doctor_urgency"]), n + 1)
    res["drift_agreement"] = followup.p_chart(monthly)
    sub_rows = [{**r, "ref_urgency": r.get("doctor_urgency")} for r in on]
    res["subgroups"] = {by: {g: v.to_dict() for g, v in followup.subgroup_agreement(sub_rows, by).items()}
                        for by in ("practice", "age_band", "sex", "device", "model_version")}
    # costs
    cost_rows = list(rows)
    res["tariffs"] = tariffs.to_dict()
    res["costs"] = costs.arm_costs(cost_rows, tariffs)
    arms_n = {a: sum(1 for r in rows if r["arm"] == a) for a in proto.ARMS}
    if min(arms_n.values()) >= 2:
        res["icer"] = costs.icer_bootstrap(cost_rows, tariffs, n_resamples=n_resamples, seed=seed)
    # budget impact from the measured effect
    effect = (res["primary"].get("lmm") or {}).get("estimate")
    base_rate = float(panel.loc[panel["ai_on"] == 0, "n_ecg"].mean()) if len(panel) and (panel["ai_on"] == 0).any() else 10.0

    def downstream(arm: str) -> float:
        rs = [r for r in rows if r["arm"] == arm]
        if not rs:
            return 0.0
        t0 = tariffs.with_value("AI_PRICE", 0.0).with_value("DEQP003", 0.0)
        return sum(costs.pathway_cost(r, t0) for r in rs) / len(rs)

    params = {"ecg_per_gp_month": base_rate, "effect_per_gp_month": float(effect) if effect is not None else 0.0,
              "downstream_per_ecg_on": downstream("ai_on"), "downstream_per_ecg_off": downstream("ai_off"),
              "AI_PRICE": tariffs.eur("AI_PRICE"), "DEQP003": tariffs.eur("DEQP003")}
    upt = costs.UPTAKE_SCENARIOS[uptake]
    res["budget_impact"] = {
        "inputs": {**params, "n_gps": n_gps, "uptake": list(upt), "scenario": uptake},
        "years": costs.budget_impact(costs.BudgetInputs(n_gps=n_gps, uptake=upt, ecg_per_gp_month=base_rate,
                                                        effect_per_gp_month=params["effect_per_gp_month"],
                                                        downstream_per_ecg_on=params["downstream_per_ecg_on"],
                                                        downstream_per_ecg_off=params["downstream_per_ecg_off"]), tariffs),
        "scenarios": {name: sum(r["total_eur"] for r in costs.budget_impact(costs.BudgetInputs(
            n_gps=n_gps, uptake=u, ecg_per_gp_month=base_rate, effect_per_gp_month=params["effect_per_gp_month"],
            downstream_per_ecg_on=params["downstream_per_ecg_on"], downstream_per_ecg_off=params["downstream_per_ecg_off"]),
            tariffs)) for name, u in costs.UPTAKE_SCENARIOS.items()},
    }
    lmm = res["primary"].get("lmm") or {}
    ranges = {"effect_per_gp_month": (lmm.get("ci_low", 0.5 * params["effect_per_gp_month"]),
                                      lmm.get("ci_high", 1.5 * params["effect_per_gp_month"])),
              "ecg_per_gp_month": (0.8 * base_rate, 1.2 * base_rate),
              "AI_PRICE": (0.5 * params["AI_PRICE"], 2.0 * params["AI_PRICE"]),
              "DEQP003": (0.8 * params["DEQP003"], 1.2 * params["DEQP003"]),
              "downstream_per_ecg_on": (0.8 * params["downstream_per_ecg_on"], 1.2 * params["downstream_per_ecg_on"]),
              "downstream_per_ecg_off": (0.8 * params["downstream_per_ecg_off"], 1.2 * params["downstream_per_ecg_off"])}
    res["sensitivity"] = costs.one_way_sensitivity(
        params, ranges, lambda q: costs.budget_total(q, tariffs, upt, n_gps))
    return res


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def write_outputs(out: Path, res: Mapping[str, Any], p: proto.Protocol, allocation: Mapping[int, int | None],
                  panel: pd.DataFrame, rows: Sequence[Mapping[str, Any]], tariffs: costs.Tariffs,
                  labels: Mapping[int, str], strata: Mapping[int, str], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``results.json``, ``plots/*.svg`` (when matplotlib is installed) and ``dataset/`` (pseudonymised).
    ``labels``: practice id → pseudonym (the only practice name that leaves)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8")
    written = ["results.json"]
    vol = panel.copy()
    vol["practice"] = vol["practice"].map(lambda x: labels.get(int(x), str(x)))
    studies = pd.DataFrame([{k: v for k, v in r.items() if k != "practice_id"} | {"cost_eur": costs.pathway_cost(r, tariffs)}
                            for r in rows if r.get("arm") in proto.ARMS], columns=list(dataset.DICTIONARY["studies"]))
    alloc = pd.DataFrame([{"practice": labels.get(pid, str(pid)), "stratum": strata.get(pid, ""), "crossover_period": c}
                          for pid, c in sorted(allocation.items())], columns=["practice", "stratum", "crossover_period"])
    alloc["crossover_period"] = alloc["crossover_period"].astype("Int64")
    dataset.write_dataset(out / "dataset", {"volume": vol, "studies": studies, "allocation": alloc},
                          {**meta, "protocol": p.to_dict(), "tariffs": tariffs.to_dict()})
    written.append("dataset/")
    if plots.available():
        pd_dir = out / "plots"
        pd_dir.mkdir(exist_ok=True)
        starts = [proto.month_str(proto.month_index(p.start_month) + k * p.period_months) for k in range(p.n_periods)]
        figs = {"volume_by_arm.svg": lambda f: plots.volume_by_arm(panel, starts, as_figure=f),
                "stepped_wedge.svg": lambda f: plots.stepped_wedge_diagram(proto.schedule(p, allocation), labels, as_figure=f),
                "funnel_practices.svg": lambda f: plots.funnel(
                    [{**x, "practice": labels.get(int(x["practice"]), str(x["practice"]))} for x in res["funnel"]], as_figure=f),
                "indicators.svg": lambda f: plots.indicator_forest(
                    res["indicators"], ["referral", "tele_expertise", "emergency", "new_diagnosis", "treatment_changed"],
                    as_figure=f),
                "drift_agreement.svg": lambda f: plots.p_chart_plot(
                    res["drift_agreement"], "Accord IA / médecin par mois — AI/doctor agreement per month", as_figure=f),
                "confusion_overread.svg": lambda f: plots.confusion_heatmap(
                    [(r.get("ai_urgency"), r.get("overread_urgency")) for r in rows if r.get("arm") == "ai_on"],
                    followup.URGENCY_LEVELS, "Urgence IA vs relecture — AI urgency vs over-read", as_figure=f),
                "tornado.svg": lambda f: plots.tornado(res["sensitivity"], as_figure=f)}
        if "icer" in res:
            figs["cost_effect_plane.svg"] = lambda f: plots.cost_effect_plane(
                res["icer"]["replicates"], (res["icer"]["delta_effect"], res["icer"]["delta_cost_per_ecg"]), as_figure=f)
        for name, make in figs.items():
            (pd_dir / name).write_text(make(False), encoding="utf-8")
            written.append(f"plots/{name}")
        from ecgpilot.pilot.report import summary_lines

        (out / "report.pdf").write_bytes(plots.pdf_pages([make(True) for make in figs.values()], summary_lines(res, meta),
                                                         f"Évaluation / evaluation — {p.name}"))
        written.append("report.pdf")
    from ecgpilot.pilot.report import render_html

    svgs = {f.name: f.read_text(encoding="utf-8") for f in sorted((out / "plots").glob("*.svg"))} if (out / "plots").is_dir() else {}
    (out / "report.html").write_text(render_html(res, meta, svgs), encoding="utf-8")
    written.append("report.html")
    return {"out": str(out), "written": written}
