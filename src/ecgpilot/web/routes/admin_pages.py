"""The admin's pages: accounts and practices (``/admin/users``), the practice's settings, AI switch and outbox
(``/admin/practice``). Every one refuses any other role (403)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.models import ROLES, User
from ecgpilot.web.deps import checked_form, db_session, engine, lang_of, page_user, require_role
from ecgpilot.web.routes.views import render
from ecgpilot.web.services import accounts, practice, sending

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _accounts_admin(user: User) -> User:
    return require_role(user, "admin", "cannot manage accounts; ask your practice's admin.")


def _practice_admin(user: User) -> User:
    return require_role(user, "admin", "cannot change the practice settings; ask your practice's admin.")


def _users_page(request: Request, db: Session, user: User, status_code: int = 200, **extra: Any) -> Response:
    ctx: dict[str, Any] = {"user": user, "users": accounts.all_users(db), "roles": ROLES,
                           "practices": practice.practices(db), "created": None, "error": None, "form": {}, "saved": None}
    ctx.update(extra)
    return render(request, "users.html", ctx, status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _accounts_admin(user)
    return _users_page(request, db, user)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A new account: name, e-mail, role, practice, RPPS, MSSanté address (checked; the form is kept on error)."""
    form = await checked_form(request)
    _accounts_admin(user)
    keys = ("email", "name", "role", "practice_id", "rpps", "mssante_address")
    typed = {k: str(form.get(k, "")) for k in keys}
    try:
        new = accounts.create_account(db, user, typed, str(form.get("password", "")), lang_of(request))
    except RecordError as exc:
        return _users_page(request, db, user, 422, error=str(exc), form=typed)
    return _users_page(request, db, user, created=new.email)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
async def edit_user_page(user_id: int, request: Request, db: Session = Depends(db_session),
                         user: User = Depends(page_user)) -> Response:
    """Change an account's name, role, practice, RPPS or MSSanté address."""
    form = await checked_form(request)
    _accounts_admin(user)
    keys: tuple[str, ...] = ("name", "role", "practice_id", "rpps", "mssante_address")
    fields = {k: str(form.get(k, "")) for k in keys if k in form}
    try:
        changed = practice.update_account(db, user, user_id, fields, lang_of(request))
    except RecordError as exc:
        return _users_page(request, db, user, 422, error=str(exc), edit_id=user_id, form=fields)
    return _users_page(request, db, user, saved=changed.email)


@router.post("/admin/practices", response_class=HTMLResponse)
async def add_practice_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    _accounts_admin(user)
    try:
        practice.create_practice(db, user, str(form.get("name", "")), lang_of(request))
    except RecordError as exc:
        return _users_page(request, db, user, 422, practice_error=str(exc), practice_form=str(form.get("name", "")))
    return RedirectResponse("/admin/users#practices", status_code=303)


@router.post("/admin/practices/{practice_id}", response_class=HTMLResponse)
async def rename_practice_page(practice_id: int, request: Request, db: Session = Depends(db_session),
                               user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    _accounts_admin(user)
    try:
        practice.rename_practice(db, user, practice_id, str(form.get("name", "")), lang_of(request))
    except RecordError as exc:
        return _users_page(request, db, user, 422, practice_error=str(exc))
    return RedirectResponse("/admin/users#practices", status_code=303)


@router.get("/admin/practice", response_class=HTMLResponse)
def practice_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _practice_admin(user)
    from ecgpilot.web.services.sending import patient_id_root

    return render(request, "practice.html", {"user": user, "practice": user.practice,
                                             "outbox": sending.practice_outbox(db, engine(request), user),
                                             "root": patient_id_root(user.practice), "saved": False,
                                             "ai_on": practice.ai_on(engine(request), user.practice_id)})


@router.post("/admin/practice", response_class=HTMLResponse)
async def save_practice(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    _practice_admin(user)
    practice.update_settings(db, user, str(form.get("org_id", "")), str(form.get("patient_id_root", "")),
                             str(form.get("mssante_address", "")))
    return RedirectResponse("/admin/practice", status_code=303)


@router.post("/admin/ai")
async def ai_switch(request: Request, user: User = Depends(page_user)) -> Response:
    """The AI stop switch (audited); the app keeps working for manual reading when it is off."""
    form = await checked_form(request)
    _practice_admin(user)
    practice.set_ai(engine(request), user, str(form.get("state", "")), str(form.get("reason", "")))
    return RedirectResponse("/admin/practice#ai", status_code=303)


@router.post("/admin/outbox/{outbox_id}/retry")
async def retry(outbox_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    _practice_admin(user)
    sending.retry_outbox(db, engine(request), user, outbox_id)
    return RedirectResponse("/admin/practice#outbox", status_code=303)
