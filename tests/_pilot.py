"""Helpers of the pilot tests: a real SQLite database in a temp folder with practices, GPs, signed studies."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.orm import Session

from ecgpilot import audit
from ecgpilot.store import migrate, open_database
from ecgpilot.store.models import Practice, Report, Study, User
from ecgpilot.store.pilot import ensure_pilot_schema

KEY = b"k" * 32


def make_db(tmp_path: Path):  # noqa: ANN201
    """(engine, session factory) of a migrated SQLite database with the audit trail and the pilot tables."""
    engine, factory = open_database(f"sqlite:///{tmp_path / 'pilot.db'}")
    migrate(engine)
    audit.open_audit(engine)
    ensure_pilot_schema(engine)
    return engine, factory


def add_practices(db: Session, n: int, gps: int = 2, rpps: dict[tuple[int, int], str] | None = None) -> list[Practice]:
    """``n`` practices "Cabinet 1…n", each with ``gps`` GPs (gp{i}-{j}@x.fr)."""
    out = []
    for i in range(1, n + 1):
        p = Practice(name=f"Cabinet {i}")
        db.add(p)
        db.flush()
        for j in range(gps):
            db.add(User(email=f"gp{i}-{j}@x.fr", name=f"Dr {i}{j}", role="gp", password_hash="x", practice_id=p.id,
                        rpps=(rpps or {}).get((i, j))))
        out.append(p)
    db.flush()
    return out


def add_signed_study(db: Session, user: User, when: datetime, *, ai_urgency: str | None = "normal",
                     doctor_urgency: str = "normal", signed_at: datetime | None = None) -> Study:
    s = Study(practice_id=user.practice_id, uploaded_by=user.id, created_at=when, recorded_at=when.replace(tzinfo=None),
              status="signed", file_sha256="0" * 64, file_name="x.hea", ai_urgency=ai_urgency,
              model_version="m1" if ai_urgency else None)
    db.add(s)
    db.flush()
    content = {"urgency": doctor_urgency, "decisions": [{"origin": "ai", "decision": "confirmed"}] if ai_urgency else []}
    db.add(Report(study_id=s.id, version=1, signed_by=user.id, signed_at=signed_at or when, content=content,
                  content_sha256="0" * 64))
    db.flush()
    return s


def utc(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, 10, 0, tzinfo=timezone.utc)
