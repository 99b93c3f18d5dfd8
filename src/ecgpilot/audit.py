"""Append-only, tamper-evident audit trail (EU AI Act Art. 12 record keeping) and the AI stop switch.

Storage: a SQLAlchemy Core table ``audit_log`` in any database (the app's own database URL, or a
separate SQLite file: pass an :class:`~sqlalchemy.Engine` or a URL / file path to :func:`open_audit`).

Hash chain. Every entry has a sequence number ``seq`` (1, 2, 3...) and stores the hash of the
previous entry. Its own hash is::

    hash = sha256(prev_hash + canonical_json(entry))

where ``canonical_json`` is ``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` of every column except ``hash`` (seq, ts, actor, role, action, target, input
sha256, model and rules versions, outputs digest, details, prev_hash). The first entry's
``prev_hash`` is 64 zeros. :func:`verify` recomputes the chain and reports the first entry whose
content was changed, whose predecessor is missing (deleted rows) or whose order is wrong.

Retention. :func:`purge` deletes the oldest entries (a contiguous prefix of the chain, older than
``N`` days) and, in the same transaction, appends a ``checkpoint`` entry recording the range purged
and the *anchor* hash (the hash of the last purged entry, i.e. the ``prev_hash`` of the first entry
kept). The checkpoint is itself chained, so it cannot be changed without breaking the chain; when a
secret key is given it also carries an HMAC-SHA256 signature of (range, anchor) that
:func:`verify` checks with the same key. A chain whose head rows are missing verifies only if a
checkpoint covering exactly those rows exists.

Signed documents. An entry whose ``details`` has ``documents`` (``{"pdf:fr": sha256, "cda": ...}``:
the signature of a report, or the first export that froze a document) vouches for those bytes;
:func:`verify_documents` reads each through a caller-given function (the file store) and reports
the missing ones and those whose SHA-256 no longer matches.

Deleting the *last* rows cannot be seen from inside any hash chain: export :func:`head` regularly
(e.g. in the backup or to the administrator) and pass it to ``verify(expected_head=...)``.

No patient identity goes into the log: targets are study ids, and :func:`pseudonymise` gives a
keyed hash for anything that identifies a person; :func:`append` refuses detail keys that look like
identity fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    false,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from ecgpilot.errors import ConfigError

__all__ = [
    "ACTIONS",
    "GENESIS_HASH",
    "VerifyResult",
    "open_audit",
    "append",
    "entries",
    "head",
    "verify",
    "verify_documents",
    "DocumentsResult",
    "purge",
    "count",
    "pseudonymise",
    "digest",
    "set_ai_enabled",
    "ai_enabled",
]

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
_FORBIDDEN_KEYS = {
    "name", "patient_name", "family_name", "given_name", "given_names", "first_name", "last_name",
    "birth_name", "birth_date", "birthdate", "date_of_birth", "ins", "nir", "address", "phone", "email",
}

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


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`: ``ok``, entries checked, and the first bad entry with the reason."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit trail OK: {self.checked} entries, chain intact"
        return f"audit trail BROKEN at entry {self.first_bad_seq}: {self.reason} ({self.checked} entries checked)"


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
        metadata.create_all(engine, tables=[audit_log, settings])
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


def _check_details(details: dict[str, Any], path: str = "details") -> None:
    for k, v in details.items():
        if k.lower() in _FORBIDDEN_KEYS:
            raise ConfigError(
                f"audit {path} key {k!r} looks like patient identity; the log must stay pseudonymous. "
                "Log a study id, or a pseudonymise()d value under another key."
            )
        if isinstance(v, dict):
            _check_details(v, f"{path}.{k}")


def _now() -> datetime:
    return datetime.now(UTC)


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
                return _append_row(conn, fields, ts)
        except IntegrityError:  # another writer took this seq: read the new head and retry
            continue
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
    return row


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


def _signature(key: bytes, first: int, through: int, anchor: str) -> str:
    return hmac.new(key, f"{first}:{through}:{anchor}".encode(), hashlib.sha256).hexdigest()


def verify(engine: Engine, *, key: bytes | None = None, expected_head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the chain and report the first broken entry (changed, missing, reordered, bad checkpoint).

    With ``key``, checkpoint signatures are checked too; with ``expected_head`` (from :func:`head`),
    entries removed from the end are detected.
    """
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
    if not rows:
        if expected_head and expected_head[0] > 0:
            return VerifyResult(False, 0, expected_head[0], "the log is empty but the saved head says it had entries")
        return VerifyResult(True, 0)
    # checkpoints, by the last seq they purged
    checkpoints: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["action"] == "checkpoint":
            try:
                d = json.loads(r["details"])
                checkpoints[int(d["purged_through_seq"])] = d | {"_seq": r["seq"]}
            except (ValueError, KeyError, TypeError):
                return VerifyResult(False, 0, r["seq"], "checkpoint entry has unreadable details")
    first = rows[0]
    if first["seq"] == 1:
        expected_prev = GENESIS_HASH
    else:
        cp = checkpoints.get(first["seq"] - 1)
        if cp is None:
            return VerifyResult(
                False, 0, first["seq"] - 1,
                f"entries before {first['seq']} are missing and no checkpoint records their purge (deleted rows)",
            )
        if key is not None:
            sig = _signature(key, int(cp["purged_from_seq"]), int(cp["purged_through_seq"]), str(cp["anchor_hash"]))
            if not hmac.compare_digest(sig, str(cp.get("signature", ""))):
                return VerifyResult(False, 0, cp["_seq"], "checkpoint signature does not match the key")
        expected_prev = str(cp["anchor_hash"])
    expected_seq = first["seq"]
    for n, r in enumerate(rows):
        if r["seq"] != expected_seq:
            return VerifyResult(False, n, expected_seq, f"entry {expected_seq} is missing (next entry found is {r['seq']})")
        if r["prev_hash"] != expected_prev:
            return VerifyResult(False, n, r["seq"], "previous-hash link does not match the preceding entry (rows reordered, replaced or deleted)")
        if _entry_hash(r) != r["hash"]:
            return VerifyResult(False, n, r["seq"], "content does not match its hash (entry modified)")
        expected_prev = r["hash"]
        expected_seq += 1
    if expected_head is not None:
        seq, h = expected_head
        last = rows[-1]
        if last["seq"] < seq:
            return VerifyResult(False, len(rows), last["seq"] + 1, f"entries {last['seq'] + 1}..{seq} were removed from the end")
        match = next((r for r in rows if r["seq"] == seq), None)
        if seq > 0 and match is not None and match["hash"] != h:
            return VerifyResult(False, len(rows), seq, "entry differs from the saved head hash (chain rewritten)")
    return VerifyResult(True, len(rows))


@dataclass(frozen=True)
class DocumentsResult:
    """Outcome of :func:`verify_documents`: documents checked, and the bad ones as (seq, name, sha256, reason)."""

    checked: int
    bad: tuple[tuple[int, str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.bad

    def __str__(self) -> str:
        if self.ok:
            return f"signed documents OK: {self.checked} checked against the hashes in the audit trail"
        lines = [f"signed documents BROKEN: {len(self.bad)} of {self.checked}"]
        lines += [f"  audit entry {seq}: {name} {sha[:16]}... {reason}" for seq, name, sha, reason in self.bad]
        return "\n".join(lines)


def verify_documents(engine: Engine, read: Callable[[str], bytes | None]) -> DocumentsResult:
    """Check every document named in the trail (``details.documents``) against its SHA-256.

    ``read(sha256)`` returns the stored bytes, or ``None`` when there are none (e.g. the file store's
    reader). A document is bad when missing or when its bytes hash to something else."""
    checked = 0
    bad: list[tuple[int, str, str, str]] = []
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.seq, audit_log.c.target, audit_log.c.details)
                            .where(audit_log.c.details.like('%"documents"%')).order_by(audit_log.c.seq)).all()
    for seq, target, raw in rows:
        try:
            docs = json.loads(raw).get("documents") or {}
        except ValueError:
            continue
        for name, sha in sorted(docs.items()) if isinstance(docs, dict) else ():
            checked += 1
            try:
                data = read(str(sha))
            except Exception as exc:  # the reader's own refusal (missing, unreadable) counts as missing
                data, why = None, str(exc)
            else:
                why = "is missing"
            label = f"{target} {name}" if target else name
            if data is None:
                bad.append((seq, label, str(sha), why))
            elif hashlib.sha256(data).hexdigest() != sha:
                bad.append((seq, label, str(sha), "was changed (its SHA-256 no longer matches the trail)"))
    return DocumentsResult(checked, tuple(bad))


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
    return len(prefix)


def count(engine: Engine) -> int:
    """Number of entries currently stored."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def set_ai_enabled(engine: Engine, enabled: bool, *, actor_id: str, actor_role: str, reason: str = "") -> None:
    """The AI stop switch: persist ``ai_enabled`` and audit the change (action ``settings``), in one transaction."""
    ts = _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = "true" if enabled else "false"
    with engine.begin() as conn:
        found = conn.execute(select(settings.c.key).where(settings.c.key == "ai_enabled")).first()
        if found:
            conn.execute(settings.update().where(settings.c.key == "ai_enabled").values(value=value, updated_at=ts, updated_by=actor_id))
        else:
            conn.execute(insert(settings).values(key="ai_enabled", value=value, updated_at=ts, updated_by=actor_id))
        append(conn, actor_id=actor_id, actor_role=actor_role, action="settings",
               details={"setting": "ai_enabled", "value": enabled, "reason": reason})


def ai_enabled(engine: Engine) -> bool:
    """Whether the AI reading may run (``True`` until an administrator turns it off)."""
    with engine.connect() as conn:
        value = conn.execute(select(settings.c.value).where(settings.c.key == "ai_enabled")).scalar_one_or_none()
    return value != "false"
