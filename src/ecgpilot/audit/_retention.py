"""Retention: :func:`purge` of the oldest entries behind a (signed) checkpoint; see
:mod:`ecgpilot.audit`."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from ecgpilot.audit._chain import append
from ecgpilot.audit._tables import _now, audit_log, audit_seal
from ecgpilot.errors import ConfigError


def _signature(key: bytes, first: int, through: int, anchor: str) -> str:
    return hmac.new(key, f"{first}:{through}:{anchor}".encode(), hashlib.sha256).hexdigest()


def purge(
    engine: Engine,
    *,
    older_than_days: int,
    actor_id: str,
    actor_role: str = "admin",
    key: bytes | None = None,
    now: datetime | None = None,
) -> int:
    """Delete entries older than ``older_than_days`` and chain a (signed) checkpoint; return the count.

    Only a contiguous prefix of the chain is removed (checkpoints stay valid). The checkpoint is
    appended before the rows are deleted, in one transaction per step; a crash in between leaves the
    rows plus the checkpoint, which still verifies.
    """
    if older_than_days < 1:
        raise ConfigError(f"retention of {older_than_days} days is not accepted; give at least 1 (AI Act: keep ≥ 180 days).")
    now = now or _now()
    cutoff = (now - timedelta(days=older_than_days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.seq, audit_log.c.ts, audit_log.c.hash).order_by(audit_log.c.seq)).all()
    prefix = []
    for r in rows[:-1]:  # never purge the head: the chain needs an anchor
        if r.ts >= cutoff:
            break
        prefix.append(r)
    if not prefix:
        return 0
    first, through, anchor = prefix[0].seq, prefix[-1].seq, prefix[-1].hash
    details = {
        "purged_from_seq": first,
        "purged_through_seq": through,
        "anchor_hash": anchor,
        "count": len(prefix),
        "cutoff": cutoff,
        "retention_days": older_than_days,
    }
    if key is not None:
        details["signature"] = _signature(key, first, through, anchor)
    append(engine, actor_id=actor_id, actor_role=actor_role, action="checkpoint", details=details, when=now)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq <= through))
        conn.execute(delete(audit_seal).where(audit_seal.c.seq <= through))
    return len(prefix)
