"""Anchoring outside the database: the instance key, keyed seals and the exported signed head;
see :mod:`ecgpilot.audit`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from ecgpilot.audit._tables import _now, audit_log, audit_seal, canonical_json, head
from ecgpilot.errors import ConfigError


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


def anchor_location(data_dir: Path | None, environ: dict[str, str] | None = None) -> Path | None:
    """Where the head is exported: ``$ECGPILOT_AUDIT_ANCHOR``, else ``<data_dir>/audit-head.json``."""
    env = os.environ if environ is None else environ
    named = env.get("ECGPILOT_AUDIT_ANCHOR", "").strip()
    if named:
        return Path(named)
    return Path(data_dir) / ANCHOR_FILE if data_dir is not None else None
