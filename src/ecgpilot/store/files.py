"""Original ECG files, stored content-addressed under ``<data_dir>/files/<sha256>/``.

A file set is first written to a private temporary folder, then moved into place with
one atomic rename; the database row is written afterwards. A crash can therefore leave
at most an unreferenced folder (never shown, reused by the same upload), never a row
pointing to a missing or half-written file. Staging folders left by a crash under
``<data_dir>/tmp`` are swept by later uploads once they are older than
:data:`STALE_STAGING_S`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ecgpilot.errors import ReadError

__all__ = ["safe_name", "fileset_sha256", "stage_files", "commit_files", "stored_path", "discard", "sweep_staging",
           "STALE_STAGING_S"]

STALE_STAGING_S = 6 * 3600
"""Age (seconds) after which a staging folder is taken as a crash leftover and removed."""

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name without folders or odd characters (raises :class:`ReadError` if empty)."""
    base = _SAFE.sub("_", Path(name.replace("\\", "/")).name).lstrip(".")
    if not base:
        raise ReadError(f"file name {name!r} is empty once cleaned; give the file a normal name.")
    return base[:200]


def fileset_sha256(files: list[tuple[str, bytes]], main: str) -> str:
    """SHA-256 of the main file followed by the others in name order (a single file: its hash)."""
    h = hashlib.sha256()
    by_name = dict(files)
    h.update(by_name[main])
    for name in sorted(by_name):
        if name != main:
            h.update(by_name[name])
    return h.hexdigest()


def stage_files(data_dir: Path, files: list[tuple[str, bytes]]) -> Path:
    """Write the files to a fresh temporary folder under ``data_dir/tmp`` and return it.

    Staging folders older than :data:`STALE_STAGING_S` (left by a crash) are removed first.
    """
    tmp_root = data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    sweep_staging(data_dir)
    folder = Path(tempfile.mkdtemp(dir=tmp_root))
    for name, content in files:
        with (folder / name).open("wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    _fsync_dir(folder)
    return folder


def sweep_staging(data_dir: Path, older_than_s: float = STALE_STAGING_S) -> int:
    """Remove staging folders under ``data_dir/tmp`` not modified for ``older_than_s`` seconds
    (crash leftovers: never referenced by a study); returns how many were removed."""
    tmp_root = data_dir / "tmp"
    if not tmp_root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in tmp_root.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime <= cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        except OSError:  # removed meanwhile by another upload's sweep
            continue
    return removed


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries (new files, renames) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_files(data_dir: Path, staged: Path, sha256: str) -> tuple[Path, bool]:
    """Move a staged folder to its final place; returns (folder, created).

    When the same content is already stored (an earlier study, or a folder left by a crash
    before its row was written) the staged copy is dropped, after moving into the folder any
    staged file it lacks: the same bytes may come under another name, and a folder whose
    removal was interrupted may be incomplete.
    """
    final = data_dir / "files" / sha256
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        try:
            os.replace(staged, final)
        except OSError:  # another upload of the same content got there first
            if not final.is_dir():
                raise
        else:
            _fsync_dir(final.parent)
            return final, True
    added = False
    for f in staged.iterdir():
        if not (final / f.name).exists():
            os.replace(f, final / f.name)
            added = True
    if added:
        _fsync_dir(final)
    shutil.rmtree(staged, ignore_errors=True)
    return final, False


def stored_path(data_dir: Path, sha256: str, name: str) -> Path:
    """Path of a stored original file."""
    return data_dir / "files" / sha256 / name


def discard(folder: Path) -> None:
    """Remove a staged or just-created folder (used when the database write fails)."""
    shutil.rmtree(folder, ignore_errors=True)
