"""The test of the apparatus: a small pilot through the real app's API (LUDB records uploaded, confirmed,
signed, tele-expertise asked and answered, follow-ups) with a known effect; the evaluation recovers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgpilot.web.pilot_simulate import ludb_diagnosis, simulate_pilot

LUDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "ludb"


def test_ludb_diagnosis_mapping() -> None:
    assert ludb_diagnosis({"Rhythms": "Atrial fibrillation"}) == "af_flutter"
    assert ludb_diagnosis({"Rhythms": "Sinus rhythm", "Conduction abnormalities": "I degree AV block"}) == "conduction"
    assert ludb_diagnosis({"Rhythms": "Sinus rhythm", "Hypertrophies": "Left ventricular hypertrophy"}) == "lvh"
    assert ludb_diagnosis({"Rhythms": "Sinus rhythm"}) == "normal"
    assert ludb_diagnosis({"Rhythms": "Sinus tachycardia"}) == "other_arrhythmia"


@pytest.mark.slow
def test_simulated_pilot_through_the_api_recovers_the_effect(tmp_path) -> None:  # noqa: ANN001
    if not (LUDB / "ludb.csv").is_file():
        pytest.skip(f"LUDB not found at {LUDB}")
    r = simulate_pilot(tmp_path / "data", LUDB, practices=4, gps=2, n_periods=3, per_month=3.0, effect=2.0, seed=1,
                       n_resamples=200)
    assert r.uploads >= 80 and r.signed >= 0.85 * r.uploads and r.opinions > 5 and r.followups > 30
    lmm = r.results["primary"]["lmm"]
    assert r.covered and lmm["n_clusters"] == 4
    ind = r.results["indicators"]
    assert ind["ai_on"]["n_ecg"] > ind["ai_off"]["n_ecg"] and sum(ind["ai_on"]["model_versions"].values()) > 0
    assert r.results["ai_vs_overread"]["routine"]["ppv"]["n"] > 0          # over-reads reached the indicators
    assert ind["ai_on"]["followup_completion"]["k"] + ind["ai_off"]["followup_completion"]["k"] == r.followups
