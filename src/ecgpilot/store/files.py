"""Original ECG files, stored content-addressed under ``<data_dir>/files/<sha256>/``.

A file set is first written to a private temporary folder, then moved into place with
one atomic rename; the database row is written afterwards. A crash can therefore leave
at most an unreferenced folder (never shown, reused by the same upload), never a row
pointing to a missing or half-written file. Signed documents (PDF, CDA, FHIR) are kept the same way under
``<data_dir>/files/documents/<sha256>`` (inside the stored-files folder, so a backup of it holds them): :func:`store_document` writes them once (temporary file, fsync,
atomic rename), :func:`read_document` gives them back only when their bytes still hash to their name.
Staging folders left by a crash under
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
           "STALE_STAGING_S", "store_document", "read_document", "document_path"]

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


def document_path(data_dir: Path, sha256: str) -> Path:
    """Where a signed document with this SHA-256 is (or would be) stored."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ReadError(f"{sha256!r} is not a SHA-256 (64 lowercase hex characters).")
    return data_dir / "files" / "documents" / sha256


def store_document(data_dir: Path, content: bytes) -> str:
    """Keep ``content`` content-addressed (written once, durable) and return its SHA-256."""
    sha = hashlib.sha256(content).hexdigest()
    final = document_path(data_dir, sha)
    if final.is_file() and hashlib.sha256(final.read_bytes()).hexdigest() == sha:
        return sha                      # already kept (the same bytes signed again): a damaged copy is rewritten
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return sha


def read_document(data_dir: Path, sha256: str) -> bytes:
    """The stored bytes of a signed document; :class:`ReadError` when missing or changed (hash mismatch)."""
    path = document_path(data_dir, sha256)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ReadError(f"the signed document {sha256[:12]}… is missing from {path.parent}; restore the data folder "
                        "from a backup.") from None
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ReadError(f"the signed document {sha256[:12]}… in {path.parent} was changed on disk (its SHA-256 no longer "
                        "matches); restore it from a backup.")
    return content
