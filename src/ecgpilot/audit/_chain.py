"""Appending to the hash chain (:func:`append`), sealed when the engine is protected; see
:mod:`ecgpilot.audit`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, false, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ecgpilot.audit._anchor import _GUARDS, _seal, write_anchor
from ecgpilot.audit._tables import (
    ACTIONS,
    GENESIS_HASH,
    _entry_hash,
    _now,
    audit_log,
    audit_seal,
    canonical_json,
    digest,
)
from ecgpilot.errors import ConfigError


_FORBIDDEN_KEYS = {
    "name", "patient_name", "family_name", "given_name", "given_names", "first_name", "last_name",
    "birth_name", "birth_date", "birthdate", "date_of_birth", "ins", "nir", "address", "phone", "email",
}


def _check_details(details: dict[str, Any], path: str = "details") -> None:
    for k, v in details.items():
        if k.lower() in _FORBIDDEN_KEYS:
            raise ConfigError(
                f"audit {path} key {k!r} looks like patient identity; the log must stay pseudonymous. "
                "Log a study id, or a pseudonymise()d value under another key."
            )
        if isinstance(v, dict):
            _check_details(v, f"{path}.{k}")


def append(
    engine: Engine | Connection,
    *,
    actor_id: str,
    actor_role: str,
    action: str,
    target: str | None = None,
    input_sha256: str | None = None,
    model_version: str | None = None,
    rules_version: str | None = None,
    outputs: Any = None,
    details: dict[str, Any] | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Append one entry and return it (with ``seq`` and ``hash``).

    With an :class:`~sqlalchemy.Engine` the entry gets its own transaction; with a
    :class:`~sqlalchemy.Connection` it joins the caller's open transaction, so the audited change and
    its log entry are committed together (or not at all).

    ``outputs`` (e.g. the analysis document) is stored as its sha256 digest only; put a short,
    non-identifying summary in ``details``. ``when`` (timezone-aware) defaults to now, UTC.
    """
    if action not in ACTIONS:
        raise ConfigError(f"audit action {action!r} is not known; accepted: {', '.join(ACTIONS)}.")
    if not actor_id or not actor_role:
        raise ConfigError(f"audit entry needs an actor id and role (got {actor_id!r}, {actor_role!r}).")
    if input_sha256 is not None and (len(input_sha256) != 64 or any(c not in "0123456789abcdef" for c in input_sha256)):
        raise ConfigError(f"input_sha256 {input_sha256!r} is not a lowercase sha256 hex digest (64 characters).")
    details = dict(details or {})
    _check_details(details)
    when = when or _now()
    if when.tzinfo is None:
        raise ConfigError(f"audit time {when!r} has no timezone; pass an aware datetime (UTC).")
    ts = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {
        "actor_id": str(actor_id),
        "actor_role": str(actor_role),
        "action": action,
        "target": None if target is None else str(target),
        "input_sha256": input_sha256,
        "model_version": model_version,
        "rules_version": rules_version,
        "outputs_digest": None if outputs is None else digest(outputs),
        "details": canonical_json(details),
    }
    if isinstance(engine, Connection):  # the caller's transaction: committed (or rolled back) with its own changes
        return _append_row(engine, fields, ts)
    for _attempt in range(20):
        try:
            with engine.begin() as conn:
                row = _append_row(conn, fields, ts)
        except IntegrityError:  # another writer took this seq: read the new head and retry
            continue
        write_anchor(engine)
        return row
    raise ConfigError("could not append to the audit log after 20 attempts (too many concurrent writers).")


def _lock_chain(conn: Connection) -> None:
    """Serialise appenders for the rest of the transaction, so two writers never read the same head."""
    dialect = conn.dialect.name
    if dialect == "sqlite":  # a write statement takes SQLite's RESERVED lock even when it changes nothing
        conn.execute(update(audit_log).where(false()).values(seq=audit_log.c.seq))
    elif dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(724011)"))


def _append_row(conn: Connection, fields: dict[str, Any], ts: str) -> dict[str, Any]:
    _lock_chain(conn)
    last = conn.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
    row = {"seq": 1 if last is None else last.seq + 1, "ts": ts, **fields,
           "prev_hash": GENESIS_HASH if last is None else last.hash}
    row["hash"] = _entry_hash(row)
    conn.execute(insert(audit_log).values(**row))
    guard = _GUARDS.get(conn.engine)
    if guard is not None and guard.key:
        conn.execute(insert(audit_seal).values(seq=row["seq"], mac=_seal(guard.key, row["seq"], row["hash"])))
    return row
