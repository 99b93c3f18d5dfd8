"""Scale of the pilot's evaluation: GPs × months of signed studies in a real SQLite database, then the time of
each step of ``ecgpilot pilot analyse`` (panel, per-study rows, evaluation, outputs).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pilot.py --gps 1000 --months 24 --per-month 12.5

Builds the database with bulk inserts (not timed as part of the analysis), a stepped wedge of 4 periods of
6 months, practices of 5 GPs, 30 % of studies with a follow-up, 5 % with a tele-expertise request.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from ecgpilot import audit
from ecgpilot.pilot import evaluate, service
from ecgpilot.pilot import protocol as proto
from ecgpilot.store import migrate, open_database
from ecgpilot.store.models import OpinionRequest, Practice, Report, Study, User
from ecgpilot.store.pilot import PilotFollowUp, ensure_pilot_schema

KEY = b"b" * 32


def build(url: str, gps: int, months: int, per_month: float, seed: int = 0) -> tuple[proto.Protocol, dict, int]:
    """Fill the (empty) database at ``url``; returns the protocol, the allocation and the number of studies."""
    engine, factory = open_database(url)
    migrate(engine)
    audit.open_audit(engine)
    ensure_pilot_schema(engine)
    rng = np.random.default_rng(seed)
    n_pr = max(4, gps // 5)
    p = proto.Protocol(name="bench", start_month="2027-01", period_months=max(1, months // 4), n_periods=4, baseline_months=0)
    with engine.begin() as conn:
        conn.execute(insert(Practice), [{"id": i + 1, "name": f"Cabinet {i + 1}"} for i in range(n_pr)])
        conn.execute(insert(User), [{"id": g + 1, "email": f"g{g}@x.fr", "name": f"Dr {g}", "role": "gp", "password_hash": "x",
                                     "practice_id": g % n_pr + 1} for g in range(gps)])
    with factory() as db:
        service.save_protocol(db, p, service.Actor("bench", "evaluator"))
        al = service.randomise_practices(db, "bench", seed, {i + 1: "all" for i in range(n_pr)}, service.Actor("bench", "evaluator"))
        db.commit()
    sid = 0
    start = datetime(2027, 1, 1, 9, tzinfo=timezone.utc)
    for g in range(gps):
        studies, reports, fups, ops = [], [], [], []
        for m in range(months):
            month = proto.month_str(proto.month_index("2027-01") + m)
            on = proto.ai_on(p, al, g % n_pr + 1, month)
            for _ in range(int(rng.poisson(per_month * (1.2 if on else 1.0)))):
                sid += 1
                when = start + timedelta(days=30.4 * m + float(rng.uniform(0, 28)))
                studies.append({"id": sid, "practice_id": g % n_pr + 1, "uploaded_by": g + 1, "created_at": when,
                                "recorded_at": when.replace(tzinfo=None), "status": "signed", "file_sha256": "0" * 64,
                                "file_name": "x.hea", "file_names": [], "ai_urgency": "normal" if on else None,
                                "model_version": "m1" if on else None})
                reports.append({"study_id": sid, "version": 1, "signed_by": g + 1, "signed_at": when,
                                "content": {"urgency": str(rng.choice(["normal", "routine", "soon"])),
                                            "decisions": [{"origin": "ai", "decision": "confirmed"}] if on else []},
                                "content_sha256": "0" * 64})
                if rng.random() < 0.3:
                    fups.append({"study_id": sid, "entered_by": g + 1, "entered_at": when, "referred": bool(rng.random() < 0.2),
                                 "diagnosis": str(rng.choice(["normal", "af_flutter", "lvh"])),
                                 "new_diagnosis": bool(rng.random() < 0.05)})
                if rng.random() < 0.05:
                    ops.append({"study_id": sid, "requested_by": g + 1, "cardiologist_id": g + 1, "question": "?",
                                "status": "answered", "requested_at": when, "answered_at": when + timedelta(hours=5),
                                "urgency": "routine"})
        with engine.begin() as conn:
            for table, rows in ((Study, studies), (Report, reports), (PilotFollowUp, fups), (OpinionRequest, ops)):
                if rows:
                    conn.execute(insert(table), rows)
    with factory() as db:
        service.register_protocol(db, "bench", service.Actor("bench", "evaluator"), today=date(2026, 12, 1))
        db.commit()
    engine.dispose()
    return p, al, sid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gps", type=int, default=100)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--per-month", type=float, default=12.5)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--db-url", help="an empty database (e.g. postgresql+psycopg://…); default: SQLite in a temp folder")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = a.db_url or f"sqlite:///{Path(tmp) / 'b.db'}"
        t0 = time.perf_counter()
        p, al, n = build(url, a.gps, a.months, a.per_month)
        t_build = time.perf_counter() - t0
        engine, factory = open_database(url)
        times = {}
        with factory() as db:
            _, row = service.load_protocol(db, "bench")
            al, st = service.allocation_of(db, row)
            t = time.perf_counter()
            panel = service.volume_panel(db, p, al, KEY)
            times["volume_panel_s"] = time.perf_counter() - t
            t = time.perf_counter()
            rows = service.study_rows(db, p, al, KEY)
            times["study_rows_s"] = time.perf_counter() - t
        t = time.perf_counter()
        res = evaluate.evaluate(p, al, panel, rows, n_resamples=a.resamples)
        times["evaluate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        labels = {pid: service.practice_label(pid, KEY) for pid in al}
        evaluate.write_outputs(Path(tmp) / "out", res, p, al, panel, rows, evaluate.costs.DEFAULT_TARIFFS, labels, st, {})
        times["write_outputs_s"] = time.perf_counter() - t
        times["total_s"] = sum(times.values())
        out = {"database": engine.dialect.name, "gps": a.gps, "months": a.months, "studies": n, "gp_months": len(panel), "build_db_s": round(t_build, 1),
               **{k: round(v, 2) for k, v in times.items()},
               "effect": round(res["primary"]["lmm"]["estimate"], 3),
               "ci": [round(res["primary"]["lmm"]["ci_low"], 3), round(res["primary"]["lmm"]["ci_high"], 3)]}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
