"""The volume analyses: statsmodels fits checked against R lme4 (dietox), against an independent GLS
computation and the Hussey & Hughes variance, and on simulated stepped wedges with a known effect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgpilot.errors import ConfigError
from ecgpilot.pilot import analysis
from ecgpilot.pilot import protocol as proto
from ecgpilot.pilot.simulate import simulate_volume_panel


def _dietox() -> pd.DataFrame:
    import statsmodels

    path = Path(statsmodels.__file__).parent / "regression" / "tests" / "results" / "dietox.csv"
    if not path.is_file():
        pytest.skip(f"{path} not shipped with this statsmodels build (the dietox data of R package geepack)")
    return pd.read_csv(path)


def test_random_intercept_fit_reproduces_r_lme4_on_dietox() -> None:
    """R: ``lmer(Weight ~ Time + (1 | Pig), data = dietox)`` (REML); the numbers are those statsmodels' own
    test suite compares with (statsmodels/regression/tests/test_lme.py::test_dietox, from R lme4)."""
    res = analysis.fit_random_intercept(_dietox(), "Weight ~ Time", "Pig")
    np.testing.assert_allclose(res.fe_params.values, [15.723523, 6.942505], rtol=1e-5)      # fixef(rm)
    np.testing.assert_allclose(res.bse_fe.values, [0.78805374, 0.03338727], rtol=1e-4)       # sqrt(diag(vcov(rm)))
    np.testing.assert_allclose(res.scale, 11.36692, rtol=1e-4)                               # sigma(rm)^2
    np.testing.assert_allclose(float(np.asarray(res.cov_re).ravel()[0]), 40.39395, rtol=1e-4)  # VarCorr(rm)
    np.testing.assert_allclose(np.sqrt(np.diag(analysis.fe_covariance(res))), [0.78805374, 0.03338727], rtol=1e-4)


def _cluster_period_means(n_clusters: int = 12, n_periods: int = 5, effect: float = 1.5, tau: float = 1.0,
                          sigma: float = 0.8, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    p = proto.Protocol(name="cp", start_month="2027-01", period_months=1, n_periods=n_periods, baseline_months=0)
    al = proto.randomise(p, [proto.Practice(i, "all") for i in range(n_clusters)], seed)
    rng = np.random.default_rng(seed)
    rows = []
    for c in sorted(al):
        u = rng.normal(0, tau)
        for t in range(n_periods):
            on = int(t >= al[c])
            rows.append({"practice": c, "period": t, "ai_on": on,
                         "n_ecg": 10 + 0.4 * t + effect * on + u + rng.normal(0, sigma)})
    X = analysis.design_matrix([al[c] for c in sorted(al)], n_periods)
    return pd.DataFrame(rows), X


def test_stepped_wedge_estimate_matches_independent_gls_and_hussey_hughes_variance() -> None:
    df, X = _cluster_period_means()
    e = analysis.stepped_wedge_lmm(df)
    assert e.ci_low <= 1.5 <= e.ci_high
    s2, t2 = e.details["residual_variance"], e.details["cluster_variance"]
    # independent GLS with the fitted variance components: beta = (X'V^-1 X)^-1 X'V^-1 y
    periods = sorted(df["period"].unique())
    D = np.column_stack([np.ones(len(df))] + [(df["period"] == t).to_numpy(float) for t in periods[1:]]
                        + [df["ai_on"].to_numpy(float)])
    V = s2 * np.eye(len(df)) + t2 * (df["practice"].to_numpy()[:, None] == df["practice"].to_numpy()[None, :])
    Vi = np.linalg.inv(V)
    cov = np.linalg.inv(D.T @ Vi @ D)
    beta = cov @ D.T @ Vi @ df["n_ecg"].to_numpy()
    assert e.estimate == pytest.approx(beta[-1], rel=1e-6)
    assert e.se == pytest.approx(np.sqrt(cov[-1, -1]), rel=1e-5)
    # Hussey & Hughes (2007) eq. 8 gives the same variance on cluster-period means
    assert e.se ** 2 == pytest.approx(analysis.hussey_hughes_variance(X, s2, t2), rel=1e-5)


def test_hussey_hughes_variance_reduces_to_the_parallel_cluster_trial() -> None:
    """One period, half the clusters treated: Var = 4(σ² + τ²)/I (difference of two cluster means)."""
    X = np.array([[1.0]] * 10 + [[0.0]] * 10)
    assert analysis.hussey_hughes_variance(X, 2.0, 0.5) == pytest.approx(4 * 2.5 / 20)
    with pytest.raises(ConfigError, match="does not identify"):
        analysis.hussey_hughes_variance(np.ones((4, 3)), 1.0, 1.0)
    sw = analysis.design_matrix([1, 2, 3, 4] * 3, 5)
    assert analysis.hussey_hughes_power(sw, 0.0, 1.0, 0.5) == pytest.approx(0.05)   # no effect: power = alpha
    assert analysis.hussey_hughes_power(sw, 2.0, 1.0, 0.5) > analysis.hussey_hughes_power(sw, 1.0, 1.0, 0.5)


def test_simulated_stepped_wedge_recovers_effect_and_ci_covers() -> None:
    p = proto.Protocol(name="s", start_month="2027-01", period_months=2, n_periods=5, baseline_months=6)
    al = proto.randomise(p, [proto.Practice(i, "small" if i % 2 else "large") for i in range(1, 25)], 42)
    hits, ests = 0, []
    for seed in range(30):
        e = analysis.stepped_wedge_lmm(simulate_volume_panel(p, al, effect=2.0, seed=seed))
        ests.append(e.estimate)
        hits += e.ci_low <= 2.0 <= e.ci_high
    assert abs(np.mean(ests) - 2.0) < 0.2          # unbiased (30 × SE≈0.4 → SE of the mean ≈ 0.07)
    assert hits >= 25                               # nominal 95%: ≥ 25/30 has probability > 0.98
    null = analysis.stepped_wedge_lmm(simulate_volume_panel(p, al, effect=0.0, seed=99))
    assert null.ci_low <= 0.0 <= null.ci_high


def test_poisson_gee_rate_ratio() -> None:
    p = proto.Protocol(name="s", start_month="2027-01", period_months=2, n_periods=5, baseline_months=0)
    al = proto.randomise(p, [proto.Practice(i, "x") for i in range(1, 25)], 5)
    none = analysis.stepped_wedge_poisson(simulate_volume_panel(p, al, effect=0.0, seed=4, practice_sd=1.0))
    assert none.ci_low <= 1.0 <= none.ci_high
    some = analysis.stepped_wedge_poisson(simulate_volume_panel(p, al, effect=3.0, seed=4, practice_sd=1.0))
    assert some.ci_low > 1.0 and 1.1 < some.estimate < 1.5   # (10 + 3)/10 ≈ 1.3 around mid-trial


def test_difference_in_differences_equals_the_two_by_two_means() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for c in range(20):
        treated = int(c < 10)
        for post in (0, 1):
            for _ in range(6):
                rows.append({"practice": c, "treated": treated, "post": post,
                             "n_ecg": 10 + 1.0 * post + 0.5 * treated + 2.5 * treated * post + rng.normal(0, 1)})
    df = pd.DataFrame(rows)
    m = df.groupby(["treated", "post"])["n_ecg"].mean()
    by_hand = (m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0])
    e = analysis.difference_in_differences(df)
    assert e.estimate == pytest.approx(by_hand, rel=1e-9)
    assert e.ci_low <= 2.5 <= e.ci_high and e.n_clusters == 20


def test_analysis_refuses_data_without_both_arms() -> None:
    df = pd.DataFrame({"n_ecg": [1, 2, 3], "ai_on": [0, 0, 0], "period": [0, 1, 2], "practice": [1, 1, 2]})
    with pytest.raises(ConfigError, match="one value only"):
        analysis.stepped_wedge_lmm(df)
    with pytest.raises(ConfigError, match=r"lack columns \['n_ecg'\]"):
        analysis.stepped_wedge_lmm(df.drop(columns=["n_ecg"]))


def test_interrupted_time_series_level_and_slope() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(36, dtype=float)
    y = 10 + 0.1 * t + 2.0 * (t >= 18) + 0.05 * np.maximum(0, t - 18) + rng.normal(0, 0.3, 36)
    res = analysis.interrupted_time_series(pd.DataFrame({"y": y, "t": t}), 18)
    assert res["after"].ci_low <= 2.0 <= res["after"].ci_high and abs(res["after"].estimate - 2.0) < 0.5
    assert abs(res["t_after"].estimate - 0.05) < 0.05 and res["t_after"].ci_low < res["t_after"].estimate < res["t_after"].ci_high
    # the point estimates are those of ordinary least squares (numpy lstsq on the same design)
    X = np.column_stack([np.ones(36), t, (t >= 18).astype(float), np.maximum(0, t - 18)])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    assert res["after"].estimate == pytest.approx(beta[2]) and res["t_after"].estimate == pytest.approx(beta[3])
    with pytest.raises(ConfigError, match="at least 3 points before and 3 after"):
        analysis.interrupted_time_series(pd.DataFrame({"y": y[:20], "t": t[:20]}), 18)


def test_gp_nested_within_practice() -> None:
    p = proto.Protocol(name="s", start_month="2027-01", period_months=3, n_periods=4, baseline_months=0)
    al = proto.randomise(p, [proto.Practice(i, "x") for i in range(1, 41)], 1)
    df = simulate_volume_panel(p, al, gps_per_practice=4, effect=2.0, seed=3, noise="gaussian", residual_sd=1.0)
    rng = np.random.default_rng(0)
    gp_effect = {g: rng.normal(0, 2.0) for g in sorted(df["gp"].unique())}
    df["n_ecg"] = df["n_ecg"] + df["gp"].map(gp_effect)
    e = analysis.stepped_wedge_lmm(df, nested="gp")
    assert e.ci_low <= 2.0 <= e.ci_high and "within practice" in e.method
    assert 2.0 < e.details["gp_variance"] < 6.0 and e.details["cluster_variance"] > 1.0   # true 4 and 4
    assert 0.6 < e.details["residual_variance"] < 1.5                                     # true 1
    flat = analysis.stepped_wedge_lmm(df)
    assert flat.details["residual_variance"] > 3.0     # without the GP term, GP differences land in the residual


def test_gp_nested_fit_keeps_the_best_likelihood_near_a_boundary() -> None:
    """No GP effect (its variance is 0, a boundary): the practice variance is still found (true 1.0)."""
    p = proto.Protocol(name="s", start_month="2027-01", period_months=6, n_periods=4, baseline_months=0)
    al = proto.randomise(p, [proto.Practice(i, "x") for i in range(1, 81)], 1)
    df = simulate_volume_panel(p, al, gps_per_practice=5, effect=2.0, seed=3, practice_sd=1.0, noise="gaussian",
                               residual_sd=3.0)
    e = analysis.stepped_wedge_lmm(df, nested="gp")
    assert e.ci_low <= 2.0 <= e.ci_high
    assert e.details["gp_variance"] < 0.3 and 0.5 < e.details["cluster_variance"] < 2.0
