"""End to end on a real database: protocol, randomisation, registration, activity import, signed studies,
follow-ups → evaluation, plots and the pseudonymised dataset (round trip, manifest, dictionary); the CLI."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.pilot import dataset, evaluate, plots, service
from ecgpilot.pilot import protocol as proto
from ecgpilot.pilot.cli import add_pilot_commands
from ecgpilot.store.models import User
from tests._pilot import KEY, add_practices, add_signed_study, make_db, utc

ACTOR = service.Actor("tester", "evaluator")


def _pilot_db(tmp_path, effect: int = 3):  # noqa: ANN001, ANN202
    """8 practices × 2 GPs, a 4-period stepped wedge from 2027-01 (1-month periods), 3 baseline months imported,
    GP j of each practice records 3 + 2j ECGs a month (+ ``effect`` with the AI), a follow-up for every other study."""
    engine, factory = make_db(tmp_path)
    rng = np.random.default_rng(0)
    with factory() as db:
        ps = add_practices(db, 8, gps=2)
        p = proto.Protocol(name="pilot", start_month="2027-01", period_months=1, n_periods=4, baseline_months=3)
        service.save_protocol(db, p, ACTOR)
        al = service.randomise_practices(db, "pilot", 11, {x.id: "s" if x.id % 2 else "l" for x in ps}, ACTOR)
        service.register_protocol(db, "pilot", ACTOR, today=date(2026, 12, 1))
        gps = list(db.scalars(select(User).where(User.role == "gp").order_by(User.id)))
        csv = "doctor,month,ecg_acts,ccam_code\n" + "".join(
            f"{u.rpps},{m},{3 + 2 * (i % 2)},DEQP003\n" for i, u in enumerate(gps) for m in ("2026-10", "2026-11", "2026-12"))
        service.import_activity(db, csv.encode(), KEY, ACTOR)
        n = 0
        for i, u in enumerate(gps):
            for month in range(1, 5):
                on = proto.ai_on(p, al, u.practice_id, f"2027-{month:02d}")
                for k in range(3 + 2 * (i % 2) + (effect if on else 0)):
                    s = add_signed_study(db, u, utc(2027, month, 1 + k), ai_urgency="normal" if on else None,
                                         doctor_urgency=str(rng.choice(["normal", "routine"])))
                    n += 1
                    if n % 2:
                        service.save_followup(db, s.id, u, {"referred": "yes" if n % 3 == 0 else "no",
                                                            "diagnosis": "af_flutter" if n % 5 == 0 else "normal",
                                                            "new_diagnosis": "yes" if n % 5 == 0 else "no"},
                                              today=date(2027, 6, 1))
        db.commit()
    return engine, factory, p, al


def test_evaluation_and_dataset_round_trip(tmp_path) -> None:  # noqa: ANN001
    engine, factory, p, al = _pilot_db(tmp_path)
    with factory() as db:
        _, row = service.load_protocol(db, "pilot")
        _, strata = service.allocation_of(db, row)
        panel = service.volume_panel(db, p, al, KEY)
        rows = service.study_rows(db, p, al, KEY)
    assert len(panel) == 16 * 7 and (panel[panel["period"] == -1]["source"] == "insurer").all()
    with factory() as db:                      # a GP with no ECG at all still counts, with zeros
        u = User(email="idle@x.fr", name="Dr Idle", role="gp", password_hash="x", practice_id=next(iter(al)),
                 created_at=utc(2026, 12, 15))
        db.add(u)
        db.commit()
        idle = service.volume_panel(db, p, al, KEY)
        db.delete(u)
        db.commit()
    extra = idle[idle["gp"] == service.gp_key(u, KEY)]
    assert list(extra["month"]) == ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04"] and extra["n_ecg"].sum() == 0
    # every GP-month is 3 or 5 (+3 with the AI), each practice's mean 4: the mixed model recovers 3 exactly
    res = evaluate.evaluate(p, al, panel, rows, n_gps=1000, n_resamples=300, gp_sensitivity=True)
    assert res["primary"]["lmm_gp"]["estimate"] == pytest.approx(3.0, abs=1e-6)
    assert res["primary"]["lmm"]["estimate"] == pytest.approx(3.0, abs=1e-6)
    assert res["primary"]["lmm"]["se"] > 0 and res["primary"]["lmm"]["details"]["residual_variance"] == pytest.approx(1.0, rel=0.1)
    assert res["primary"]["poisson"]["estimate"] == pytest.approx(7 / 4, rel=1e-3)
    assert res["indicators"]["ai_on"]["n_ecg"] + res["indicators"]["ai_off"]["n_ecg"] == len(rows)
    assert len(res["budget_impact"]["years"]) == 5 and res["sensitivity"][0]["parameter"] == "effect_per_gp_month"
    labels = {pid: f"P{pid}" for pid in al}
    out = evaluate.write_outputs(tmp_path / "out", res, p, al, panel, rows, evaluate.costs.DEFAULT_TARIFFS, labels, strata, {})
    assert "results.json" in out["written"] and "report.html" in out["written"]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "+3.00" in report and "CONSORT-AI" in report and "5 (i)" in report and "<script" not in report
    from ecgpilot.pilot.report import DECIDE_AI

    assert "DECIDE-AI" in report and all(f"<td>{item}</td>" in report for item, _, _ in DECIDE_AI)
    assert all(where for _, _, where in DECIDE_AI)                # every item says where it is answered
    assert "ED_VISIT" in report                                   # the assumptions to check are named
    back = dataset.read_dataset(tmp_path / "out" / "dataset")
    assert set(back) == {"volume", "studies", "allocation"}
    vol = back["volume"]
    assert len(vol) == len(panel) and vol["n_ecg"].sum() == panel["n_ecg"].sum()
    assert list(vol["month"]) == list(panel["month"]) and set(vol["practice"]) == set(labels.values())
    st = back["studies"]
    assert len(st) == len(rows) and set(st.columns) <= set(dataset.DICTIONARY["studies"])
    assert "practice_id" not in st.columns and not any("@" in str(v) for v in st.to_numpy().ravel())
    assert st["cost_eur"].sum() == pytest.approx(sum(evaluate.costs.pathway_cost(r, evaluate.costs.DEFAULT_TARIFFS) for r in rows))
    # the re-analysis from the exported CSV gives the same estimate
    again = evaluate.analysis.stepped_wedge_lmm(vol[vol["period"].notna()])
    assert again.estimate == pytest.approx(res["primary"]["lmm"]["estimate"], abs=1e-9)
    dd = pd.read_csv(tmp_path / "out" / "dataset" / "data_dictionary.csv")
    assert set(zip(dd["table"], dd["column"])) >= {("volume", c) for c in vol.columns}
    # a changed file is caught by the manifest
    f = tmp_path / "out" / "dataset" / "volume.csv"
    f.write_text(f.read_text().replace(",insurer", ",app", 1))
    assert dataset.verify_manifest(tmp_path / "out" / "dataset") == ["volume.csv"]
    with pytest.raises(ConfigError, match="volume.csv"):
        dataset.read_dataset(tmp_path / "out" / "dataset")
    if plots.available():
        svg = (tmp_path / "out" / "plots" / "stepped_wedge.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert "<script" not in svg and 'href="http' not in svg and "<image" not in svg   # nothing fetched
        assert (tmp_path / "out" / "plots" / "cost_effect_plane.svg").is_file()
        pdf = (tmp_path / "out" / "report.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 9


def test_dataset_refuses_undocumented_columns(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=r"\['secret'\] are not in the data dictionary"):
        dataset.write_dataset(tmp_path, {"allocation": pd.DataFrame({"practice": ["a"], "secret": [1]})}, {})
    with pytest.raises(ConfigError, match="'people' has no data dictionary"):
        dataset.write_dataset(tmp_path, {"people": pd.DataFrame({"a": [1]})}, {})


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    add_pilot_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def test_cli_protocol_randomise_import_analyse(tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    engine, factory = make_db(tmp_path)
    with factory() as db:
        add_practices(db, 6, gps=1)
        db.commit()
    dbu = f"sqlite:///{tmp_path / 'pilot.db'}"
    monkeypatch.setenv("ECGPILOT_SECRET_KEY", "s3cret")
    start = (date.today().replace(day=1) + timedelta(days=62)).strftime("%Y-%m")
    assert _run(["pilot", "protocol", "create", "--db", dbu, "--name", "cli", "--start-month", start,
                 "--period-months", "1", "--n-periods", "4"]) == 0
    capsys.readouterr()
    assert _run(["pilot", "randomise", "--db", dbu, "--name", "cli", "--seed", "5"]) == 0
    first = capsys.readouterr().out
    assert _run(["pilot", "randomise", "--db", dbu, "--name", "cli", "--seed", "5"]) == 0
    assert capsys.readouterr().out == first            # same seed, same allocation
    assert _run(["pilot", "protocol", "register", "--db", dbu, "--name", "cli"]) == 0
    with factory() as db:
        gp = db.scalar(select(User))
    csv = tmp_path / "acts.csv"
    csv.write_text(f"doctor,month,ecg_acts,ccam_code\n{gp.rpps},2026-01,3,DEQP003\n")
    assert _run(["pilot", "import-activity", "--db", dbu, str(csv)]) == 0
    assert "imported 1 rows" in capsys.readouterr().out
    assert _run(["pilot", "protocol", "show", "--db", dbu, "--name", "cli"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "registered" and len(shown["allocation"]) == 6
    assert _run(["pilot", "analyse", "--db", dbu, "--name", "cli", "--out", str(tmp_path / "res")]) == 0
    assert (tmp_path / "res" / "dataset" / "manifest.json").is_file()
    assert any(e["details"].get("pilot") == "analysis_export" for e in audit.entries(engine, action="export"))
    assert _run(["pilot", "simulate", "--practices", "12", "--effect", "1.5", "--seed", "2"]) == 0
    assert "covered" in capsys.readouterr().out


def test_cli_choices_match_the_library() -> None:
    from ecgpilot.pilot import cli, costs

    assert cli.DESIGN_CHOICES == proto.DESIGNS and cli.UPTAKE_CHOICES == tuple(costs.UPTAKE_SCENARIOS)
