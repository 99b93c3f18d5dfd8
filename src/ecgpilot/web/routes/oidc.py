"""Optional OpenID Connect login (e.g. Pro Santé Connect), on top of :mod:`ecgpilot.security.oidc`.

* ``GET /login/oidc`` starts the flow: the provider is discovered once (cached on ``app.state``), a
  fresh authorization request (state, nonce, PKCE verifier) is kept server-side, and the browser is
  sent (303) to the provider.
* ``GET /auth/callback`` completes it and maps the identity to an **existing** account: first by
  ``User.oidc_subject == sub``; else by the ``email`` claim (ID token, or userinfo when the ID token
  has none) equal to an account's e-mail, in which case the subject is linked to that account once
  (audited). There is no automatic account creation: an unknown identity gets a 403 page.

The pending request stays in this process's memory (10 minutes, one use); the browser only holds a
random handle to it, in a ``SameSite=Lax`` cookie restricted to the callback path. Lax is needed
because the session cookie is ``SameSite=Strict`` and so is not sent on the provider's cross-site
redirect back. For the same reason a successful login answers with a small page that moves on to
the worklist from this site (a cross-site redirect chain would not carry the new session cookie).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from sqlalchemy.orm import Session

from ecgpilot.errors import AuthenticationError, ConfigError
from ecgpilot.security.oidc import (
    AuthRequest,
    JWKSCache,
    OIDCConfig,
    authorization_request,
    complete_login,
    discover,
    fetch_userinfo,
)
from ecgpilot.store.models import User
from ecgpilot.web import i18n
from ecgpilot.web.deps import begin_session, db_session, engine, lang_of
from ecgpilot.web.services import accounts

__all__ = ["router", "PendingLogins", "PENDING_COOKIE", "PENDING_TTL_S"]

router = APIRouter(include_in_schema=False)
log = logging.getLogger("ecgpilot.web.oidc")

PENDING_COOKIE = "ecgpilot_oidc"
PENDING_TTL_S = 600.0
CALLBACK_PATH = "/auth/callback"
_STATE_LOCK = threading.Lock()
_T = TypeVar("_T")


class _Failure(Exception):
    """A refused OIDC login: HTTP status, the message shown, a short reason for the audit trail."""

    def __init__(self, status: int, message: str, reason: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.reason, self.extra = status, message, reason, extra or {}


class PendingLogins:
    """Authorization requests waiting for their callback, by random handle (one use, ``ttl_s`` seconds)."""

    def __init__(self, ttl_s: float = PENDING_TTL_S, max_pending: int = 10_000) -> None:
        self.ttl_s, self.max_pending = ttl_s, max_pending
        self._items: dict[str, tuple[AuthRequest, float]] = {}
        self._lock = threading.Lock()

    def put(self, req: AuthRequest, now: float | None = None) -> str:
        """Keep ``req``; return the handle to give the browser."""
        now = time.monotonic() if now is None else now
        handle = secrets.token_urlsafe(32)
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            if len(self._items) >= self.max_pending:  # drop the oldest rather than grow without bound
                del self._items[min(self._items, key=lambda k: self._items[k][1])]
            self._items[handle] = (req, now + self.ttl_s)
        return handle

    def pop(self, handle: str | None, now: float | None = None) -> AuthRequest | None:
        """The request for ``handle`` (removed), or ``None`` if unknown or expired."""
        if not handle:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            item = self._items.pop(handle, None)
        return item[0] if item is not None and item[1] > now else None


def _config(request: Request) -> OIDCConfig:
    cfg = request.app.state.settings.oidc
    if cfg is None:
        raise _Failure(404, i18n.t("oidc_off", _lang(request)), "not_configured")
    return cfg


def _on_state(request: Request, name: str, make: Callable[[], _T]) -> _T:
    """The object ``app.state.<name>``, made by ``make`` on first use (under the state lock)."""
    with _STATE_LOCK:
        obj = getattr(request.app.state, name, None)
        if obj is None:
            obj = make()
            setattr(request.app.state, name, obj)
    return cast(_T, obj)


def _pending(request: Request) -> PendingLogins:
    return _on_state(request, "oidc_pending", PendingLogins)


def _jwks_cache(request: Request) -> JWKSCache:
    """The provider's signing keys, kept on ``app.state`` for an hour (refetched on an unknown key id)."""
    return _on_state(request, "oidc_jwks", JWKSCache)


def _metadata(request: Request, cfg: OIDCConfig) -> dict[str, Any]:
    """The provider metadata, discovered on first use and kept on ``app.state`` (not cached on failure)."""
    meta = getattr(request.app.state, "oidc_metadata", None)
    if meta is None:
        try:
            meta = discover(cfg)
        except ConfigError as exc:
            log.warning("OIDC discovery failed: %s", exc)
            raise _Failure(502, f"{i18n.t('oidc_unreachable', _lang(request))} ({exc})", "provider_unreachable") from None
        request.app.state.oidc_metadata = meta
    return meta


def _lang(request: Request) -> str:
    return lang_of(request)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _fail(request: Request, failure: _Failure) -> Response:
    """Audit a refused login (no identity data) and answer with the error page."""
    if failure.reason != "not_configured":  # a stray visit when OIDC is off is no login attempt
        details: dict[str, Any] = {"method": "oidc", "reason": failure.reason, "client": _client(request)}
        accounts.login_failed(engine(request), details | failure.extra)
    resp = request.app.state.templates.TemplateResponse(
        request, "error.html", {"lang": _lang(request), "status": failure.status, "message": failure.message,
                                "user": None, "csrf": ""}, status_code=failure.status)
    resp.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return resp


@router.get("/login/oidc")
def oidc_start(request: Request) -> Response:
    """Start an OIDC login: remember a fresh authorization request, redirect (303) to the provider."""
    try:
        cfg = _config(request)
        req = authorization_request(cfg, _metadata(request, cfg))
    except _Failure as failure:
        return _fail(request, failure)
    handle = _pending(request).put(req)
    resp = RedirectResponse(req.url, status_code=303)
    resp.set_cookie(PENDING_COOKIE, handle, max_age=int(PENDING_TTL_S), path=CALLBACK_PATH, httponly=True,
                    samesite="lax", secure=request.app.state.settings.secure_cookies)
    return resp


def _provider_error_code(value: str) -> str:
    """The provider's ``error`` parameter, reduced to a safe short token for the audit trail."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", value)[:64] or "unspecified"


def _claims(request: Request, cfg: OIDCConfig) -> dict[str, Any]:
    """Validated ID token claims for this callback, or a :class:`_Failure`."""
    lang = _lang(request)
    params = dict(request.query_params)
    pending = _pending(request).pop(request.cookies.get(PENDING_COOKIE))
    if "error" in params:
        code = _provider_error_code(params["error"])
        desc = params.get("error_description", "")[:200]
        raise _Failure(401, f"{i18n.t('oidc_refused', lang)} ({code}{': ' + desc if desc else ''})", "provider_error",
                       {"error": code})
    if pending is None:
        raise _Failure(401, i18n.t("oidc_expired", lang), "no_pending_login")
    meta = _metadata(request, cfg)
    try:
        return complete_login(cfg, meta, params, pending, jwks_cache=_jwks_cache(request))
    except AuthenticationError as exc:
        if isinstance(exc.__context__, httpx.HTTPError):  # the provider's token/JWKS endpoint could not be used
            log.warning("OIDC provider unreachable at callback: %s", exc)
            raise _Failure(502, f"{i18n.t('oidc_unreachable', lang)} ({exc})", "provider_unreachable") from None
        log.info("OIDC login refused: %s", exc)
        raise _Failure(401, f"{i18n.t('oidc_failed', lang)} ({exc})", "invalid_response") from None


def _email_of(cfg: OIDCConfig, request: Request, claims: dict[str, Any]) -> str | None:
    """The identity's e-mail: the ID token's, else userinfo's (same ``sub`` only); ``None`` if unverified/absent."""
    info: dict[str, Any] = claims
    if not claims.get("email") and claims.get("_access_token"):
        meta = _metadata(request, cfg)
        if meta.get("userinfo_endpoint"):
            try:
                got = fetch_userinfo(cfg, meta, claims["_access_token"])
            except (AuthenticationError, ConfigError, ValueError) as exc:
                log.warning("OIDC userinfo not available: %s", exc)
                got = {}
            if isinstance(got, dict) and got.get("sub") == claims["sub"]:
                info = got
    email = info.get("email")
    if not isinstance(email, str) or not email.strip() or info.get("email_verified") is False:
        return None
    return email.strip().lower()


_REFUSAL_TEXT = {"unknown_identity": "oidc_unknown", "linked_to_other_identity": "oidc_linked_elsewhere"}


def _account(db: Session, request: Request, cfg: OIDCConfig, claims: dict[str, Any]) -> tuple[User, bool]:
    """The existing account of this identity and whether it was just linked; else a :class:`_Failure`."""
    try:
        return accounts.oidc_account(db, str(claims["sub"]), lambda: _email_of(cfg, request, claims))
    except accounts.IdentityRefused as refused:
        raise _Failure(403, i18n.t(_REFUSAL_TEXT[refused.reason], _lang(request)), refused.reason) from None


def _continue_page(request: Request) -> HTMLResponse:
    """A same-site step to the worklist, so the browser sends the new (SameSite=Strict) session cookie."""
    lang = _lang(request)
    text = escape(i18n.t("oidc_continue", lang))
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url=/"><title>ecgpilot</title></head>'
            f'<body><p><a href="/" id="continue">{text}</a></p></body></html>')
    return HTMLResponse(html)


@router.get(CALLBACK_PATH)
def oidc_callback(request: Request, db: Session = Depends(db_session)) -> Response:
    """Finish an OIDC login on the provider's redirect; log the matching account in."""
    try:
        cfg = _config(request)
        claims = _claims(request, cfg)
        user, linked = _account(db, request, cfg, claims)
    except _Failure as failure:
        return _fail(request, failure)
    begin_session(request, user, accounts.log_in(db, user, {"method": "oidc"}, linked_oidc=linked))
    resp = _continue_page(request)
    resp.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return resp
