"""``LoginFailure``: one failed login, counted per account and per client IP by
:class:`ecgpilot.security.ratelimit.LoginThrottle` when it is given the app's database (shared by every
worker process). Rows older than the throttle's window are deleted whenever a new failure comes in (the table
holds one window of failures); a successful login deletes its account's rows. ``at`` is wall-clock seconds since the epoch (comparable across processes).
"""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecgpilot.store.models import Base

__all__ = ["LoginFailure", "KINDS"]

KINDS = ("account", "ip")


class LoginFailure(Base):
    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_kind_key_at", "kind", "key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))     # account | ip
    key: Mapped[str] = mapped_column(String(320))     # the e-mail as typed (lower-cased) or the client IP
    at: Mapped[float] = mapped_column(Float)          # time.time() of the failure
