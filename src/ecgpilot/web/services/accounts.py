"""Accounts: logging in and out (password or OIDC), one's own password, identifiers and API tokens, and the
admin's list of accounts. Each change is committed with its audit entry; a refused one changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.store.models import ApiToken, User
from ecgpilot.store.users import (
    MIN_PASSWORD,
    add_user,
    authenticate,
    change_own_password,
    create_api_token,
    end_session,
    list_api_tokens,
    revoke_api_token,
    start_session,
)
from ecgpilot.web import i18n
from ecgpilot.web.services.common import NotFound, audit_event

__all__ = ["check_password", "login_failed", "log_in", "oidc_account", "IdentityRefused", "log_out", "change_password", "new_token", "revoke_token", "tokens",
           "update_identifiers", "all_users", "create_account", "PASSWORD_ERRORS"]


def check_password(db: Session, engine: Engine, email: str, password: str, client: str | None) -> User | None:
    """The account of ``email`` when ``password`` is right; else ``None``, the failure in the audit trail
    (no identity: the client address only)."""
    user = authenticate(db, email, password)
    if user is None:
        login_failed(engine, {"client": client or None})
    return user


def login_failed(engine: Engine, details: Mapping[str, Any]) -> None:
    """A refused login in the audit trail (``details``: how and why, the client address; no identity)."""
    from ecgpilot import audit

    audit.append(engine, actor_id="anonymous", actor_role="none", action="login_failed", details=dict(details))


def log_in(db: Session, user: User, details: Mapping[str, Any] | None = None, *, linked_oidc: bool = False) -> str:
    """Start a server-side login session for ``user`` (audited, committed); its id for the cookie.
    ``linked_oidc``: the OIDC subject was just linked to the account (audited first)."""
    if linked_oidc:
        audit_event(db, user, "admin", f"user:{user.id}", details={"operation": "link_oidc_subject", "method": "oidc"})
    audit_event(db, user, "login", f"user:{user.id}", **({"details": dict(details)} if details else {}))
    sid = start_session(db, user)
    db.commit()
    return sid


class IdentityRefused(Exception):
    """An OIDC identity that maps to no account (``reason`` ``"unknown_identity"``) or to an account linked
    to another identity (``"linked_to_other_identity"``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def oidc_account(db: Session, subject: str, email_of: Callable[[], str | None]) -> tuple[User, bool]:
    """The existing account of an OIDC identity and whether it was just linked: first by
    ``User.oidc_subject``, else by the e-mail ``email_of()`` gives (asked only then), in which case the
    subject is linked to that account once (not committed: :func:`log_in` does). No account is created:
    :class:`IdentityRefused` otherwise."""
    user = db.scalar(select(User).where(User.oidc_subject == subject))
    if user is not None:
        return user, False
    email = email_of()
    user = db.scalar(select(User).where(User.email == email)) if email else None
    if user is None:
        raise IdentityRefused("unknown_identity")
    if user.oidc_subject is not None:  # linked once, to someone else: never re-link silently
        raise IdentityRefused("linked_to_other_identity")
    user.oidc_subject = subject
    return user, True


def log_out(db: Session, user: User | None, sid: str | None) -> None:
    """End the login session ``sid`` (audited when its user is known); committed."""
    if user is not None:
        audit_event(db, user, "logout", f"user:{user.id}")
    if sid:
        end_session(db, sid, "logout")
    db.commit()


#: the store's refusals of a password change -> the key of the page's sentence (catalogue ``web.password_change``)
PASSWORD_ERRORS = {"the current password is wrong.": "wrong_current",
                   "the new password is the same as the current one.": "same_as_current"}


def change_password(db: Session, user: User, current: str, new: str, again: str, *, keep_sid: str | None,
                    lang: str = "fr") -> int:
    """Change one's own password (the current one asked again; the new one typed twice); the other login
    sessions end, ``keep_sid`` stays; audited, committed; how many sessions ended. Refusal:
    :class:`~ecgpilot.errors.RecordError` in ``lang``, nothing changed."""
    if new != again:
        raise RecordError(messages.text("web.password_change.differ", messages.lang_or_en(lang)))
    try:
        ended = change_own_password(db, user, current, new, keep_sid=keep_sid)
    except ConfigError as exc:
        db.rollback()
        key = PASSWORD_ERRORS.get(str(exc), "too_short")      # the store's third refusal: too short
        raise RecordError(messages.text(f"web.password_change.{key}", messages.lang_or_en(lang), n=len(new))) from None
    audit_event(db, user, "admin", f"user:{user.id}", details={"operation": "own_password_changed", "sessions_ended": ended})
    db.commit()
    return ended


def tokens(db: Session, user: User) -> list[ApiToken]:
    """The user's API tokens, oldest first (never the tokens themselves: their hashes only are kept)."""
    return list_api_tokens(db, user)


def new_token(db: Session, user: User, *, label: str, days: int, via: str) -> tuple[str, ApiToken]:
    """A new API token valid ``days`` days (audited, committed): (the token, shown once; its row)."""
    try:
        token = create_api_token(db, user, label=label, days=days)
    except ConfigError:
        db.rollback()
        raise
    row = list_api_tokens(db, user)[-1]
    audit_event(db, user, "settings", f"api_token:{row.id}", details={"kind": "create_api_token", "days": days, "via": via})
    db.commit()
    return token, row


def revoke_token(db: Session, user: User, token_id: int, *, via: str) -> ApiToken:
    """Revoke one of the user's API tokens at once (audited, committed); :class:`NotFound` when not theirs."""
    row = revoke_api_token(db, user, token_id)
    if row is None:
        raise NotFound(f"API token {token_id} not found among yours.")
    audit_event(db, user, "settings", f"api_token:{row.id}", details={"kind": "revoke_api_token", "via": via})
    db.commit()
    return row


def update_identifiers(db: Session, user: User, rpps: str | None, mssante_address: str | None) -> None:
    """Set the user's own RPPS and MSSanté address (checked by the caller: :mod:`.practice`); audited, committed."""
    before = {"rpps": user.rpps, "mssante_address": user.mssante_address}
    user.rpps, user.mssante_address = rpps, mssante_address
    audit_event(db, user, "settings", f"user:{user.id}",
                details={"changed": sorted(k for k, v in before.items() if v != getattr(user, k))})
    db.commit()


def all_users(db: Session) -> list[User]:
    """Every account, by practice then e-mail (the admin's list)."""
    return list(db.scalars(select(User).order_by(User.practice_id, User.email)))


def create_account(db: Session, admin: User, typed: Mapping[str, str], password: str, lang: str = "fr") -> User:
    """A new account from the admin's form (``email``, ``name``, ``role``, ``practice_id``, ``rpps``,
    ``mssante_address``; the admin's practice when none is chosen); audited, committed. Refusals:
    :class:`~ecgpilot.errors.RecordError` in ``lang``, nothing created."""
    from ecgpilot.store.models import Practice
    from ecgpilot.web.services import practice

    try:
        if len(password) < MIN_PASSWORD:
            raise RecordError(i18n.t("password_short", lang).format(n=len(password), min=MIN_PASSWORD))
        rpps = practice.check_rpps(typed["rpps"], lang)
        addr = practice.check_mssante(typed["mssante_address"], lang)
        raw = typed["practice_id"].strip()
        prac = db.get(Practice, int(raw)) if raw.isdigit() else admin.practice
        if prac is None:
            raise RecordError(i18n.t("practice_unknown", lang))
        new = add_user(db, typed["email"], password, name=typed["name"], role=typed["role"] or "gp", practice=prac.name)
    except (RecordError, ConfigError) as exc:
        db.rollback()
        msg = str(exc)
        if isinstance(exc, ConfigError) and "already exists" in msg:
            msg = i18n.t("email_taken", lang).format(email=typed["email"].strip().lower())
        elif isinstance(exc, ConfigError) and "not an e-mail" in msg:
            msg = i18n.t("email_bad", lang).format(email=typed["email"])
        raise RecordError(msg) from None
    new.rpps, new.mssante_address = rpps, addr
    audit_event(db, admin, "settings", f"user:{new.id}", details={"kind": "create_user", "role": new.role})
    db.commit()
    return new
