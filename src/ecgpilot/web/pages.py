"""Server-rendered pages: login, worklist + upload, study (tracing, AI proposal, decisions, signing)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ecgpilot.render.matrix import MATRIX_COLUMNS, matrix_rows
from ecgpilot.store import add_user, authenticate, create_api_token
from ecgpilot.store.models import ROLES, Practice, StudyEvent, User
from ecgpilot.web import i18n, services
from ecgpilot.web.app import (
    LoginRequired,
    ai_allowed,
    data_dir,
    db_session,
    session_user,
    study_or_404,
)
from ecgpilot.web.ins import INS_STATUSES

__all__ = ["router", "lang_of", "require_role"]

router = APIRouter(include_in_schema=False)


def lang_of(request: Request) -> str:
    """Interface language for this request."""
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get("lang"),
                          request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return tok


async def checked_form(request: Request) -> dict[str, Any]:
    """The POSTed form, after checking its CSRF token against the session's."""
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return form  # type: ignore[return-value]


def check_csrf(request: Request, sent: object) -> None:
    """Refuse unless the session has a token and ``sent`` is exactly it (an empty or missing
    token never matches, even in a session that has none yet)."""
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and expected and isinstance(sent, str) and sent
            and secrets.compare_digest(sent.encode(), expected.encode())):
        raise HTTPException(403, "invalid or missing CSRF token; reload the page and try again.")


def page_user(request: Request, db: Session = Depends(db_session)) -> User:
    user = session_user(request, db)
    if user is None:
        raise LoginRequired()
    return user


def _unread(request: Request, user: User | None) -> list[Any]:
    if user is None:
        return []
    from ecgpilot.web import care

    with request.app.state.sessions() as db:
        return care.notifications(db, user)


def render(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Response:
    lang = lang_of(request)
    ctx = {"unread": _unread(request, ctx.get("user")), **ctx}
    resp = request.app.state.templates.TemplateResponse(
        request, name, {"lang": lang, "csrf": csrf_token(request), **ctx}, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGS:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", {"user": None, "error": None, "oidc": request.app.state.settings.oidc is not None})


@router.post("/login")
async def login(request: Request, db: Session = Depends(db_session)) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", "")).strip().lower()
    key = f"{email}|{request.client.host if request.client else ''}"
    limiter = request.app.state.limiter
    lang = lang_of(request)
    if limiter.blocked(key):
        return render(request, "login.html", {"user": None, "error": i18n.t("too_many", lang),
                                               "oidc": request.app.state.settings.oidc is not None}, 429)
    user = authenticate(db, email, str(form.get("password", "")))
    if user is None:
        limiter.failed(key)
        from ecgpilot import audit

        audit.append(request.app.state.engine, actor_id="anonymous", actor_role="none", action="login_failed",
                     details={"client": request.client.host if request.client else None})
        return render(request, "login.html", {"user": None, "error": i18n.t("bad_login", lang),
                                               "oidc": request.app.state.settings.oidc is not None}, 401)
    limiter.reset(key)
    services.audit_event(db, user, "login", f"user:{user.id}")
    db.commit()
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def worklist(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    return render(request, "worklist.html", {"user": user, "studies": services.list_studies(db, user), "token": None,
                                             "pseudo": services.access_of(user) == "pseudonymised"})


@router.post("/upload")
async def upload(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    settings = request.app.state.settings
    async with request.form(max_files=20, max_part_size=settings.max_upload_bytes + 1) as form:
        check_csrf(request, form.get("csrf"))
        files = [(f.filename or "", await f.read()) for f in form.getlist("files") if hasattr(f, "read")]
    files = [(n, c) for n, c in files if n or c]
    groups = services.group_upload(files, max_bytes=settings.max_upload_bytes)
    # analysis is CPU work: run it off the event loop so other requests (and responses) keep flowing
    studies = [await run_in_threadpool(services.ingest, db, data_dir(request), user, g, lang=lang_of(request),
                                       use_ai=ai_allowed(request)) for g in groups]
    target = f"/studies/{studies[0].id}" if len(studies) == 1 else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/account/token", response_class=HTMLResponse)
async def new_token(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    token = create_api_token(db, user, label="web")
    db.commit()
    return render(request, "worklist.html", {"user": user, "studies": services.list_studies(db, user), "token": token,
                                             "pseudo": services.access_of(user) == "pseudonymised"})


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    record = services.study_record(data_dir(request), study)
    svg = (services.tracing_svg(record, study.analysis, reading=study.interpretation, lang=lang_of(request))
           if record is not None else None)
    reps = services.reports(db, study)
    services.audit_event(db, user, "view", f"study:{study.id}", input_sha256=study.file_sha256,
                         model_version=study.model_version, rules_version=study.rules_version)
    db.commit()
    from ecgpilot.web import care

    care.mark_read(db, user, study.id)
    signers = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_([r.signed_by for r in reps] or [0])))}
    events = list(db.scalars(select(StudyEvent).where(StudyEvent.study_id == study.id).order_by(StudyEvent.id)))
    opinions = care.opinions_of_study(db, study)
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_([o.cardiologist_id for o in opinions] or [0])))}
    return render(request, "study.html", {
        "pseudo": services.access_of(user) == "pseudonymised", "opinions": opinions, "people": people,
        "cardiologists": [c for c in care.cardiologists(db) if c.id != user.id],
        "dispatches": care.dispatches(db, request.app.state.engine, study),
        "user": user, "study": study, "svg": svg, "reports": reps, "signers": signers, "events": events,
        "ins_statuses": INS_STATUSES, "analysis": study.analysis or {}, "draft": study.draft or {"statements": [], "urgency": {}},
        "matrix": matrix_rows(study.analysis, study.interpretation), "matrix_columns": MATRIX_COLUMNS,
        "reading": {s["id"]: s for s in (study.interpretation or {}).get("statements", [])},
        "ai_only": [s for s in (study.interpretation or {}).get("statements", []) if s.get("status") == "ai_only"],
        "also_considered": (study.interpretation or {}).get("also_considered", []),
    })


@router.post("/studies/{study_id}/draft")
async def save_draft(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    changes = []
    for s in (study.draft or {}).get("statements", []):
        decision = form.get(f"decision_{s['id']}")
        if decision:
            changes.append({"id": s["id"], "decision": decision, "text": form.get(f"text_{s['id']}")})
    services.update_draft(db, user, study, changes, [str(form.get("new_statement", ""))], str(form.get("urgency") or "") or None)
    if form.get("then_sign"):
        services.sign(db, user, study)
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/studies/{study_id}/identity")
async def save_identity(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    keys = ("family_name", "given_names", "birth_date", "sex", "ins", "ins_status")
    services.update_identity(db, user, study, {k: str(form.get(k, "")) for k in keys})
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/studies/{study_id}/sign")
async def sign(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    services.sign(db, user, study_or_404(db, user, study_id))
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/studies/{study_id}/amend")
async def amend(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    services.amend(db, user, study_or_404(db, user, study_id))
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.get("/studies/{study_id}/report.pdf")
def pdf(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    services.require_identified_access(user)
    data = services.pdf_bytes(db, data_dir(request), study, lang=lang_of(request), version=version)
    services.audit_event(db, user, "export", f"study:{study.id}", details={"format": "pdf", "version": version})
    db.commit()
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="ecg-{study.id}.pdf"'})


def require_role(user: User, role: str, refusal: str) -> User:
    """``user`` when it has ``role``; else 403 "role '<role>' <refusal>"."""
    if user.role != role:
        raise HTTPException(403, f"role {user.role!r} {refusal}")
    return user


def _admin(user: User) -> User:
    return require_role(user, "admin", "cannot manage accounts; ask your practice's admin.")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _admin(user)
    users = list(db.scalars(select(User).where(User.practice_id == user.practice_id).order_by(User.email)))
    return render(request, "users.html", {"user": user, "users": users, "roles": ROLES, "created": None})


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    _admin(user)
    practice = db.get(Practice, user.practice_id)
    new = add_user(db, str(form.get("email", "")), str(form.get("password", "")), name=str(form.get("name", "")),
                   role=str(form.get("role", "gp")), practice=practice.name)
    db.commit()
    users = list(db.scalars(select(User).where(User.practice_id == user.practice_id).order_by(User.email)))
    return render(request, "users.html", {"user": user, "users": users, "roles": ROLES, "created": new.email})


@router.get("/api/v1/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """A plain, offline list of the API's endpoints (from the OpenAPI document)."""
    spec = request.app.openapi()
    return render(request, "api_docs.html", {"user": None, "spec": spec})


