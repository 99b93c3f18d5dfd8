"""Costs against hand-computed values: pathway cost, per arm, ICER, budget impact, one-way sensitivity."""

from __future__ import annotations

import pytest

from ecgpilot.errors import ConfigError
from ecgpilot.pilot import costs

T = costs.DEFAULT_TARIFFS


def test_default_tariffs_document_sources_and_assumptions() -> None:
    for code, u in T.items.items():
        assert u.source and u.label and u.eur >= 0, code
    assert T.eur("DEQP003") == 14.26 and not T.items["DEQP003"].assumption
    assert T.items["ED_VISIT"].assumption and T.items["AI_PRICE"].assumption
    assert costs.Tariffs.from_dict(T.to_dict()) == T
    with pytest.raises(ConfigError, match="lacks \\['AI_PRICE'\\]"):
        costs.Tariffs("x", "2025-01-01", {k: v for k, v in T.items.items() if k != "AI_PRICE"})
    with pytest.raises(ConfigError, match="per_ecg, per_gp_year"):
        costs.Tariffs("x", "2025-01-01", T.items, "per_month")
    with pytest.raises(ConfigError, match="'NOPE'"):
        T.with_value("NOPE", 1.0)


def test_pathway_and_arm_costs_by_hand() -> None:
    rows = [{"arm": "ai_on", "tele_expertise": True, "referred": True, "diagnosis": "af_flutter", "new_diagnosis": True},
            {"arm": "ai_on"},
            {"arm": "ai_off", "seen_by_cardiologist": True, "emergency": True, "hospitalised": True, "referred": True,
             "diagnosis": "normal"}]
    assert costs.pathway_cost(rows[0], T) == pytest.approx(14.26 + 1.0 + 10 + 20)
    assert costs.pathway_cost(rows[1], T) == pytest.approx(15.26)
    assert costs.pathway_cost(rows[2], T) == pytest.approx(14.26 + 47.73 + 250 + 3000)
    sub = T.with_value("AI_PRICE", 300.0)
    assert costs.pathway_cost(rows[1], costs.Tariffs("s", "2025", sub.items, "per_gp_year")) == pytest.approx(14.26)
    a = costs.arm_costs(rows, T)
    assert a["ai_on"]["total_eur"] == pytest.approx(45.26 + 15.26) and a["ai_on"]["per_ecg_eur"] == pytest.approx(30.26)
    assert a["ai_on"]["correctly_referred"] == 1 and a["ai_on"]["per_new_diagnosis_eur"] == pytest.approx(60.52)
    assert a["ai_off"]["correctly_referred"] == 0 and a["ai_off"]["per_correct_referral_eur"] is None


def test_icer_point_estimate_by_hand_and_bootstrap() -> None:
    rows = ([{"arm": "ai_on", "new_diagnosis": True, "tele_expertise": True}] * 10 + [{"arm": "ai_on"}] * 30
            + [{"arm": "ai_off", "new_diagnosis": True}] * 4 + [{"arm": "ai_off"}] * 36)
    r = costs.icer_bootstrap(rows, T, n_resamples=500, seed=1)
    dc = (10 * 45.26 + 30 * 15.26) / 40 - 14.26            # = 8.5
    de = 10 / 40 - 4 / 40                                  # = 0.15
    assert r["delta_cost_per_ecg"] == pytest.approx(dc) and r["delta_effect"] == pytest.approx(de)
    assert r["icer"] == pytest.approx(dc / de)
    assert r["delta_cost_ci"][0] < dc < r["delta_cost_ci"][1] and len(r["replicates"]) == 500
    assert r["icer_ci_meaningful"] == (r["delta_effect_ci"][0] > 0)
    assert sum(r["quadrants"].values()) == pytest.approx(1.0)
    assert costs.icer_bootstrap(rows, T, n_resamples=200, seed=3) == costs.icer_bootstrap(rows, T, n_resamples=200, seed=3)
    with pytest.raises(ConfigError, match="arm ai_off has 0"):
        costs.icer_bootstrap([{"arm": "ai_on"}] * 3, T)


def test_budget_impact_by_hand() -> None:
    inp = costs.BudgetInputs(n_gps=1000, uptake=(0.1, 0.5), ecg_per_gp_month=10, effect_per_gp_month=2,
                             downstream_per_ecg_on=5, downstream_per_ecg_off=4)
    y1, y2 = costs.budget_impact(inp, T)
    # year 1: 100 GPs; 100×12×12 = 14,400 ECGs with AI; 2,400 extra
    assert y1["extra_ecgs"] == 2400 and y1["ecg_acts_eur"] == pytest.approx(2400 * 14.26)
    assert y1["ai_eur"] == pytest.approx(14400 * 1.0)
    assert y1["downstream_eur"] == pytest.approx(14400 * 5 - 12000 * 4)
    assert y1["total_eur"] == pytest.approx(2400 * 14.26 + 14400 + 24000)
    assert y2["gps_using"] == 500 and y2["total_eur"] == pytest.approx(5 * y1["total_eur"])
    per_gp = costs.Tariffs("s", "2025", T.with_value("AI_PRICE", 120.0).items, "per_gp_year")
    assert costs.budget_impact(inp, per_gp)[0]["ai_eur"] == pytest.approx(100 * 120.0)
    with pytest.raises(ConfigError, match="1 to 5 yearly fractions"):
        costs.BudgetInputs(uptake=(0.1,) * 6)


def test_one_way_sensitivity_orders_by_swing() -> None:
    base = {"a": 1.0, "b": 2.0}
    rows = costs.one_way_sensitivity(base, {"a": (0.0, 2.0), "b": (1.0, 3.0)}, lambda q: 10 * q["a"] + q["b"])
    assert [r["parameter"] for r in rows] == ["a", "b"]
    assert rows[0]["at_low"] == 2.0 and rows[0]["at_high"] == 22.0 and rows[0]["swing"] == 20.0 and rows[0]["base"] == 12.0
    with pytest.raises(ConfigError, match=r"unknown parameters \['c'\]"):
        costs.one_way_sensitivity(base, {"c": (0, 1)}, lambda q: 0.0)
    params = {"ecg_per_gp_month": 10.0, "effect_per_gp_month": 2.0, "downstream_per_ecg_on": 5.0,
              "downstream_per_ecg_off": 4.0, "AI_PRICE": 1.0}
    total = costs.budget_total(params, T, (0.1, 0.5), 1000)
    inp = costs.BudgetInputs(n_gps=1000, uptake=(0.1, 0.5), ecg_per_gp_month=10, effect_per_gp_month=2,
                             downstream_per_ecg_on=5, downstream_per_ecg_off=4)
    assert total == pytest.approx(sum(r["total_eur"] for r in costs.budget_impact(inp, T)))


def test_icer_bootstrap_resamples_practices() -> None:
    rows = [{"arm": a, "practice": f"P{k}", "new_diagnosis": (i % 4 == 0) == (a == "ai_on"), "tele_expertise": a == "ai_on"}
            for k in range(12) for a in ("ai_on", "ai_off") for i in range(8 + k)]
    r = costs.icer_bootstrap(rows, T, n_resamples=300, seed=2)
    assert r["clusters"] == 12 and r["resampled_unit"] == "practice"
    flat = costs.icer_bootstrap([{k: v for k, v in x.items() if k != "practice"} for x in rows], T, n_resamples=300, seed=2)
    assert flat["clusters"] == len(rows)
    assert r["delta_cost_per_ecg"] == pytest.approx(flat["delta_cost_per_ecg"]) and r["icer"] == pytest.approx(flat["icer"])
