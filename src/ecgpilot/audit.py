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

Anchoring (outside the database). A hash chain alone can be recomputed by whoever can write the
database, and deleting its *last* rows leaves a shorter chain that still links. Two anchors close that:

* a **keyed seal**: with an instance key (:func:`load_key`: ``$ECGPILOT_AUDIT_KEY``, the file named by
  ``$ECGPILOT_AUDIT_KEY_FILE``, else ``<data_dir>/audit_key`` created 0600 at first start; never in the
  database), every entry gets ``HMAC-SHA256(key, "seal:<seq>:<hash>")`` in the table ``audit_seal``,
  written in the same transaction. A chain recomputed without the key has no valid seals;
* a **signed head** exported after every request that appended (:func:`write_anchor`): the file
  ``<data_dir>/audit-head.json`` (or ``$ECGPILOT_AUDIT_ANCHOR``) holds the last ``seq`` and ``hash``,
  the first sealed ``seq`` and an HMAC of them, and the same line goes to the ``ecgpilot.audit.head``
  logger (send it to syslog / another host). :func:`verify` with ``anchor=`` (or ``expected_head=``, e.g.
  ``ecgpilot audit verify --expect-head HASH`` with a head kept elsewhere) detects removed last rows
  and a rewritten chain.

Keep the key (and a copy of the head) where the database's writer cannot reach: another mount, the
operator's password safe, a log host. A key kept beside the database only stops attackers who can
write the database but not read the data folder (e.g. SQL access, a restored or copied database).

Signed reports. :func:`verify_reports` checks every signed report row against its signature entry
(content SHA-256 in ``details.report_sha256`` and the ``outputs_digest``): a report rewritten with its
own ``content_sha256`` recomputed no longer matches the sealed trail.

No patient identity goes into the log: targets are study ids, and :func:`pseudonymise` gives a
keyed hash for anything that identifies a person; :func:`append` refuses detail keys that look like
identity fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
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
    inspect,
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
    "load_key",
    "protect",
    "write_anchor",
    "read_anchor",
    "verify_reports",
    "ReportsResult",
    "verify_instance",
    "anchor_location",
    "is_sealed",
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


# ------------------------------------------------------------------ anchoring -------

log_head = logging.getLogger("ecgpilot.audit.head")
KEY_FILE = "audit_key"
ANCHOR_FILE = "audit-head.json"


def _seal(key: bytes, seq: int, entry_hash: str) -> str:
    return hmac.new(key, f"seal:{seq}:{entry_hash}".encode(), hashlib.sha256).hexdigest()


def _anchor_signature(key: bytes, seq: int, entry_hash: str, sealed_from: int) -> str:
    return hmac.new(key, f"anchor:{seq}:{entry_hash}:{sealed_from}".encode(), hashlib.sha256).hexdigest()


@dataclass
class _Guard:
    key: bytes | None
    anchor_path: Path | None
    sealed_from: int
    written_seq: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)


_GUARDS: "weakref.WeakKeyDictionary[Engine, _Guard]" = weakref.WeakKeyDictionary()


def load_key(data_dir: Path | None = None, *, create: bool = False, environ: dict[str, str] | None = None) -> bytes | None:
    """The instance's audit key, never kept in the database: ``$ECGPILOT_AUDIT_KEY`` (text), else the file
    ``$ECGPILOT_AUDIT_KEY_FILE``, else ``<data_dir>/audit_key``. With ``create`` and none found, the file
    is created (random 256-bit key, mode 0600). ``None`` when there is none and none is created."""
    env = os.environ if environ is None else environ
    raw = env.get("ECGPILOT_AUDIT_KEY", "").strip()
    if raw:
        if len(raw) < 32:
            raise ConfigError("ECGPILOT_AUDIT_KEY is shorter than 32 characters; give a long random value "
                              "(e.g. python -c 'import secrets; print(secrets.token_hex(32))').")
        return raw.encode()
    named = env.get("ECGPILOT_AUDIT_KEY_FILE", "").strip()
    path = Path(named) if named else (Path(data_dir) / KEY_FILE if data_dir is not None else None)
    if path is None:
        return None
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        if not create or named:
            if named:
                raise ConfigError(f"ECGPILOT_AUDIT_KEY_FILE {named!r} does not exist; restore the audit key there "
                                  "(it is never in the database) or unset the variable.") from None
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        # written whole under a private name, then linked in place: workers starting at once never read
        # a half-written key, and the one that comes second uses the first one's key
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_key(data_dir, environ=environ)
        finally:
            tmp.unlink()
        return key.encode()
    except OSError as exc:
        raise ConfigError(f"the audit key file {path} cannot be read ({exc.strerror}); check its permissions.") from None
    if len(text) < 32:
        raise ConfigError(f"the audit key file {path} holds fewer than 32 characters; it is damaged. Restore it from "
                          "its safe copy (a new key would make every existing seal fail verification).")
    return text.encode()


def protect(engine: Engine, *, key: bytes | None, anchor_path: Path | None = None) -> None:
    """From now on, seal every entry appended through ``engine`` with ``key`` and let
    :func:`write_anchor` export the head to ``anchor_path``.

    Refused (:class:`ConfigError`) when the log has seals but ``key`` is not the key that made them
    (a lost or replaced key), and when ``anchor_path`` names a head that the log no longer has
    (rows removed from the end, an older or a different database): the app must not carry on
    writing on top of a trail it cannot vouch for."""
    with engine.connect() as conn:
        first_sealed = conn.execute(select(func.min(audit_seal.c.seq))).scalar()
        last = conn.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
        sealed_row = None
        if first_sealed is not None:
            sealed_row = conn.execute(select(audit_log.c.seq, audit_log.c.hash, audit_seal.c.mac)
                                      .join(audit_seal, audit_seal.c.seq == audit_log.c.seq)
                                      .order_by(audit_log.c.seq.desc()).limit(1)).first()
    head_seq = 0 if last is None else int(last.seq)
    if sealed_row is not None and (key is None or not hmac.compare_digest(_seal(key, sealed_row.seq, sealed_row.hash),
                                                                          sealed_row.mac)):
        raise ConfigError("the audit trail is sealed with a key that is not this instance's audit key (the key "
                          f"file was lost or replaced{', or none was given' if key is None else ''}). Restore the key "
                          "(ECGPILOT_AUDIT_KEY, ECGPILOT_AUDIT_KEY_FILE or audit_key in the data folder) from its "
                          "safe copy; starting with another key would hide any rewriting of the trail.")
    sealed_from = int(first_sealed) if first_sealed is not None else head_seq + 1
    guard = _Guard(key=key, anchor_path=Path(anchor_path) if anchor_path else None, sealed_from=sealed_from)
    if guard.anchor_path is not None:
        saved = read_anchor(guard.anchor_path)
        if saved is not None:
            problem = _anchor_problem(engine, saved, key)
            if problem:
                raise ConfigError(f"the audit trail does not match its saved head {guard.anchor_path}: {problem}. The "
                                  "database may have been truncated, replaced by an older copy or rewritten. Run "
                                  "'ecgpilot audit verify' and 'ecgpilot check'; if you restored a backup on purpose, "
                                  f"move {guard.anchor_path.name} aside (keep it as evidence) and start again.")
            guard.sealed_from = int(saved.get("sealed_from", sealed_from))
    _GUARDS[engine] = guard
    write_anchor(engine)


def is_sealed(engine: Engine) -> bool:
    """Whether any entry of the trail carries a keyed seal."""
    with engine.connect() as conn:
        return conn.execute(select(audit_seal.c.seq).limit(1)).first() is not None


def read_anchor(path: Path) -> dict[str, Any] | None:
    """The saved head ``{"seq", "hash", "sealed_from", "signature", ...}`` of ``path`` (``None`` if absent)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the saved audit head {path} cannot be read ({exc}); restore it or move it aside.") from None
    if not isinstance(data, dict) or not isinstance(data.get("seq"), int) or not isinstance(data.get("hash"), str):
        raise ConfigError(f"the saved audit head {path} is not an ecgpilot audit head; restore it or move it aside.")
    return data


def _anchor_problem(engine: Engine, saved: dict[str, Any], key: bytes | None) -> str:
    seq, h = int(saved["seq"]), str(saved["hash"])
    sealed_from = int(saved.get("sealed_from", seq + 1))
    if key is not None and saved.get("signature") is not None:
        if not hmac.compare_digest(_anchor_signature(key, seq, h, sealed_from), str(saved["signature"])):
            return "the saved head's signature does not match the audit key (the file was edited)"
    if seq == 0:
        return ""
    with engine.connect() as conn:
        row = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).first()
        last = conn.execute(select(func.max(audit_log.c.seq))).scalar() or 0
    if row is None:
        return (f"entry {seq} (the last one exported) is missing; the log ends at {last}" if last < seq else
                f"entry {seq} is missing")
    if row.hash != h:
        return f"entry {seq} has another hash than the one exported (the chain was rewritten)"
    return ""


def write_anchor(engine: Engine) -> tuple[int, str] | None:
    """Export the head of ``engine``'s trail (set up by :func:`protect`) to the anchor file and the
    ``ecgpilot.audit.head`` log, when it moved since the last export; returns it, else ``None``.
    The file is replaced atomically (temporary file, fsync, rename)."""
    guard = _GUARDS.get(engine)
    if guard is None:
        return None
    seq, h = head(engine)
    if seq <= guard.written_seq:
        return None
    with guard.lock:
        if seq <= guard.written_seq:
            return None
        seq, h = head(engine)
        doc = {"format": "ecgpilot-audit-head", "seq": seq, "hash": h, "sealed_from": guard.sealed_from,
               "written_at": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if guard.key:
            doc["signature"] = _anchor_signature(guard.key, seq, h, guard.sealed_from)
        if guard.anchor_path is not None:
            # one temporary file per process: several workers export the same head file
            tmp = guard.anchor_path.with_name(f"{guard.anchor_path.name}.{os.getpid()}.tmp")
            with open(tmp, "w") as f:
                f.write(canonical_json(doc) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, guard.anchor_path)
        guard.written_seq = seq
    log_head.info("audit head seq=%d hash=%s", seq, h)
    return seq, h


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


def verify(engine: Engine, *, key: bytes | None = None, expected_head: tuple[int, str] | str | None = None,
           seal_key: bytes | None = None, anchor: dict[str, Any] | None = None) -> VerifyResult:
    """Walk the chain and report the first broken entry (changed, missing, reordered, bad checkpoint).

    With ``key``, checkpoint signatures are checked too; with ``expected_head`` (``(seq, hash)`` from
    :func:`head`, or a bare hash) entries removed from the end and a rewritten chain are detected.
    With ``seal_key`` (the instance key, :func:`load_key`) every entry's seal is checked: from the first
    sealed entry on (or from ``anchor["sealed_from"]``), an entry without a valid seal was written or
    rewritten without the key. ``anchor`` (:func:`read_anchor`) is checked as a signed expected head."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
        seals = {int(r.seq): r.mac for r in conn.execute(select(audit_seal.c.seq, audit_seal.c.mac))}
    sealed_from = None
    if anchor is not None:
        a_seq, a_hash = int(anchor["seq"]), str(anchor["hash"])
        sealed_from = int(anchor.get("sealed_from", a_seq + 1))
        if seal_key is not None:
            sig = str(anchor.get("signature") or "")
            if not hmac.compare_digest(_anchor_signature(seal_key, a_seq, a_hash, sealed_from), sig):
                return VerifyResult(False, 0, a_seq, "the saved head's signature does not match the audit key "
                                                     "(the head file was edited or belongs to another instance)")
        if expected_head is None:
            expected_head = (a_seq, a_hash)
    if not rows:
        want = expected_head if isinstance(expected_head, tuple) else None
        if (want and want[0] > 0) or (isinstance(expected_head, str) and expected_head != GENESIS_HASH):
            return VerifyResult(False, 0, want[0] if want else None,
                                "the log is empty but the saved head says it had entries")
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
    if seal_key is not None and sealed_from is None:
        sealed_from = min(seals) if seals else None
    expected_seq = first["seq"]
    for n, r in enumerate(rows):
        if r["seq"] != expected_seq:
            return VerifyResult(False, n, expected_seq, f"entry {expected_seq} is missing (next entry found is {r['seq']})")
        if r["prev_hash"] != expected_prev:
            return VerifyResult(False, n, r["seq"], "previous-hash link does not match the preceding entry (rows reordered, replaced or deleted)")
        if _entry_hash(r) != r["hash"]:
            return VerifyResult(False, n, r["seq"], "content does not match its hash (entry modified)")
        if seal_key is not None:
            mac = seals.get(r["seq"])
            if mac is not None and not hmac.compare_digest(_seal(seal_key, r["seq"], r["hash"]), mac):
                return VerifyResult(False, n, r["seq"], "seal does not match the audit key (entry rewritten and its "
                                                        "hash chain recomputed without the key)")
            if mac is None and sealed_from is not None and r["seq"] >= sealed_from:
                return VerifyResult(False, n, r["seq"], "entry has no seal although the trail is sealed from entry "
                                                        f"{sealed_from} on (written or rewritten without the key)")
        expected_prev = r["hash"]
        expected_seq += 1
    if isinstance(expected_head, str):
        h = expected_head.strip().lower()
        if h != GENESIS_HASH and not any(r["hash"] == h for r in rows):
            return VerifyResult(False, len(rows), None, "no entry has the expected head hash: entries were removed "
                                                        "from the end or the chain was rewritten")
    elif expected_head is not None:
        seq, h = expected_head
        last = rows[-1]
        if last["seq"] < seq:
            return VerifyResult(False, len(rows), last["seq"] + 1, f"entries {last['seq'] + 1}..{seq} were removed from the end")
        match = next((r for r in rows if r["seq"] == seq), None)
        if seq > 0 and match is not None and match["hash"] != h:
            return VerifyResult(False, len(rows), seq, "entry differs from the saved head hash (chain rewritten)")
    return VerifyResult(True, len(rows))


@dataclass(frozen=True)
class ReportsResult:
    """Outcome of :func:`verify_reports`: reports checked, those whose signature entry was purged
    (retention), and the bad ones as (study id, version, reason)."""

    checked: int
    unchecked: int = 0
    bad: tuple[tuple[int, int, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.bad

    def __str__(self) -> str:
        extra = f" ({self.unchecked} older than the trail's retention not checked)" if self.unchecked else ""
        if self.ok:
            return f"signed reports OK: {self.checked} match their signature entries{extra}"
        lines = [f"signed reports BROKEN: {len(self.bad)} of {self.checked}{extra}"]
        lines += [f"  study {sid} version {v}: {why}" for sid, v, why in self.bad]
        return "\n".join(lines)


def verify_reports(engine: Engine) -> ReportsResult:
    """Check every signed report (table ``report``) against the signature entry of the trail: the
    content's SHA-256 must equal both the row's ``content_sha256`` and the entry's ``report_sha256``,
    and its canonical digest the entry's ``outputs_digest``. A report whose entry was purged by
    retention is counted as unchecked; with nothing purged, a report without an entry is bad."""
    from sqlalchemy import inspect as sa_inspect

    if not sa_inspect(engine).has_table("report"):
        return ReportsResult(0)
    with engine.connect() as conn:
        reps = conn.execute(text("SELECT study_id, version, content, content_sha256 FROM report ORDER BY study_id, version")).all()
        sigs = conn.execute(select(audit_log.c.seq, audit_log.c.target, audit_log.c.outputs_digest, audit_log.c.details)
                            .where(audit_log.c.action == "signature")).all()
        first_seq = conn.execute(select(func.min(audit_log.c.seq))).scalar() or 1
    entry: dict[tuple[int, int], tuple[str | None, str | None]] = {}
    for _seq, target, out_digest, raw in sigs:
        try:
            d = json.loads(raw)
            sid = int(str(target).removeprefix("study:"))
            entry[(sid, int(d["version"]))] = (d.get("report_sha256"), out_digest)
        except (ValueError, KeyError, TypeError):
            continue
    checked = unchecked = 0
    bad: list[tuple[int, int, str]] = []
    for sid, version, raw, stored in reps:
        content = json.loads(raw) if isinstance(raw, str) else raw
        own = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        if (sid, version) not in entry:
            if first_seq > 1:
                unchecked += 1
            else:
                checked += 1
                bad.append((sid, version, "no signature entry in the audit trail"))
            continue
        checked += 1
        logged, out_digest = entry[(sid, version)]
        if own != stored:
            bad.append((sid, version, "content does not match its stored SHA-256 (report changed)"))
        elif own != logged or (out_digest is not None and digest(content) != out_digest):
            bad.append((sid, version, "content and its SHA-256 differ from those sealed in the audit trail at signing "
                                      "(report rewritten with its hash recomputed)"))
    return ReportsResult(checked, unchecked, tuple(bad))


def verify_instance(engine: Engine, *, data_dir: Path | None, key: bytes | None = None,
                    expected_head: str | None = None) -> tuple[bool, list[str]]:
    """Everything ``ecgpilot audit verify`` checks, as (all good, lines to print): the chain with its
    seals (instance key from :func:`load_key`) and saved head (``<data_dir>/audit-head.json`` or
    ``$ECGPILOT_AUDIT_ANCHOR``), ``expected_head`` (``HASH`` or ``SEQ:HASH``), the signed reports and,
    with ``data_dir``, the signed documents."""
    lines: list[str] = []
    seal_key = load_key(data_dir)
    anchor_path = anchor_location(data_dir)
    anchor = read_anchor(anchor_path) if anchor_path is not None else None
    want: tuple[int, str] | str | None = None
    if expected_head:
        raw = expected_head.strip()
        if ":" in raw:
            a, _, b = raw.partition(":")
            if not a.isdigit():
                raise ConfigError(f"--expect-head {raw!r}: give HASH or SEQ:HASH (from the audit head file or log).")
            want = (int(a), b.lower())
        else:
            want = raw.lower()
        if len(want[1] if isinstance(want, tuple) else want) != 64:
            raise ConfigError(f"--expect-head {raw!r}: the hash has 64 hex characters.")
    with engine.connect() as conn:
        any_seal = conn.execute(select(audit_seal.c.seq).limit(1)).first() is not None
    result = verify(engine, key=key, expected_head=want, seal_key=seal_key, anchor=anchor)
    ok = result.ok
    if result.ok and want is not None and anchor is not None:  # both: the anchor and the given head
        result2 = verify(engine, key=key, expected_head=want, seal_key=seal_key)
        ok, result = result2.ok, result2
    lines.append(str(result))
    if seal_key is None:
        lines.append("seals not checked: no audit key (ECGPILOT_AUDIT_KEY, ECGPILOT_AUDIT_KEY_FILE or "
                     "<data folder>/audit_key)" + (" although the trail is sealed" if any_seal else ""))
        ok = ok and not any_seal
    else:
        lines.append("seals checked with the instance's audit key")
    if anchor is not None:
        lines.append(f"saved head {anchor_path} checked: entry {anchor['seq']} {str(anchor['hash'])[:16]}...")
    elif want is None:
        lines.append("removal of the last entries not checked: no saved head (give --expect-head or the data folder)")
    reps = verify_reports(engine)
    lines.append(str(reps))
    ok = ok and reps.ok
    if data_dir is None:
        lines.append("signed documents not checked: give --data-dir (the app's data folder)")
    else:
        from ecgpilot.store import files as filestore

        docs = verify_documents(engine, lambda sha: filestore.read_document(data_dir, sha))
        lines.append(str(docs))
        ok = ok and docs.ok
    return ok, lines


def anchor_location(data_dir: Path | None, environ: dict[str, str] | None = None) -> Path | None:
    """Where the head is exported: ``$ECGPILOT_AUDIT_ANCHOR``, else ``<data_dir>/audit-head.json``."""
    env = os.environ if environ is None else environ
    named = env.get("ECGPILOT_AUDIT_ANCHOR", "").strip()
    if named:
        return Path(named)
    return Path(data_dir) / ANCHOR_FILE if data_dir is not None else None


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
        conn.execute(delete(audit_seal).where(audit_seal.c.seq <= through))
    return len(prefix)


def count(engine: Engine) -> int:
    """Number of entries currently stored."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _ai_key(practice_id: int | None) -> str:
    return "ai_enabled" if practice_id is None else f"ai_enabled:practice:{int(practice_id)}"


def set_ai_enabled(engine: Engine, enabled: bool, *, actor_id: str, actor_role: str, reason: str = "",
                   practice_id: int | None = None) -> None:
    """The AI stop switch: persist it and audit the change (action ``settings``), in one transaction.

    Two scopes: the whole instance (``practice_id=None``: the operator, ``ecgpilot ai off``) and one
    practice (its administrator, on the practice page). The AI reads for a practice only when both are on:
    a practice's administrator can stop it for their practice, never for the others."""
    ts = _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = "true" if enabled else "false"
    key = _ai_key(practice_id)
    with engine.begin() as conn:
        found = conn.execute(select(settings.c.key).where(settings.c.key == key)).first()
        if found:
            conn.execute(settings.update().where(settings.c.key == key).values(value=value, updated_at=ts, updated_by=actor_id))
        else:
            conn.execute(insert(settings).values(key=key, value=value, updated_at=ts, updated_by=actor_id))
        details: dict[str, Any] = {"setting": "ai_enabled", "value": enabled, "reason": reason,
                                   "scope": "instance" if practice_id is None else "practice"}
        append(conn, actor_id=actor_id, actor_role=actor_role, action="settings",
               target=None if practice_id is None else f"practice:{int(practice_id)}", details=details)
    write_anchor(engine)


def ai_enabled(engine: Engine, practice_id: int | None = None) -> bool:
    """Whether the AI reading may run: for the instance (``practice_id=None``), or for one practice (the
    instance switch and the practice's own both on). ``True`` until an administrator turns it off."""
    keys = [_ai_key(None)] + ([] if practice_id is None else [_ai_key(practice_id)])
    with engine.connect() as conn:
        values = conn.execute(select(settings.c.value).where(settings.c.key.in_(keys))).scalars().all()
    return "false" not in values
