"""A pilot run on this machine through the **real** app: practices with GPs and a cardiologist, a registered
stepped-wedge protocol, a baseline activity extract, then months of uploads of real ECG files (LUDB WFDB
records) through the same API a GP's software uses (upload, confirm, sign, tele-expertise and its answer),
30-day follow-ups drawn from the records' diagnoses, with a known effect of the AI on the number of ECGs.
The evaluation must recover the effect within its CI: the test of the apparatus.

What is simulated besides the doctors: time. The app stamps an upload with "now", and LUDB files carry no
recording date, so each study's ``recorded_at`` (the recording date a file would carry) is set to its
simulated day after the upload; nothing else is written around the app. The upload path asks
:func:`ecgpilot.web.deps.upload_uses_ai` (the pilot's allocation at the real date of the upload), so while the
simulated periods lie in the future of the real clock the AI runs in both arms here (the volume effect is
simulated; the arm of each study comes from the registered allocation).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import ConfigError

__all__ = ["SimulationResult", "simulate_pilot", "ludb_diagnosis"]


@dataclass
class SimulationResult:
    """What was done and what the evaluation found."""

    protocol: str
    uploads: int
    signed: int
    opinions: int
    followups: int
    effect: float
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        lmm = self.results.get("primary", {}).get("lmm") or {}
        return bool(lmm) and lmm["ci_low"] <= self.effect <= lmm["ci_high"]


def ludb_diagnosis(row: dict[str, str]) -> str:
    """The follow-up's final diagnosis (``ecgpilot.pilot.followup.DIAGNOSES``) from a LUDB record's labels."""
    rhythm = (row.get("Rhythms") or "").lower()
    if "fibrillation" in rhythm or "flutter" in rhythm:
        return "af_flutter"
    if (row.get("Conduction abnormalities") or "").strip():
        return "conduction"
    if "left ventricular hypertrophy" in (row.get("Hypertrophies") or "").lower():
        return "lvh"
    if (row.get("Ischemia") or "").strip():
        return "ischaemia"
    if (row.get("Extrasystolies") or "").strip() or ("sinus rhythm" not in rhythm and rhythm):
        return "other_arrhythmia"
    return "normal"


def _rpps(n: int) -> str:
    first10 = f"2{n:09d}"
    total = 0
    for i, ch in enumerate(reversed(first10)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return first10 + str((10 - total % 10) % 10)


def simulate_pilot(data_dir: Path, records: Path, *, practices: int = 4, gps: int = 2, n_periods: int = 3,
                   period_months: int = 1, baseline_months: int = 3, per_month: float = 3.0, effect: float = 2.0,
                   p_opinion: float = 0.15, p_followup: float = 0.6, use_ai: bool = True, seed: int = 0,
                   start_month: str = "2030-01", n_resamples: int = 300) -> SimulationResult:
    """Run the pilot in a fresh app under ``data_dir`` with the LUDB records of ``records`` (``data/`` and
    ``ludb.csv``); each GP records Poisson(``per_month`` + ``effect`` × AI on) ECGs a month."""
    from fastapi.testclient import TestClient

    from ecgpilot.pilot import evaluate, service
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.store import add_user, create_api_token
    from ecgpilot.store.models import Study, User
    from ecgpilot.web import Settings, create_app

    table = Path(records) / "ludb.csv"
    if not table.is_file():
        raise ConfigError(f"{table} not found: give the LUDB folder (with data/ and ludb.csv).")
    with table.open(encoding="utf-8") as f:
        labels = {int(r["ID"]): r for r in csv.DictReader(f)}
    ids = sorted(i for i in labels if (Path(records) / "data" / f"{i}.hea").is_file())
    if not ids:
        raise ConfigError(f"no LUDB record (N.hea + N.dat) under {Path(records) / 'data'}.")
    rng = np.random.default_rng(seed)
    secret = "pilot-simulation"
    app = create_app(Settings(data_dir=Path(data_dir), secret_key=secret, use_ai=use_ai))
    actor = service.Actor("simulation", "admin")
    with app.state.sessions() as db:
        gp_ids, cardio = [], None
        for i in range(practices):
            for j in range(gps):
                u = add_user(db, f"gp{i}-{j}@sim.fr", "simulation-password", name=f"Dr GP {i}-{j}", role="gp",
                             practice=f"Cabinet {i + 1}")
                u.rpps = _rpps(100 * i + j)
                gp_ids.append(u.id)
        cardio = add_user(db, "cardio@sim.fr", "simulation-password", name="Dr Cardio", role="cardiologist",
                          practice="Cardiologie")
        db.flush()
        cardio_id = cardio.id
        tokens = {uid: create_api_token(db, db.get(User, uid)) for uid in gp_ids + [cardio_id]}
        practice_ids = sorted({db.get(User, uid).practice_id for uid in gp_ids})
        p = proto.Protocol(name="simulation", start_month=start_month, period_months=period_months, n_periods=n_periods,
                           baseline_months=baseline_months)
        service.save_protocol(db, p, actor)
        al = service.randomise_practices(db, "simulation", seed, {pid: ("small", "large")[k % 2] for k, pid in
                                                                  enumerate(practice_ids)}, actor)
        service.register_protocol(db, "simulation", actor, today=p.start_date - timedelta(days=1))
        users = {uid: db.get(User, uid) for uid in gp_ids}
        extract = io.StringIO()
        extract.write("doctor,month,ecg_acts,ccam_code\n")
        first = proto.month_index(start_month) - baseline_months
        for uid in gp_ids:
            for m in range(first, proto.month_index(start_month)):
                extract.write(f"{users[uid].rpps},{proto.month_str(m)},{int(rng.poisson(per_month))},DEQP003\n")
        service.import_activity(db, extract.getvalue().encode(), pseudonym_key_for(secret), actor)
        db.commit()

    uploads = signed = opinions = followups = 0
    files_dir = Path(records) / "data"
    with TestClient(app) as client:
        def api(uid: int, method: str, path: str, **kw: Any) -> Any:
            return client.request(method, f"/api/v1{path}", headers={"Authorization": f"Bearer {tokens[uid]}"}, **kw)

        for m in range(proto.month_index(start_month), proto.month_index(p.end_month) + 1):
            month = proto.month_str(m)
            y, mo = (int(x) for x in month.split("-"))
            for uid in gp_ids:
                on = bool(proto.ai_on(p, al, users[uid].practice_id, month))
                for _ in range(int(rng.poisson(per_month + (effect if on else 0.0)))):
                    rec = int(rng.choice(ids))
                    files = [("files", (f"{rec}.{ext}", (files_dir / f"{rec}.{ext}").read_bytes())) for ext in ("hea", "dat")]
                    r = api(uid, "POST", "/studies", files=files)
                    if r.status_code != 201:
                        continue
                    uploads += 1
                    sid = r.json()[0]["id"]
                    when = datetime(y, mo, 1 + int(rng.integers(0, 28)), 10)
                    with app.state.sessions() as db:   # the recording date the file would carry
                        db.get(Study, sid).recorded_at = when
                        db.commit()
                    full = api(uid, "GET", f"/studies/{sid}").json()
                    stmts = (full.get("draft") or {}).get("statements") or []
                    urgency = full.get("ai_urgency") or "normal"
                    api(uid, "PATCH", f"/studies/{sid}/statements",
                        json={"changes": [{"id": s["id"], "decision": "confirmed"} for s in stmts], "urgency": urgency})
                    if api(uid, "POST", f"/studies/{sid}/sign").status_code != 201:
                        continue
                    signed += 1
                    dx = ludb_diagnosis(labels[rec])
                    if rng.random() < p_opinion:
                        q = api(uid, "POST", f"/studies/{sid}/opinion-requests",
                                json={"cardiologist_id": cardio_id, "question": "Avis ?", "consent": True})
                        if q.status_code == 201:
                            ref = "normal" if dx == "normal" else ("soon" if dx in ("af_flutter", "ischaemia") else "routine")
                            ai = ((full.get("interpretation") or {}).get("statements")) or []
                            api(cardio_id, "POST", f"/opinions/{q.json()['id']}/answer",
                                json={"urgency": ref, "statements": [{"id": s["id"], "agree": True} for s in ai]})
                            opinions += 1
                    if rng.random() < p_followup:
                        abnormal = dx != "normal"
                        form = {"referred": "yes" if abnormal and rng.random() < 0.5 else "no", "diagnosis": dx,
                                "new_diagnosis": "yes" if abnormal and rng.random() < 0.3 else "no"}
                        if form["referred"] == "yes":
                            form["seen_on"] = (when.date() + timedelta(days=int(rng.integers(3, 25)))).isoformat()
                        with app.state.sessions() as db:
                            service.save_followup(db, sid, db.get(User, uid), form, today=when.date() + timedelta(days=31))
                            db.commit()
                        followups += 1
    key = pseudonym_key_for(secret)
    with app.state.sessions() as db:
        p2, row = service.load_protocol(db, "simulation")
        al2, _ = service.allocation_of(db, row)
        panel = service.volume_panel(db, p2, al2, key)
        rows = service.study_rows(db, p2, al2, key)
    res = evaluate.evaluate(p2, al2, panel, rows, n_resamples=n_resamples)
    app.state.engine.dispose()
    return SimulationResult("simulation", uploads, signed, opinions, followups, effect, res)


def pseudonym_key_for(secret: str) -> bytes:
    """The evaluator pages' pseudonym key for an app secret (as :func:`ecgpilot.web.deps.pseudonym_key`)."""
    from ecgpilot.pilot.cli import pseudonym_key

    return pseudonym_key(secret)
