"""Accounts: creation with argon2 password hashes, login check, API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot.errors import ConfigError
from ecgpilot.store.models import ROLES, ApiToken, Practice, User

__all__ = ["add_user", "authenticate", "create_api_token", "user_for_token", "hash_password"]

_HASHER = PasswordHasher()
MIN_PASSWORD = 10


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


def create_api_token(db: Session, user: User, label: str = "") -> str:
    """New bearer token for ``user``; only its hash is stored, the token is returned once."""
    token = "ecgp_" + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_sha256=_token_hash(token), label=label))
    db.flush()
    return token


def user_for_token(db: Session, token: str) -> User | None:
    """The owner of a bearer token, or ``None``."""
    row = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_hash(token)))
    return db.get(User, row.user_id) if row else None
