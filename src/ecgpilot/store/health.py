"""Storage faults that say what happened: full, read-only, damaged or empty database.

* :func:`check_before_open` refuses, before SQLAlchemy creates anything, a SQLite file that is empty
  (zero bytes: never re-initialised as a new instance), that is not a SQLite database, or that is
  absent from a data folder which already held an instance (stored files, an exported audit head):
  only an absent database in a fresh data folder makes a new instance.
* :func:`integrity_problems` runs ``PRAGMA integrity_check`` (SQLite); at start and in ``ecgpilot check``.
* :func:`storage_fault` tells a write failure from a full disk or a read-only store (SQLite's
  ``SQLITE_FULL``/``SQLITE_READONLY``, ``ENOSPC``/``EDQUOT``/``EROFS``/``EACCES``) and gives the
  :class:`StorageFault` to show: what happened, that nothing was lost, what to do, French and English.
* :func:`check_instance` is ``ecgpilot check``: all of the above plus free space and the audit trail.
* :func:`probe_writable` tries a write (a SQLite write lock, a file in the data folder) at start, so a
  read-only store is refused with a clear message instead of failing at the first login.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ecgpilot import messages
from ecgpilot.errors import ConfigError

__all__ = ["StorageFault", "StorageFull", "StorageReadOnly", "DatabaseDamaged", "storage_fault", "check_before_open",
           "integrity_problems", "probe_writable", "sqlite_file", "check_instance"]

SQLITE_MAGIC = b"SQLite format 3\x00"


class StorageFault(ConfigError):
    """A storage failure explained: ``str()`` in English, :meth:`message` in the user's language."""

    status = 503
    fr = ""

    def __init__(self, message: str, *, fr: str) -> None:
        super().__init__(message)
        self.fr = fr

    @classmethod
    def said(cls, key: str, /, **fields: Any) -> Self:
        """The fault ``store.health.<key>`` of the message catalogue: ``str()`` English, :meth:`message` French."""
        return cls(messages.text(f"store.health.{key}", "en", **fields), fr=messages.text(f"store.health.{key}", "fr", **fields))

    def message(self, lang: str = "fr") -> str:
        return self.fr if lang == "fr" else str(self)


class StorageFull(StorageFault):
    """The disk (or the database's quota) is full: HTTP 507; the change was not made, nothing was lost."""

    status = 507


class StorageReadOnly(StorageFault):
    """The data folder or the database cannot be written: HTTP 503; nothing is changed."""


class DatabaseDamaged(StorageFault):
    """The database file is damaged (``integrity_check`` fails, malformed image): HTTP 503."""


def _detail(what: str) -> str:
    """What failed, for the English text: `` (what)``, or nothing."""
    return f" ({what})" if what else ""


def storage_full(what: str = "") -> StorageFull:
    return StorageFull.said("full", detail=_detail(what))


def storage_read_only(what: str = "") -> StorageReadOnly:
    return StorageReadOnly.said("read_only", detail=_detail(what))


def database_damaged(what: str = "") -> DatabaseDamaged:
    return DatabaseDamaged.said("damaged", detail=_detail(what))


_FULL_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_RO_ERRNO = {errno.EROFS, errno.EACCES, errno.EPERM}


def storage_fault(exc: BaseException) -> StorageFault | None:
    """The :class:`StorageFault` that ``exc`` (or its cause) is, else ``None``."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, StorageFault):
            return cur
        if isinstance(cur, DBAPIError) and cur.orig is not None:
            cur = cur.orig
            continue
        if isinstance(cur, sqlite3.Error):
            code = getattr(cur, "sqlite_errorcode", None)
            msg = str(cur).lower()
            if code == sqlite3.SQLITE_FULL or "database or disk is full" in msg:
                return storage_full(str(cur))
            if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or "readonly database" in msg \
                    or "unable to open database" in msg:
                return storage_read_only(str(cur))
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in msg or "not a database" in msg:
                return database_damaged(str(cur))
            if code == sqlite3.SQLITE_IOERR or "disk i/o error" in msg:
                return storage_read_only(str(cur))
        if isinstance(cur, OSError) and cur.errno is not None:
            if cur.errno in _FULL_ERRNO:
                return storage_full(cur.strerror or "")
            if cur.errno in _RO_ERRNO:
                return storage_read_only(cur.strerror or "")
        if type(cur).__module__.startswith("psycopg"):
            state = getattr(cur, "sqlstate", None) or ""
            if state in ("53100", "53000"):   # disk_full, insufficient_resources
                return storage_full(str(cur))
            if state == "25006":   # read_only_sql_transaction (a standby)
                return storage_read_only(str(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for other databases and in-memory ones)."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:") or "mode=memory" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0].removeprefix("file:"))


def _held_an_instance(data_dir: Path) -> list[str]:
    """What in ``data_dir`` shows that an instance lived there (stored files, the exported audit head)."""
    signs = []
    files = data_dir / "files"
    try:
        if files.is_dir() and any(files.iterdir()):
            signs.append(f"{files} (stored ECG files)")
    except OSError:
        pass
    if (data_dir / "audit-head.json").exists():
        signs.append(f"{data_dir / 'audit-head.json'} (the exported audit head)")
    return signs


def check_before_open(url: str, data_dir: Path) -> bool:
    """Refuse to open a database that would silently become a new instance; ``True`` when a new one
    will be created (absent file in a fresh data folder)."""
    f = sqlite_file(url)
    if f is None:
        return False
    if f.is_dir():
        raise ConfigError(f"the database path {f} is a folder, not a SQLite file; give the database file.")
    if not f.exists():
        signs = _held_an_instance(Path(data_dir))
        if signs and f.parent.resolve() == Path(data_dir).resolve():
            raise ConfigError(
                f"the database {f} is missing but this data folder already held an instance ({'; '.join(signs)}). "
                "ecgpilot does not start a new, empty instance in its place: restore the database from the last backup "
                "('ecgpilot backup restore'), or give the right --db / ECGPILOT_WEB_DATA.")
        return True
    try:
        size = f.stat().st_size
        with open(f, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except PermissionError:
        raise storage_read_only(f"{f} cannot be read") from None
    except OSError as exc:
        raise ConfigError(f"the database {f} cannot be read ({exc.strerror}).") from None
    if size == 0:
        raise ConfigError(
            f"the database {f} is an empty file (0 bytes): the instance's data is not in it. ecgpilot does not "
            "re-initialise it as a new instance (that would hide the loss and create a new administrator). Restore "
            "the database from the last backup ('ecgpilot backup restore'), or move the empty file aside if you "
            "really want a new instance in this folder.")
    if head != SQLITE_MAGIC:
        raise database_damaged(f"{f} is not a SQLite database: its first bytes are not the SQLite header")
    return False


def integrity_problems(engine: Engine, *, quick: bool = False, limit: int = 20) -> list[str]:
    """What ``PRAGMA integrity_check`` (or ``quick_check``) finds wrong in a SQLite database
    (empty when sound, or for other databases, which check themselves)."""
    if engine.dialect.name != "sqlite":
        return []
    pragma = "quick_check" if quick else "integrity_check"
    try:
        with engine.connect() as conn:
            rows = [str(r[0]) for r in conn.execute(text(f"PRAGMA {pragma}({int(limit)})"))]
    except DBAPIError as exc:
        return [f"the database cannot be checked: {exc.orig}"]
    return [] if rows == ["ok"] else rows


def probe_writable(engine: Engine, data_dir: Path) -> None:
    """Try a write to the database (SQLite: take and release its write lock) and to the data folder;
    raise the :class:`StorageFault` (or :class:`ConfigError`) saying which cannot be written."""
    probe = Path(data_dir) / f".{os.getpid()}.write-probe"   # one per process: workers start at once
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        fault = storage_fault(exc)
        if fault is not None:
            raise type(fault)(f"the data folder {data_dir} cannot be written ({exc.strerror}): {fault}", fr=fault.fr) from None
        raise ConfigError(f"the data folder {data_dir} cannot be written ({exc.strerror}).") from None
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:   # a real write (a read-only connection takes the lock but refuses this), never committed
                conn.exec_driver_sql("CREATE TABLE _ecgpilot_write_probe (x INTEGER)")
            finally:
                conn.exec_driver_sql("ROLLBACK")
    except DBAPIError as exc:
        fault = storage_fault(exc)
        if fault is not None:
            raise type(fault)(f"the database cannot be written: {fault}", fr=fault.fr) from None
        raise


def check_instance(db: str | Path | None, data_dir: Path | None = None) -> tuple[bool, list[str]]:
    """What ``ecgpilot check`` reports, as (all good, lines): the database file (present, not empty,
    a SQLite database), ``PRAGMA integrity_check``, the schema version, whether the data folder and
    the database can be written, the free space, and the audit trail (chain, seals, saved head)."""
    import shutil

    from sqlalchemy import create_engine

    from ecgpilot import audit
    from ecgpilot.store.migrate import SCHEMA_VERSION, current_version

    if db is None:
        data_dir = Path(data_dir or os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data"))
        url = f"sqlite:///{(data_dir / 'ecgpilot.db').resolve()}"
    else:
        text_db = str(db)
        url = text_db if "://" in text_db else f"sqlite:///{Path(text_db).resolve()}"
    f = sqlite_file(url)
    if data_dir is None and f is not None:
        data_dir = f.parent
    lines: list[str] = []
    ok = True
    if f is not None:
        if not f.exists():
            return False, [f"database {f}: MISSING"]
        try:
            check_before_open(url, data_dir or f.parent)
        except ConfigError as exc:
            return False, [f"database {f}: REFUSED: {exc}"]
        lines.append(f"database {f}: SQLite file, {f.stat().st_size:,} bytes")
    engine = create_engine(url, future=True)
    try:
        problems = integrity_problems(engine)
        if problems:
            ok = False
            lines.append(f"integrity_check: DAMAGED ({len(problems)} problem(s) shown): " + "; ".join(problems[:5]))
            lines.append("  restore the last backup ('ecgpilot backup restore'); keep this file aside as evidence")
            return ok, lines
        if engine.dialect.name == "sqlite":
            lines.append("integrity_check: ok")
        try:
            have = current_version(engine)
        except DBAPIError as exc:
            return False, lines + [f"schema: cannot be read ({exc.orig})"]
        state = "ok" if have == SCHEMA_VERSION else ("to migrate at next start" if have < SCHEMA_VERSION else "NEWER than this ecgpilot")
        ok = ok and have <= SCHEMA_VERSION
        lines.append(f"schema version {have} (this ecgpilot: {SCHEMA_VERSION}): {state}")
        if data_dir is not None:
            try:
                probe_writable(engine, data_dir)
                lines.append(f"data folder {data_dir} and database: writable")
            except ConfigError as exc:
                ok = False
                lines.append(f"WRITE REFUSED: {exc}")
            try:
                usage = shutil.disk_usage(data_dir)
                low = usage.free < 100 * 1024 * 1024
                ok = ok and not low
                lines.append(f"free space: {usage.free / 1e9:.2f} GB of {usage.total / 1e9:.2f} GB"
                             + (" - LOW: free space before the disk fills" if low else ""))
            except OSError:
                pass
        from sqlalchemy import inspect

        if inspect(engine).has_table("audit_log"):
            good, more = audit.verify_instance(engine, data_dir=data_dir)
            ok = ok and good
            lines += ["audit: " + line for line in more]
        else:
            lines.append("audit: no audit trail in this database")
    finally:
        engine.dispose()
    return ok, lines
