"""Pages of the pilot's evaluation: the protocol (admin: create, randomise, register; evaluator: read), the
evaluator's indicators with plots, and the GP's 30-day follow-up (due list, form) with a worklist reminder.

Routes only: the rules live in :mod:`ecgpilot.pilot.service` (each change audited there), reached through
:mod:`ecgpilot.web.services.pilot`. Texts: the catalogue's ``web.pilot`` section (:mod:`ecgpilot.messages`;
``pt(key, lang)`` in the templates).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.store.models import User
from ecgpilot.web import i18n
from ecgpilot.web.deps import checked_form, db_session, page_user, pseudonym_key, study_or_404
from ecgpilot.web.routes.views import render
from ecgpilot.web.services import pilot

__all__ = ["router", "install", "TEXT", "pt"]

router = APIRouter(include_in_schema=False)

#: ``{key: {"fr": …, "en": …}}``: a read-only view of the catalogue's ``web.pilot`` section.
TEXT = messages.Bilingual("web.pilot")


def pt(key: str, lang: str) -> str:
    """The pilot text ``key`` in ``lang`` (catalogue ``web.pilot.<key>``; like :func:`ecgpilot.web.i18n.t`, French
    when missing, the key itself when unknown, with a logged warning)."""
    return i18n.t(f"pilot.{key}", lang)


def install(app: FastAPI) -> None:
    """Register the pilot's pages on ``app``: its tables (created when absent), the template helpers
    (``pt``, ``pilot_due(user)`` for the worklist reminder) and the routes."""
    from ecgpilot.pilot import followup
    from ecgpilot.store.pilot import ensure_pilot_schema

    ensure_pilot_schema(app.state.engine)
    env = app.state.templates.env
    env.globals["pt"] = pt
    env.globals["pilot_diagnoses"] = followup.DIAGNOSES

    def pilot_due(user: User | None) -> int:
        if user is None or user.role != "gp":
            return 0
        with app.state.sessions() as db:
            return len(pilot.due_followups(db, user))

    env.globals["pilot_due"] = pilot_due
    app.include_router(router)


def _roles(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise HTTPException(403, f"role {user.role!r} has no access to this pilot page; it is for {', '.join(roles)}.")


def _int(form: Any, key: str) -> int:
    raw = str(form.get(key, "")).strip()
    if not raw.lstrip("-").isdigit():
        raise ConfigError(f"{key} {raw!r} is not a whole number.")
    return int(raw)


def _protocol_page(request: Request, db: Session, user: User, error: Exception | None = None) -> Response:
    return render(request, "pilot/protocol.html", {"user": user, "protocols": pilot.protocols(db),
                                                   "error": None if error is None else str(error)},
                  200 if error is None else 400)


@router.get("/pilot", response_class=HTMLResponse)
def protocol_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """Protocols, their hashes and allocations (evaluator, admin); the admin creates, randomises, registers."""
    _roles(user, "evaluator", "admin")
    return _protocol_page(request, db, user)


@router.post("/pilot/protocol")
async def protocol_save(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _roles(user, "admin")
    form = await checked_form(request)
    try:
        pilot.save_protocol(db, user, {
            "name": str(form.get("name", "")).strip(), "design": str(form.get("design", "")),
            "start_month": str(form.get("start_month", "")).strip(), "period_months": _int(form, "period_months"),
            "n_periods": _int(form, "n_periods"), "baseline_months": _int(form, "baseline_months")})
    except (ConfigError, RecordError) as exc:
        return _protocol_page(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


@router.post("/pilot/{protocol_id}/randomise")
async def protocol_randomise(protocol_id: int, request: Request, db: Session = Depends(db_session),
                             user: User = Depends(page_user)) -> Response:
    _roles(user, "admin")
    form = await checked_form(request)
    try:
        pilot.randomise(db, user, protocol_id, _int(form, "seed"))
    except (ConfigError, RecordError) as exc:
        return _protocol_page(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


@router.post("/pilot/{protocol_id}/register")
async def protocol_register(protocol_id: int, request: Request, db: Session = Depends(db_session),
                            user: User = Depends(page_user)) -> Response:
    _roles(user, "admin")
    await checked_form(request)
    try:
        pilot.register(db, user, protocol_id)
    except (ConfigError, RecordError) as exc:
        return _protocol_page(request, db, user, exc)
    return RedirectResponse("/pilot", status_code=303)


@router.get("/pilot/{protocol_id}/indicators", response_class=HTMLResponse)
def indicators_page(protocol_id: int, request: Request, db: Session = Depends(db_session),
                    user: User = Depends(page_user)) -> Response:
    """The evaluator's results: primary effect, indicators per arm with Wilson CIs, costs, plots (SVG inline)."""
    _roles(user, "evaluator")
    return render(request, "pilot/indicators.html", {"user": user, **pilot.indicators(db, protocol_id, pseudonym_key(request))})


@router.get("/pilot/followups", response_class=HTMLResponse)
def followups_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The GP's signed ECGs whose 30-day follow-up is due."""
    _roles(user, "gp")
    return render(request, "pilot/followups.html", {"user": user, "due": pilot.due_followups(db, user)})


def _followup_page(request: Request, db: Session, user: User, study_id: int, status_code: int = 200,
                   **extra: Any) -> Response:
    ctx = {"user": user, "study_id": study_id, "error": None, "saved": False, "f": pilot.followup_of(db, study_id), **extra}
    return render(request, "pilot/followup.html", ctx, status_code)


@router.get("/pilot/followup/{study_id}", response_class=HTMLResponse)
def followup_form(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _roles(user, "gp", "cardiologist")
    study_or_404(db, user, study_id)
    return _followup_page(request, db, user, study_id)


@router.post("/pilot/followup/{study_id}")
async def followup_save(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    _roles(user, "gp", "cardiologist")
    study_or_404(db, user, study_id)
    form = await checked_form(request)
    fields = ("referred", "referral_kind", "seen_on", "emergency", "hospitalised", "diagnosis", "diagnosis_text",
              "new_diagnosis", "treatment_changed")
    try:
        pilot.save_followup(db, study_id, user, {k: str(form.get(k) or "") for k in fields})
    except (ConfigError, RecordError) as exc:
        return _followup_page(request, db, user, study_id, 400, error=str(exc))
    return _followup_page(request, db, user, study_id, saved=True)
