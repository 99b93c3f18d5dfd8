"""Request-level dependencies of the routes: the database session, who is asking (login cookie or bearer
token), access to a study or an opinion request, the CSRF-checked form, role checks, the language, and
the accessors of what :func:`ecgpilot.web.app.create_app` keeps on ``app.state``.

Routes import this module; :mod:`ecgpilot.web.services` never does (services know nothing of HTTP).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot.store.models import OpinionRequest, Study, User
from ecgpilot.web import i18n
from ecgpilot.web.services import care, studies

__all__ = [
    "LoginRequired", "db_session", "session_user", "page_user", "api_user", "begin_session", "end_request_session",
    "study_or_404", "opinion_or_404", "lang_of", "csrf_token", "check_csrf", "checked_form", "require_role",
    "ai_allowed", "ai_allowed_for", "upload_uses_ai", "upload_reader", "data_dir", "engine", "settings", "pseudonym_key",
]


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is logged in (handled as a redirect to ``/login``)."""


# ------------------------------------------------------------------ app.state -------

def settings(request: Request) -> Any:
    """The app's :class:`~ecgpilot.web.settings.Settings`."""
    return request.app.state.settings


def engine(request: Request) -> Engine:
    """The app's database engine (the audit trail and the outbox live there too)."""
    return request.app.state.engine  # type: ignore[no-any-return]


def data_dir(request: Request) -> Path:
    """The instance's data folder (file store, frozen documents)."""
    return Path(request.app.state.settings.data_dir)


def upload_reader(request: Request) -> Callable[[Path], Any] | None:
    """How uploads are read: the app's reader pool (a time limit per file), or ``None`` (in the thread)."""
    pool = getattr(request.app.state, "reader_pool", None)
    return pool.read if pool is not None else None


def pseudonym_key(request: Request) -> bytes:
    """Key of the evaluator's pseudonyms, derived from the app's secret key."""
    secret = request.app.state.settings.secret_key
    if not secret:  # no configured key: a random one for this process (pseudonyms change at restart)
        if getattr(request.app.state, "pseudonym_secret", None) is None:
            request.app.state.pseudonym_secret = secrets.token_hex(32)
        secret = request.app.state.pseudonym_secret
    return hashlib.sha256(f"ecgpilot-pseudonyms:{secret}".encode()).digest()


def ai_allowed(request: Request, user: User | None = None) -> bool:
    """AI reading on: the setting and the stop switches (:func:`ecgpilot.audit.ai_enabled`): the
    instance's, and the practice's of ``user`` when given."""
    from ecgpilot import audit

    return bool(request.app.state.settings.use_ai) and audit.ai_enabled(
        request.app.state.engine, practice_id=user.practice_id if user is not None else None)


def ai_allowed_for(request: Request, user: User, when: date | None = None) -> bool:
    """Whether the AI reading runs for ``user``'s upload: :func:`ai_allowed` (the setting, the instance's and
    the practice's stop switches) first, then the registered pilot protocol of the user's practice
    (:func:`ecgpilot.pilot.service.ai_on_for_practice`: off in the control arm, on in the AI arm, no say
    outside the pilot)."""
    from ecgpilot.web.services import pilot

    if not ai_allowed(request, user):
        return False
    with request.app.state.sessions() as db:
        return pilot.ai_on_for(db, user, when or date.today())


def upload_uses_ai(request: Request, user: User) -> bool:
    """Whether this user's upload today gets the AI reading (:func:`ai_allowed_for`)."""
    return ai_allowed_for(request, user)


# ------------------------------------------------------------------ session / user --

def db_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.sessions() as db:
        yield db


def session_user(request: Request, db: Session) -> User | None:
    """The logged-in user of the session cookie, if its server-side session is live
    (:func:`ecgpilot.store.users.session_owner`); a cookie of an ended session is cleared."""
    from ecgpilot.store.users import session_owner

    sid, uid = request.session.get("sid"), request.session.get("user_id")
    if not isinstance(sid, str) or not isinstance(uid, int):
        return None
    conf = request.app.state.settings
    user = session_owner(db, sid, idle_s=conf.session_idle_s, absolute_s=conf.session_max_age_s)
    db.commit()   # the last use, or the end by timeout
    if user is None or user.id != uid:
        request.session.clear()   # the cookie of an ended session is worth nothing (its CSRF token included)
        return None
    return user


def page_user(request: Request, db: Session = Depends(db_session)) -> User:
    """The logged-in user of a page; nobody logged in: :class:`LoginRequired` (a redirect to the login page)."""
    user = session_user(request, db)
    if user is None:
        raise LoginRequired()
    return user


BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="a personal API token: 'Authorization: Bearer <token>' (created on the web app's "
                                "account page or by POST /api/v1/tokens; it expires and can be revoked)")
"""The API's security scheme, declared in the OpenAPI document for every ``/api/v1`` operation."""


def api_user(db: Session = Depends(db_session),
             credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> User:
    """The owner of the ``Authorization: Bearer <token>`` header (401 otherwise)."""
    from ecgpilot.store import user_for_token

    token = credentials.credentials.strip() if credentials else ""
    user = user_for_token(db, token) if token else None
    if user is None:
        raise HTTPException(401, "missing, invalid, expired or revoked API token; send 'Authorization: Bearer <token>' "
                                 "(create one on the web app's account page).", headers={"WWW-Authenticate": "Bearer"})
    db.commit()   # the token's last use
    return user


def begin_session(request: Request, user: User, sid: str) -> None:
    """Log ``user`` in on this browser: the cookie carries the new server-side session ``sid``
    (:func:`ecgpilot.web.services.accounts.log_in`) and a fresh CSRF token."""
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["sid"] = sid
    request.session["csrf"] = secrets.token_urlsafe(32)


def end_request_session(request: Request) -> None:
    """Log out on this browser: clear the cookie (the server-side session is ended by
    :func:`ecgpilot.web.services.accounts.log_out`)."""
    request.session.clear()


def require_role(user: User, role: str, refusal: str) -> User:
    """``user`` when it has ``role``; else 403 "role '<role>' <refusal>"."""
    if user.role != role:
        raise HTTPException(403, f"role {user.role!r} {refusal}")
    return user


# ------------------------------------------------------------------ access ----------

def study_or_404(db: Session, user: User, study_id: int) -> Study:
    """The study if ``user`` may see it (:func:`ecgpilot.web.services.studies.get_study`), else HTTP 404."""
    study = studies.get_study(db, user, study_id)
    if study is None:
        raise HTTPException(404, f"study {study_id} not found in your practice.")
    return study


def opinion_or_404(db: Session, user: User, opinion_id: int) -> OpinionRequest:
    """The opinion request if ``user`` may see it (:func:`ecgpilot.web.services.care.get_opinion`), else HTTP 404."""
    req = care.get_opinion(db, user, opinion_id)
    if req is None:
        raise HTTPException(404, f"opinion request {opinion_id} not found among yours.")
    return req


# ------------------------------------------------------------------ language, forms -

def lang_of(request: Request) -> str:
    """Interface language for this request (``?lang=``, then the cookie, then ``Accept-Language``)."""
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get("lang"),
                          request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(tok)


def check_csrf(request: Request, sent: object) -> None:
    """Refuse unless the session has a token and ``sent`` is exactly it (an empty or missing
    token never matches, even in a session that has none yet)."""
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and expected and isinstance(sent, str) and sent
            and secrets.compare_digest(sent.encode(), expected.encode())):
        raise HTTPException(403, "invalid or missing CSRF token; reload the page and try again.")


async def checked_form(request: Request) -> dict[str, Any]:
    """The POSTed form, after checking its CSRF token against the session's."""
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return form  # type: ignore[return-value]
