"""Original ECG files, stored content-addressed under ``<data_dir>/files/<sha256>/``.

A file set is first written to a private temporary folder, then moved into place with
one atomic rename; the database row is written afterwards. A crash can therefore leave
at most an unreferenced folder (never shown, reused by the same upload), never a row
pointing to a missing or half-written file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from ecgpilot.errors import ReadError

__all__ = ["safe_name", "fileset_sha256", "stage_files", "commit_files", "stored_path", "discard"]

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
    """Write the files to a fresh temporary folder under ``data_dir/tmp`` and return it."""
    tmp_root = data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=tmp_root))
    for name, content in files:
        with (folder / name).open("wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    return folder


def commit_files(data_dir: Path, staged: Path, sha256: str) -> tuple[Path, bool]:
    """Move a staged folder to its final place; returns (folder, created).

    When the same content is already stored the staged copy is dropped.
    """
    final = data_dir / "files" / sha256
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(staged, ignore_errors=True)
        return final, False
    os.replace(staged, final)
    return final, True


def stored_path(data_dir: Path, sha256: str, name: str) -> Path:
    """Path of a stored original file."""
    return data_dir / "files" / sha256 / name


def discard(folder: Path) -> None:
    """Remove a staged or just-created folder (used when the database write fails)."""
    shutil.rmtree(folder, ignore_errors=True)
