"""Backup and restore of a SQLite database plus the folder of stored files.

Archive layout (a plain ``.tar``; compress it outside if wanted)::

    manifest.json          {"format": "ecgpilot-backup", "version": 1, "created_at": ...,
                            "database": {"path": "database.sqlite3", "sha256": ..., "size": ...},
                            "files": [{"path": "files/<relative path>", "sha256": ..., "size": ...}, ...]}
    database.sqlite3       consistent copy made with SQLite's online backup API (safe while the app runs)
    files/...              the stored files

:func:`restore_backup` checks the whole archive first (every member listed, hashes equal, no other
member, no absolute or ``..`` paths, no links, SQLite ``integrity_check`` ok) and only then writes
the database (atomically, via a temporary file and rename) and the files.
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
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ecgpilot.errors import ConfigError, CorruptFileError

__all__ = ["create_backup", "verify_backup", "restore_backup"]

FORMAT = "ecgpilot-backup"
DB_MEMBER = "database.sqlite3"


def _sqlite_path(db: str | Path) -> Path:
    text = str(db)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite:///")
    elif "://" in text:
        raise ConfigError(f"backup supports SQLite databases only; got {db!r}. Use your database's own dump tool.")
    return Path(text)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> dict[str, Any]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    return {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def create_backup(db: str | Path, files_dir: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Write a backup archive of ``db`` (SQLite URL or file) and ``files_dir``; return its manifest."""
    db_path, files_dir, out_path = _sqlite_path(db), Path(files_dir), Path(out_path)
    if not db_path.is_file():
        raise ConfigError(f"database file {db_path} does not exist; give the SQLite file or sqlite:/// URL of the app.")
    if not files_dir.is_dir():
        raise ConfigError(f"files folder {files_dir} does not exist.")
    now = datetime.now(UTC)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        snapshot = Path(tmp) / DB_MEMBER
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
        partial = Path(tmp) / "backup.tar"
        manifest: dict[str, Any] = {"format": FORMAT, "version": 1, "created_at": now.isoformat(), "files": []}
        with tarfile.open(partial, "w") as tar:
            manifest["database"] = _add(tar, DB_MEMBER, snapshot.read_bytes(), now.timestamp())
            for p in sorted(files_dir.rglob("*")):
                if p.is_symlink() or not p.is_file():
                    continue
                rel = p.relative_to(files_dir).as_posix()
                manifest["files"].append(_add(tar, f"files/{rel}", p.read_bytes(), p.stat().st_mtime))
            _add(tar, "manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode(), now.timestamp())
        os.replace(partial, out_path)
    return manifest


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
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / DB_MEMBER
        p.write_bytes(members[DB_MEMBER])
        _integrity(p, archive)
    return manifest


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

    Refuses to replace an existing database or file unless ``overwrite=True``. Stop the app first.
    """
    db_path, files_dir = _sqlite_path(db), Path(files_dir)
    manifest, members = _read_checked(archive)
    if db_path.exists() and not overwrite:
        raise ConfigError(f"database {db_path} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    targets = [(files_dir / e["path"].removeprefix("files/"), e["path"]) for e in manifest.get("files", [])]
    if not overwrite:
        existing = [str(t) for t, _ in targets if t.exists()]
        if existing:
            raise ConfigError(f"{len(existing)} files already exist (e.g. {existing[0]}); pass overwrite=True to replace them.")
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
