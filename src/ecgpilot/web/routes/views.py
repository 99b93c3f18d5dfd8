"""What the page routes share: rendering a template in the user's language (with the CSRF token and the
unread notices), a refusal said in the user's words, and the mail notice of a tele-expertise step."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ecgpilot.store.models import User
from ecgpilot.web import i18n
from ecgpilot.web.deps import csrf_token, engine, lang_of, settings
from ecgpilot.web.services import care

__all__ = ["render", "said", "queue_notice"]


def _unread(request: Request, user: User | None) -> list[Any]:
    if user is None:
        return []
    with request.app.state.sessions() as db:
        return care.notifications(db, user)


def render(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Response:
    """The template ``name`` with ``ctx``, the language, the CSRF token and the user's unread notices; a
    ``?lang=`` choice is kept in a cookie."""
    lang = lang_of(request)
    ctx = {"unread": _unread(request, ctx.get("user")), **ctx}
    resp: Response = request.app.state.templates.TemplateResponse(
        request, name, {"lang": lang, "csrf": csrf_token(request), **ctx}, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGS:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict", httponly=True,
                        secure=bool(request.app.state.settings.secure_cookies))
    return resp


def said(exc: Exception, lang: str) -> str:
    """A refusal in ``lang`` when it has its own words (``message(lang)``), else its text."""
    words = getattr(exc, "message", None)
    return str(words(lang)) if callable(words) else str(exc)


def queue_notice(request: Request, recipient: User, kind: str, link_path: str) -> None:
    """Mail a notice (no patient data) to ``recipient`` through the outbox when mail is configured."""
    conf = settings(request)
    sender = getattr(conf, "notice_sender", None)
    if getattr(conf, "smtp", None) is None or not sender:
        return
    base = (getattr(conf, "base_url", None) or str(request.base_url)).rstrip("/")
    care.queue_notice(engine(request), sender, recipient, kind, base + link_path)
