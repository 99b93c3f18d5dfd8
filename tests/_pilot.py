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


def rpps(n: int) -> str:
    """A valid RPPS (Luhn key computed here by hand) built from the number ``n``."""
    first10 = f"1{n:09d}"
    total = 0
    for i, ch in enumerate(reversed(first10)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return first10 + str((10 - total % 10) % 10)


def add_practices(db: Session, n: int, gps: int = 2, with_rpps: bool = True) -> list[Practice]:
    """``n`` practices "Cabinet 1…n", each with ``gps`` GPs (gp{i}-{j}@x.fr, RPPS :func:`rpps` (100 i + j))."""
    out = []
    for i in range(1, n + 1):
        p = Practice(name=f"Cabinet {i}")
        db.add(p)
        db.flush()
        for j in range(gps):
            db.add(User(email=f"gp{i}-{j}@x.fr", name=f"Dr {i}{j}", role="gp", password_hash="x", practice_id=p.id,
                        rpps=rpps(100 * i + j) if with_rpps else None))
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
