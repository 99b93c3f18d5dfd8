"""The audit tables (``audit_log``, ``audit_seal``, ``settings``), the entry hash and the reads
(:func:`entries`, :func:`head`, :func:`count`); see :mod:`ecgpilot.audit`."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ecgpilot.errors import ConfigError


ACTIONS = (
    "analysis",
    "view",
    "change",
    "signature",
    "export",
    "send",
    "login",
    "logout",
    "login_failed",
    "admin",
    "settings",
    "backup",
    "restore",
    "checkpoint",
    "opinion",
)
GENESIS_HASH = "0" * 64


metadata = MetaData()

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False, index=True),
    Column("actor_id", String(128), nullable=False),
    Column("actor_role", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(128), nullable=True),
    Column("input_sha256", String(64), nullable=True),
    Column("model_version", String(128), nullable=True),
    Column("rules_version", String(128), nullable=True),
    Column("outputs_digest", String(64), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# keyed seals of the entries (HMAC with the instance key, which is never stored in the database)
audit_seal = Table(
    "audit_seal",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("mac", String(64), nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(128), nullable=False),
)

_HASHED = (
    "seq", "ts", "actor_id", "actor_role", "action", "target", "input_sha256",
    "model_version", "rules_version", "outputs_digest", "details", "prev_hash",
)


def open_audit(db: Engine | str | Path, *, must_exist: bool = False) -> Engine:
    """Engine for ``db`` (an Engine, a database URL or a SQLite file path) with the audit tables created.

    ``must_exist=True`` (for verification) refuses a SQLite file that does not exist yet.
    """
    if isinstance(db, Engine):
        engine = db
    else:
        text = str(db)
        url = text if "://" in text else f"sqlite:///{Path(text)}"
        if must_exist and url.startswith("sqlite:///"):
            f = Path(url.removeprefix("sqlite:///"))
            if not f.is_file():
                raise ConfigError(f"audit database {db!r} does not exist"
                                  f"{' (it is a folder)' if f.is_dir() else ''}; give the app's database URL or "
                                  "SQLite file.")
            if f.stat().st_size == 0:
                raise ConfigError(f"audit database {db!r} is an empty file, not the app's database; give the "
                                  "app's database URL or SQLite file.")
        try:
            engine = create_engine(url, future=True)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConfigError(f"database {db!r} is not a usable database URL ({exc}); give a SQLite file path or "
                              "a URL such as sqlite:///ecgpilot.db or postgresql+psycopg://user@host/db.") from exc
    try:
        if not inspect(engine).has_table("alembic_version"):   # a database of its own (tests, tools)
            metadata.create_all(engine, tables=[audit_log, audit_seal, settings])
        # in the app's database the tables belong to the migrations (ecgpilot.store.migrations)
    except DBAPIError as exc:
        raise ConfigError(f"database {db!r} cannot be opened as the app's database: {exc.orig}. Check that it is "
                          "the ecgpilot database (SQLite file or URL) and that it is reachable.") from exc
    return engine


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(obj: Any) -> str:
    """sha256 hex of the canonical JSON of ``obj`` (e.g. the outputs of an analysis)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def pseudonymise(value: str, key: bytes) -> str:
    """Keyed pseudonym of an identifier (HMAC-SHA256, 16 hex characters, prefixed ``p:``)."""
    if not key:
        raise ConfigError("pseudonymise() needs a non-empty secret key (bytes) so pseudonyms cannot be reversed by guessing.")
    return "p:" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _entry_hash(row: dict[str, Any]) -> str:
    body = {k: row[k] for k in _HASHED}
    return hashlib.sha256((row["prev_hash"] + canonical_json(body)).encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def entries(engine: Engine, *, target: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
    """All entries in chain order (optionally for one target / action), ``details`` decoded."""
    q = select(audit_log).order_by(audit_log.c.seq)
    if target is not None:
        q = q.where(audit_log.c.target == target)
    if action is not None:
        q = q.where(audit_log.c.action == action)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["details"] = json.loads(r["details"])
    return rows


def head(engine: Engine) -> tuple[int, str]:
    """``(seq, hash)`` of the last entry (``(0, GENESIS_HASH)`` when empty), to keep outside the database."""
    with engine.connect() as conn:
        last = conn.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
    return (0, GENESIS_HASH) if last is None else (last.seq, last.hash)


def count(engine: Engine) -> int:
    """Number of entries currently stored."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
