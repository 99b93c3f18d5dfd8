"""Liveness and readiness probes for orchestrators and load balancers (no login, no patient data).

* ``GET /healthz``: the process answers (200 ``{"status": "ok"}``); nothing else is touched.
* ``GET /readyz``: the instance can serve: the database answers a query, the audit trail can be read
  (its head), the data folder is writable, and the classifier loads when the AI is on. 200 with each
  check ``"ok"``, or 503 naming each failing check and why; a probe never raises.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

__all__ = ["router", "readiness"]

router = APIRouter(tags=["operations"])


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


@router.get("/healthz", include_in_schema=True, summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, audit trail, data folder and model",
            responses={503: {"description": "a check failed; each check says why"}})
def readyz(request: Request) -> JSONResponse:
    ok, checks = readiness(request.app.state)
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)
