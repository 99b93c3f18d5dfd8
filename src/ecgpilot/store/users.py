"""Accounts: creation with argon2 password hashes, login check, password change, login sessions, API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecgpilot.errors import ConfigError
from ecgpilot.store.models import ROLES, ApiToken, LoginSession, Practice, User, utcnow

__all__ = ["add_user", "authenticate", "create_api_token", "user_for_token", "hash_password", "set_password",
           "start_session", "session_owner", "end_session", "end_user_sessions", "list_api_tokens",
           "revoke_api_token", "change_own_password", "DEFAULT_TOKEN_DAYS", "MAX_TOKEN_DAYS"]

_HASHER = PasswordHasher()
MIN_PASSWORD = 10
DEFAULT_TOKEN_DAYS = 180   # an API token's lifetime unless asked otherwise
MAX_TOKEN_DAYS = 365       # and the longest one can be asked


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _HASHER.hash(password)


def add_user(db: Session, email: str, password: str, *, name: str = "", role: str = "gp",
             practice: str = "Cabinet") -> User:
    """Create a user (and its practice if new); the caller commits.

    Raises :class:`ConfigError` for an unknown role, a short password or a taken e-mail.
    """
    email = email.strip().lower()
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if "@" not in email:
        raise ConfigError(f"{email!r} is not an e-mail address.")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password too short ({len(password)} characters); use at least {MIN_PASSWORD}.")
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise ConfigError(f"a user with e-mail {email!r} already exists.")
    prac = db.scalar(select(Practice).where(Practice.name == practice))
    if prac is None:
        prac = Practice(name=practice)
        db.add(prac)
        db.flush()
    user = User(email=email, name=name or email, role=role, password_hash=hash_password(password),
                practice_id=prac.id)
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The user when ``password`` matches, else ``None`` (same cost either way)."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        try:
            _HASHER.verify(_dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("not-a-real-password")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(db: Session, user: User, label: str = "", days: int = DEFAULT_TOKEN_DAYS) -> str:
    """New bearer token for ``user``, valid ``days`` days (1 to :data:`MAX_TOKEN_DAYS`); only its hash is
    stored, the token is returned once (its row is the last one :func:`list_api_tokens` gives). Raises
    :class:`ConfigError` for a lifetime out of range."""
    if not (isinstance(days, int) and 1 <= days <= MAX_TOKEN_DAYS):
        raise ConfigError(f"token lifetime {days!r} days is out of range; give 1 to {MAX_TOKEN_DAYS} days.")
    token = "ecgp_" + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_sha256=_token_hash(token), label=label.strip()[:200],
                    expires_at=utcnow() + timedelta(days=days)))
    db.flush()
    return token


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is None or _aware(row.expires_at) <= now:
        return "expired"
    return "active"


def user_for_token(db: Session, token: str, now: datetime | None = None) -> User | None:
    """The owner of an active (neither expired nor revoked) bearer token, or ``None``; its last use is
    recorded (at most once a minute); the caller commits."""
    now = now or utcnow()
    row = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_hash(token))) if token else None
    if row is None or token_state(row, now) != "active":
        return None
    if row.last_used_at is None or (now - _aware(row.last_used_at)).total_seconds() >= 60:
        row.last_used_at = now
    return db.get(User, row.user_id)


def list_api_tokens(db: Session, user: User) -> list[ApiToken]:
    """``user``'s tokens, oldest first (hashes only; the tokens themselves are never kept)."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_api_token(db: Session, user: User, token_id: int) -> ApiToken | None:
    """Revoke ``user``'s token ``token_id`` (``None`` when they have no such token; revoking a revoked
    one changes nothing); the caller commits."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row

def set_password(db: Session, user: User, password: str) -> None:
    """Change ``user``'s password and end every login session of theirs; the caller commits.

    Raises :class:`ConfigError` for a short password.
    """
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password too short ({len(password)} characters); use at least {MIN_PASSWORD}.")
    user.password_hash = hash_password(password)
    end_user_sessions(db, user.id, "password_changed")


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)   # SQLite gives naive UTC


def start_session(db: Session, user: User) -> str:
    """A new login session for ``user``; returns its id (for the signed cookie; only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    db.add(LoginSession(user_id=user.id, sid_sha256=_token_hash(sid)))
    db.flush()
    return sid


def session_owner(db: Session, sid: str, *, idle_s: float, absolute_s: float,
                  now: datetime | None = None) -> User | None:
    """The user of a live session ``sid``, else ``None``.

    A session is live when it has not been ended (logout, password change) and is younger than
    ``absolute_s`` and was last used less than ``idle_s`` ago; one found past a timeout is ended
    here. Its last use is recorded (at most every ``idle_s / 10`` seconds, to spare the database);
    the caller commits.
    """
    if not sid:
        return None
    now = now or utcnow()
    row = db.scalar(select(LoginSession).where(LoginSession.sid_sha256 == _token_hash(sid)))
    if row is None or row.ended_at is not None:
        return None
    age = (now - _aware(row.created_at)).total_seconds()
    idle = (now - _aware(row.last_seen_at)).total_seconds()
    if age >= absolute_s or idle >= idle_s:
        row.ended_at, row.end_reason = now, ("absolute_timeout" if age >= absolute_s else "idle_timeout")
        return None
    if idle >= min(60.0, idle_s / 10):
        row.last_seen_at = now
    return db.get(User, row.user_id)


def end_session(db: Session, sid: str, reason: str = "logout") -> bool:
    """End the session ``sid`` (True when it was live); the caller commits."""
    row = db.scalar(select(LoginSession).where(LoginSession.sid_sha256 == _token_hash(sid))) if sid else None
    if row is None or row.ended_at is not None:
        return False
    row.ended_at, row.end_reason = utcnow(), reason
    return True


def end_user_sessions(db: Session, user_id: int, reason: str, *, keep_sid: str | None = None) -> int:
    """End every live session of ``user_id`` (but ``keep_sid``'s, when given: the one making the change);
    returns how many; the caller commits."""
    q = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
    if keep_sid:
        q = q.where(LoginSession.sid_sha256 != _token_hash(keep_sid))
    res = db.execute(q.values(ended_at=utcnow(), end_reason=reason))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def change_own_password(db: Session, user: User, current: str, new: str, *, keep_sid: str | None) -> int:
    """A user changing their own password: the current one must be right (:class:`ConfigError` otherwise),
    the new one long enough and different; their other sessions are ended (returns how many), the one
    of ``keep_sid`` stays. The caller commits."""
    try:
        _HASHER.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ConfigError("the current password is wrong.") from None
    if len(new) < MIN_PASSWORD:
        raise ConfigError(f"password too short ({len(new)} characters); use at least {MIN_PASSWORD}.")
    if new == current:
        raise ConfigError("the new password is the same as the current one.")
    user.password_hash = hash_password(new)
    return end_user_sessions(db, user.id, "password_changed", keep_sid=keep_sid)
