"""The pilot's evaluation on a real PostgreSQL server (the server of tests/test_postgres.py): tables, the
JSON-path reads of study_rows, registration freeze, and the same results as on SQLite."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="PostgreSQL driver not installed (pip install -e '.[postgres]')")

from test_postgres import pg_url  # noqa: E402, F401  (the module-scoped server fixture)

from ecgpilot.errors import RecordError  # noqa: E402
from ecgpilot.pilot import evaluate, service  # noqa: E402
from ecgpilot.store import open_database  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_pilot  # noqa: E402


def _results(url: str) -> dict:
    p, al, n = bench_pilot.build(url, 20, 8, 6.0, seed=4)
    engine, factory = open_database(url)
    with factory() as db:
        panel = service.volume_panel(db, p, al, bench_pilot.KEY)
        rows = service.study_rows(db, p, al, bench_pilot.KEY)
        with pytest.raises(RecordError, match="frozen"):
            service.save_protocol(db, p, service.Actor("x", "admin"))
    engine.dispose()
    res = evaluate.evaluate(p, al, panel, rows, n_resamples=200)
    return {"n": n, "rows": len(rows), "panel": int(panel["n_ecg"].sum()), "effect": res["primary"]["lmm"]["estimate"],
            "tele": res["indicators"]["ai_on"]["tele_expertise"]["k"], "doctor_urgency": sorted({str(r["doctor_urgency"]) for r in rows}),
            "decisions": res["indicators"]["ai_on"]["decisions"], "icer": res["icer"]["icer"]}


def test_pilot_on_postgresql_matches_sqlite(pg_url, tmp_path) -> None:  # noqa: ANN001, F811
    pg = _results(pg_url)
    lite = _results(f"sqlite:///{tmp_path / 'p.db'}")
    assert pg["n"] == lite["n"] > 500 and pg["rows"] == lite["rows"] and pg["panel"] == lite["panel"]
    assert pg["doctor_urgency"] == ["normal", "routine", "soon"] and pg["decisions"] == lite["decisions"] != {}
    assert pg["effect"] == pytest.approx(lite["effect"], rel=1e-6) and pg["icer"] == pytest.approx(lite["icer"], rel=1e-9)
    assert pg["tele"] == lite["tele"]
