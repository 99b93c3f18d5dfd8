"""Server-rendered pages: login and logout, one's own password, the worklist and the upload form, the plain
list of API endpoints. The study pages are in :mod:`.study_pages`."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.models import User
from ecgpilot.web import i18n
from ecgpilot.web.deps import (
    begin_session,
    check_csrf,
    checked_form,
    data_dir,
    db_session,
    end_request_session,
    engine,
    lang_of,
    page_user,
    session_user,
    settings,
    upload_reader,
    upload_uses_ai,
)
from ecgpilot.web.routes.views import render
from ecgpilot.web.services import access, accounts, practice, studies, upload

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
    return render(request, "login.html", {"user": None, "error": error, "oidc": settings(request).oidc is not None},
                  status_code)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request, db: Session = Depends(db_session)) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", "")).strip().lower()
    client = request.client.host if request.client else ""   # the socket peer, or the declared proxies' X-Forwarded-For
    limiter = request.app.state.limiter
    wait = limiter.retry_after(email, client)
    if wait > 0:
        resp = _login_page(request, i18n.t("too_many", lang_of(request)), 429)
        resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return resp
    user = accounts.check_password(db, engine(request), email, str(form.get("password", "")), client)
    if user is None:
        limiter.record_failure(email, client)
        return _login_page(request, i18n.t("bad_login", lang_of(request)), 401)
    limiter.record_success(email, client)
    begin_session(request, user, accounts.log_in(db, user))
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, db: Session = Depends(db_session)) -> Response:
    await checked_form(request)
    accounts.log_out(db, session_user(request, db), request.session.get("sid"))
    end_request_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, user: User = Depends(page_user)) -> Response:
    return render(request, "password.html", {"user": user, "error": None, "done": None})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A user changes their own password (the current one asked again); their other login sessions are
    ended, this one stays; audited. Refusals are said on the page (422), nothing typed is sent back."""
    form = await checked_form(request)
    try:
        ended = accounts.change_password(db, user, str(form.get("current", "")), str(form.get("new", "")),
                                         str(form.get("again", "")), keep_sid=request.session.get("sid"),
                                         lang=lang_of(request))
    except RecordError as exc:
        return render(request, "password.html", {"user": user, "error": str(exc), "done": None}, 422)
    return render(request, "password.html", {"user": user, "error": None, "done": ended})


@router.get("/", response_class=HTMLResponse)
def worklist(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    raw = request.query_params.get("archived", "")
    size = max(1, int(settings(request).page_size))
    raw_page = request.query_params.get("page", "1")
    page_no = int(raw_page) if raw_page.isdigit() and int(raw_page) >= 1 else 1
    rows, total = studies.worklist(db, user, offset=(page_no - 1) * size, limit=size)
    pages = max(1, -(-total // size))
    return render(request, "worklist.html", {"user": user, "studies": rows, "token": None,
                                             "paging": {"page": page_no, "pages": pages, "total": total},
                                             "pseudo": access.access_of(user) == "pseudonymised",
                                             "archived": practice.archived_studies(db, user),
                                             "just_archived": int(raw) if raw.isdigit() else None})


@router.post("/upload")
async def upload_files(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    from ecgpilot.web.uploads import read_upload

    conf = settings(request)
    # the session was checked (page_user) before any byte of the body is read; then streamed within the limits
    fields, files = await read_upload(request, max_bytes=conf.max_upload_bytes, max_files=conf.max_upload_files)
    check_csrf(request, fields.get("csrf"))
    groups = upload.group_upload(files, max_bytes=conf.max_upload_bytes, max_files=conf.max_upload_files)
    del files
    # analysis is CPU work: in the bounded analysis pool, off the event loop, so other requests keep flowing
    made = [await upload.run_analysis(request.app.state.analysis_pool, upload.ingest, db, data_dir(request), user, g,
                                      lang=lang_of(request), use_ai=upload_uses_ai(request, user),
                                      reader=upload_reader(request)) for g in groups]
    target = f"/studies/{made[0].id}" if len(made) == 1 else "/"
    if len(made) == 1 and getattr(made[0], "uploaded_again", False):
        target += "?notice=duplicate"
    return RedirectResponse(target, status_code=303)


@router.get("/api/v1/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """A plain, offline list of the API's endpoints (from the OpenAPI document)."""
    return render(request, "api_docs.html", {"user": None, "spec": request.app.openapi()})
