"""Liveness and readiness probes for orchestrators and load balancers (no login, no patient data).

* ``GET /healthz``: the process answers (200 ``{"status": "ok"}``); nothing else is touched.
* ``GET /readyz``: the instance can serve: the database answers a query, the audit trail can be read
  (its head), the data folder is writable, and the classifier loads when the AI is on. 200 with each
  check ``"ok"``, or 503 naming each failing check and why; a probe never raises.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ecgpilot.web import api_models as out
from ecgpilot.web.services.health import readiness

__all__ = ["router"]

router = APIRouter(tags=["operations"], generate_unique_id_function=out.operation_id)


@router.get("/healthz", response_model=out.Health, summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, audit trail, data folder and model", response_model=out.Readiness,
            responses={503: {"model": out.Readiness, "description": "a check failed; each check says why"}})
def readyz(request: Request) -> JSONResponse:
    ok, checks = readiness(request.app.state)
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)
