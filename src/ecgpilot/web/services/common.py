"""What every service shares: the urgency levels, the refusals a service raises (mapped to RFC 9457 problems
and error pages by :mod:`ecgpilot.web.app`), the audit entry written in the change's transaction, and the
ISO dates of the API."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, Self, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import ECGPilotError, RecordError
from ecgpilot.store.models import User

__all__ = ["URGENCY_LEVELS", "DECISIONS", "UploadRejected", "NothingUploaded", "Invalid", "Conflict", "NotReady",
           "NotFound", "audit_event", "iso", "aware", "undone_on_refusal"]

P = ParamSpec("P")
R = TypeVar("R")

URGENCY_LEVELS = ("emergency", "repeat_now", "soon", "routine", "normal")   # most urgent first (interpret.LEVELS reversed)
DECISIONS = ("pending", "confirmed", "edited", "rejected")


class _Said(ECGPilotError):
    """A refusal with its words for the GP: ``str()`` is English (API, logs), :meth:`message` the user's language."""

    def __init__(self, message: str, *, fr: str | None = None) -> None:
        super().__init__(message)
        self.fr = fr

    @classmethod
    def said(cls, key: str, /, **fields: Any) -> Self:
        """The refusal ``web.refusal.<key>`` of the message catalogue, both languages formatted with ``fields``:
        the English text is ``str()`` (and the API's problem), the French one :meth:`message`. The English may
        use more of the fields than the French (the ids and states a GP's page leaves out)."""
        return cls(messages.text(f"web.refusal.{key}", "en", **fields), fr=messages.text(f"web.refusal.{key}", "fr", **fields))

    def message(self, lang: str = "fr") -> str:
        """What is wrong and what to do, in ``lang`` (French when given, else the English text)."""
        return self.fr if lang == "fr" and self.fr else str(self)


class UploadRejected(_Said):
    """An upload refused before storage (size, count, names): HTTP 413."""


class NothingUploaded(_Said, RecordError):
    """The upload held no file (or only empty ones): HTTP 422."""


class Invalid(_Said, RecordError):
    """A value the user gave cannot be accepted (HTTP 422), with its French words."""


class Conflict(_Said):
    """The action does not fit the study's state (e.g. signing with undecided statements): HTTP 409."""


def audit_event(db: Session, user: User, action: str, target: str, **fields: Any) -> None:
    """Append to the tamper-evident audit trail (:mod:`ecgpilot.audit`) inside the session's
    transaction, so the change and its entry are committed together. No patient identity."""
    from ecgpilot import audit

    audit.append(db.connection(), actor_id=str(user.id), actor_role=user.role, action=action, target=target, **fields)


class NotReady(Conflict):
    """Signing refused: statements (``pending``, their ids) or the urgency (``urgency_pending``) are undecided."""

    def __init__(self, message: str, pending: list[str], urgency_pending: bool) -> None:
        super().__init__(message)
        self.pending, self.urgency_pending = pending, urgency_pending


class NotFound(LookupError):
    """What was asked for does not exist, or not for this user (no existence leak): HTTP 404 (the page says
    the plain "not found" sentence; the API problem gives this message)."""


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset (SQLite gives back naive UTC datetimes)."""
    a = aware(dt)
    return None if a is None else a.astimezone(ZoneInfo("UTC")).isoformat()


def aware(dt: datetime | None, naive_tz: str = "UTC") -> datetime | None:
    """``dt`` with a time zone: a naive one is taken in ``naive_tz``."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=ZoneInfo(naive_tz))


def undone_on_refusal(service: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """A service (its session first) that leaves the session as of its last commit when it refuses or fails:
    whatever it changed is rolled back before the exception goes on, so the caller can show the page again
    from the stored state (with the refusal and what was typed)."""
    @functools.wraps(service)
    def undone(db: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(db, *args, **kwargs)
        except BaseException:
            db.rollback()
            raise

    return undone
