"""Whether the instance can serve (the readiness probe): the database answers a query, the audit trail can be
read (its head), the data folder is writable, and the classifier loads when the AI is on. A probe reports,
it never raises."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import text

__all__ = ["readiness", "CHECKS"]


def _database(app_state: Any) -> str:
    with app_state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _audit(app_state: Any) -> str:
    from ecgpilot import audit

    seq, _ = audit.head(app_state.engine)
    return f"ok (head {seq})"


def _storage(app_state: Any) -> str:
    data = Path(app_state.settings.data_dir)
    fd, name = tempfile.mkstemp(prefix=".readyz-", dir=data)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)
    return "ok"


def _model(app_state: Any) -> str:
    if not app_state.settings.use_ai:
        return "ok (AI switched off)"
    from ecgpilot.model import load_model

    return f"ok ({load_model().version})"


CHECKS = {"database": _database, "audit": _audit, "storage": _storage, "model": _model}


def readiness(app_state: Any) -> tuple[bool, dict[str, str]]:
    """(ready, {check: "ok …" or "failed: why"}) for the app's state."""
    out: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            out[name] = check(app_state)
        except Exception as exc:  # a probe reports, it does not raise
            out[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    return all(not v.startswith("failed") for v in out.values()), out
