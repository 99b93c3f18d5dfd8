"""Backup and restore of the app's database (SQLite or PostgreSQL) plus the folder of stored files.

Archive layout (a plain ``.tar``; compress it outside if wanted)::

    manifest.json          {"format": "ecgpilot-backup", "version": 1, "created_at": ...,
                            "database": {"path": "database.sqlite3" | "database.json", "sha256": ..., "size": ...,
                                         ["kind": "rows", "revision": "0009", "dialect": "postgresql",
                                          "rows": {table: count}]},
                            "files": [{"path": "files/<relative path>", "sha256": ..., "size": ...}, ...]}
    database.sqlite3       SQLite: consistent copy made with SQLite's online backup API (safe while the app runs)
    database.json          any other database (PostgreSQL): every table's rows at the database's Alembic
                           revision, read in one REPEATABLE READ transaction (a consistent snapshot while the app
                           runs): {"revision", "tables": [{"name", "columns", "rows": [[...], ...]}]}, in the
                           tables' foreign-key order; dates as ISO 8601, bytes as base64, JSON as JSON
    files/...              the stored files

:func:`restore_backup` checks the whole archive first (every member listed, hashes equal, no other
member, no absolute or ``..`` paths, no links, SQLite ``integrity_check`` ok, the rows' counts equal to
the manifest's) and only then writes the database and the files. A SQLite copy is written atomically
(temporary file and rename). Rows are restored into an empty database (of any dialect) that the restore
first migrates to the archive's revision, or into a database already at that revision whose tables are empty
(``overwrite``: emptied first), in one transaction, ids kept (PostgreSQL's sequences are moved past them):
the audit chain verifies as before. A database at another revision is refused, naming both.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import zlib
from base64 import b64decode, b64encode
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Engine, LargeBinary, MetaData, create_engine, func, select, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.types import TypeEngine

from ecgpilot.errors import ConfigError, CorruptFileError

__all__ = ["create_backup", "verify_backup", "restore_backup", "dump_rows", "load_rows"]

FORMAT = "ecgpilot-backup"
DB_MEMBER = "database.sqlite3"
ROWS_MEMBER = "database.json"
_VERSION_TABLE = "alembic_version"


def _sqlite_path(db: str | Path) -> Path | None:
    """The SQLite file of ``db`` (a file path or ``sqlite:///`` URL); ``None`` for another database's URL."""
    text = str(db)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    if "://" in text:
        return None
    return Path(text)


def _url(db: str | Path) -> str:
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text)}"


# ------------------------------------------------------------------ rows: a dialect-neutral dump -----

def _codec(kind: TypeEngine[Any]) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(to JSON, from JSON) for a column of SQL type ``kind`` (``None`` passes through both)."""
    if isinstance(kind, DateTime):
        return (lambda v: v.isoformat()), datetime.fromisoformat
    if isinstance(kind, Date):
        return (lambda v: v.isoformat()), date.fromisoformat
    if isinstance(kind, LargeBinary):
        return (lambda v: b64encode(bytes(v)).decode("ascii")), b64decode
    return (lambda v: v), (lambda v: v)


def _tables(conn: Connection) -> MetaData:
    """The database's tables as they are (reflected: the types of its revision, whatever this code's models say)."""
    md = MetaData()
    md.reflect(conn)
    if _VERSION_TABLE in md.tables:
        md.remove(md.tables[_VERSION_TABLE])
    return md


def _revision(conn: Connection) -> str | None:
    from ecgpilot.store.migrate import current_revision_of

    return current_revision_of(conn)


def dump_rows(engine: Engine) -> dict[str, Any]:
    """Every table's rows of ``engine``'s database at its Alembic revision, as JSON-ready data (one consistent
    snapshot: REPEATABLE READ on PostgreSQL). Refuses a database that is not under Alembic (not migrated)."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        revision = _revision(conn)
        if revision is None:
            raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} has no schema revision "
                              "(not an ecgpilot database, or never migrated): start the app once, or run the "
                              "migrations, then back it up.")
        tables = []
        for table in _tables(conn).sorted_tables:
            encode = [_codec(c.type)[0] for c in table.columns]
            order = list(table.primary_key.columns) or list(table.columns)
            rows = [[None if v is None else f(v) for f, v in zip(encode, row, strict=True)]
                    for row in conn.execute(select(table).order_by(*order))]
            tables.append({"name": table.name, "columns": [c.name for c in table.columns], "rows": rows})
    return {"revision": revision, "dialect": engine.dialect.name, "tables": tables}


def _reset_sequences(conn: Connection, md: MetaData) -> None:
    """PostgreSQL: move each serial id's sequence past the restored ids (the next insert gets a new one)."""
    for table in md.sorted_tables:
        for col in table.primary_key.columns:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name}).scalar()
            if seq:
                conn.execute(text(f'SELECT setval(:s, COALESCE(MAX("{col.name}"), 1), MAX("{col.name}") IS NOT NULL) '
                                  f'FROM "{table.name}"'), {"s": seq})


def load_rows(engine: Engine, dump: dict[str, Any], *, overwrite: bool = False) -> dict[str, int]:
    """Restore :func:`dump_rows`'s data into ``engine``'s database; returns the rows per table.

    An empty database is first migrated to the dump's revision. A database at another revision is refused
    (:class:`ConfigError` naming both); one at the same revision must have empty tables unless ``overwrite``
    (then they are emptied first). One transaction: all rows or none."""
    from ecgpilot.store.migrate import upgrade_to

    revision = str(dump["revision"])
    with engine.connect() as conn:
        have = _revision(conn)
        names = set(_tables(conn).tables)
    if have is None and names:
        raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} holds tables "
                          f"({', '.join(sorted(names)[:5])}…) but no schema revision; restore into an empty database.")
    if have is not None and have != revision:
        raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} is at schema revision {have}, "
                          f"the backup at revision {revision}: restore into an empty database (it is migrated to "
                          f"{revision} first), then let the app migrate it.")
    if have is None:
        upgrade_to(engine, revision)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        md = _tables(conn)
        by_name = {t["name"]: t for t in dump["tables"]}
        if set(by_name) != set(md.tables):
            raise CorruptFileError(f"backup tables ({', '.join(sorted(by_name))}) are not those of schema revision "
                                   f"{revision} ({', '.join(sorted(md.tables))}).")
        held = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in md.sorted_tables}
        if any(held.values()) and not overwrite:
            busy = ", ".join(f"{k}: {v}" for k, v in held.items() if v)
            raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} already holds rows ({busy}); "
                              "pass overwrite=True (CLI: --overwrite) to replace them, or restore into an empty database.")
        for table in reversed(md.sorted_tables):
            conn.execute(table.delete())
        for table in md.sorted_tables:
            entry = by_name[table.name]
            cols = [table.c[name] for name in entry["columns"]]
            decode = [_codec(c.type)[1] for c in cols]
            rows = [{c.name: None if v is None else f(v) for c, f, v in zip(cols, decode, row, strict=True)}
                    for row in entry["rows"]]
            if rows:
                conn.execute(table.insert(), rows)
            counts[table.name] = len(rows)
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn, md)
    return counts


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> dict[str, Any]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    return {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def create_backup(db: str | Path, files_dir: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Write a backup archive of ``db`` (SQLite file or URL, or another database's URL, e.g. PostgreSQL) and
    ``files_dir``; return its manifest."""
    db_path, files_dir, out_path = _sqlite_path(db), Path(files_dir), Path(out_path)
    if db_path is not None and not db_path.is_file():
        raise ConfigError(f"database file {db_path} does not exist; give the SQLite file or sqlite:/// URL of the app.")
    if not files_dir.is_dir():
        raise ConfigError(f"files folder {files_dir} does not exist.")
    now = datetime.now(UTC)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        if db_path is not None:
            name, data, extra = DB_MEMBER, _sqlite_snapshot(db_path, Path(tmp)), {}
        else:
            dump = _dump_url(str(db))
            name, data = ROWS_MEMBER, json.dumps(dump, ensure_ascii=False, separators=(",", ":")).encode()
            extra = {"kind": "rows", "revision": dump["revision"], "dialect": dump["dialect"],
                     "rows": {t["name"]: len(t["rows"]) for t in dump["tables"]}}
        partial = Path(tmp) / "backup.tar"
        manifest: dict[str, Any] = {"format": FORMAT, "version": 1, "created_at": now.isoformat(), "files": []}
        with tarfile.open(partial, "w") as tar:
            manifest["database"] = _add(tar, name, data, now.timestamp()) | extra
            for p in sorted(files_dir.rglob("*")):
                if p.is_symlink() or not p.is_file():
                    continue
                rel = p.relative_to(files_dir).as_posix()
                manifest["files"].append(_add(tar, f"files/{rel}", p.read_bytes(), p.stat().st_mtime))
            _add(tar, "manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode(), now.timestamp())
        os.replace(partial, out_path)
    return manifest


def _sqlite_snapshot(db_path: Path, tmp: Path) -> bytes:
    snapshot = tmp / DB_MEMBER
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    dst = sqlite3.connect(snapshot)
    try:
        src.backup(dst)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"database file {db_path} cannot be backed up: {exc}. Give the app's SQLite "
                          "database file.") from exc
    finally:
        dst.close()
        src.close()
    return snapshot.read_bytes()


def _engine(url: str) -> Engine:
    try:
        return create_engine(url, future=True)
    except (ArgumentError, NoSuchModuleError) as exc:   # a bad URL or a missing driver
        raise ConfigError(f"database {url!r} is not a usable database URL ({exc}); give a SQLite file or a URL "
                          "such as postgresql+psycopg://user@host/db.") from None


def _dump_url(url: str) -> dict[str, Any]:
    engine = _engine(url)
    try:
        return dump_rows(engine)
    except DBAPIError as exc:
        raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} cannot be read: {exc.orig}") from None
    finally:
        engine.dispose()


def _safe(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in name


def _read_checked(archive: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise CorruptFileError(f"backup {archive} cannot be opened as a tar archive ({exc}).") from None
    with tar:
        members: dict[str, bytes] = {}
        try:
            for m in tar.getmembers():
                if not m.isfile():
                    raise CorruptFileError(f"backup member {m.name!r} is not a regular file (link or device); archive refused.")
                if not _safe(m.name):
                    raise CorruptFileError(f"backup member path {m.name!r} is unsafe (absolute or '..'); archive refused.")
                f = tar.extractfile(m)
                members[m.name] = f.read() if f else b""
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(f"backup {archive} is truncated or damaged ({exc}).") from None
    if "manifest.json" not in members:
        raise CorruptFileError(f"backup {archive} has no manifest.json; not an ecgpilot backup.")
    try:
        manifest = json.loads(members.pop("manifest.json"))
    except ValueError:
        raise CorruptFileError(f"backup {archive}: manifest.json is not valid JSON.") from None
    if manifest.get("format") != FORMAT:
        raise CorruptFileError(f"backup {archive}: format {manifest.get('format')!r} is not {FORMAT!r}.")
    listed = [manifest["database"], *manifest.get("files", [])]
    for entry in listed:
        data = members.get(entry["path"])
        if data is None:
            raise CorruptFileError(f"backup {archive}: {entry['path']} is listed in the manifest but missing.")
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            raise CorruptFileError(f"backup {archive}: {entry['path']} does not match its sha256 in the manifest (corrupted).")
    extra = set(members) - {e["path"] for e in listed}
    if extra:
        raise CorruptFileError(f"backup {archive}: members not in the manifest: {', '.join(sorted(extra))}.")
    return manifest, members


def verify_backup(archive: str | Path) -> dict[str, Any]:
    """Check an archive completely (manifest, hashes, database integrity) and return its manifest."""
    manifest, members = _read_checked(archive)
    if manifest["database"]["path"] == ROWS_MEMBER:
        _rows_of(manifest, members, archive)
        return manifest
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / DB_MEMBER
        p.write_bytes(members[DB_MEMBER])
        _integrity(p, archive)
    return manifest


def _rows_of(manifest: dict[str, Any], members: dict[str, bytes], archive: str | Path) -> dict[str, Any]:
    """The rows dump of an archive, checked against its manifest (revision, every table's count)."""
    try:
        dump = json.loads(members[ROWS_MEMBER])
        counts = {t["name"]: len(t["rows"]) for t in dump["tables"]}
    except (ValueError, KeyError, TypeError):
        raise CorruptFileError(f"backup {archive}: {ROWS_MEMBER} is not an ecgpilot rows dump.") from None
    entry = manifest["database"]
    if dump.get("revision") != entry.get("revision") or counts != entry.get("rows"):
        raise CorruptFileError(f"backup {archive}: {ROWS_MEMBER} does not match the manifest (revision or row counts).")
    return dict(dump)


def _integrity(path: Path, archive: str | Path) -> None:
    try:
        con = sqlite3.connect(path)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptFileError(f"backup {archive}: the database is not a valid SQLite file ({exc}).") from None
    if result != "ok":
        raise CorruptFileError(f"backup {archive}: SQLite integrity_check failed ({result}).")


def restore_backup(archive: str | Path, db: str | Path, files_dir: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Verify ``archive`` then restore the database to ``db`` and the files under ``files_dir``.

    ``db``: a SQLite file or URL, or another database's URL (PostgreSQL). An archive of a SQLite database is
    restored as a SQLite file; one of rows (made from PostgreSQL) into any database, see the module's text.
    Refuses to replace an existing database, rows or file unless ``overwrite=True``. Stop the app first.
    """
    db_path, files_dir = _sqlite_path(db), Path(files_dir)
    manifest, members = _read_checked(archive)
    rows = manifest["database"]["path"] == ROWS_MEMBER
    dump = _rows_of(manifest, members, archive) if rows else None
    if db_path is None and not rows:
        raise ConfigError(f"backup {archive} holds a SQLite database file; restore it into a SQLite file "
                          f"(--db path/to/ecgpilot.db), not into {db!r}.")
    if db_path is not None and not rows and db_path.exists() and not overwrite:
        raise ConfigError(f"database {db_path} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    targets = [(files_dir / e["path"].removeprefix("files/"), e["path"]) for e in manifest.get("files", [])]
    if not overwrite:
        existing = [str(t) for t, _ in targets if t.exists()]
        if existing:
            raise ConfigError(f"{len(existing)} files already exist (e.g. {existing[0]}); pass overwrite=True to replace them.")
    if dump is not None:
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        engine = _engine(_url(db))
        try:
            load_rows(engine, dump, overwrite=overwrite)
        except DBAPIError as exc:
            raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)} cannot be restored "
                              f"into: {exc.orig}") from None
        finally:
            engine.dispose()
    else:
        assert db_path is not None
        db_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=db_path.parent, suffix=".restoring")
        with os.fdopen(fd, "wb") as f:
            f.write(members[DB_MEMBER])
        try:
            _integrity(Path(tmp_name), archive)
        except CorruptFileError:
            os.unlink(tmp_name)
            raise
        os.replace(tmp_name, db_path)
    for target, name in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        tmp.write_bytes(members[name])
        os.replace(tmp, target)
    return manifest
