"""Where ecgpilot finds shared data and keeps its caches (no side effects at import)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir", "cache_dir", "package_dir"]


def package_dir() -> Path:
    """The installed ``ecgpilot`` package folder."""
    return Path(__file__).resolve().parent


def shared_data_dir() -> Path | None:
    """The shared ECG data folder, or ``None`` when it is absent.

    Looked up in ``$ECGPILOT_DATA``, then ``../shared/data`` beside the source
    checkout, then ``../shared/data`` beside the current directory.
    """
    env = os.environ.get("ECGPILOT_DATA")
    candidates = [Path(env)] if env else []
    repo = package_dir().parents[1]  # src/ecgpilot -> repo root
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def cache_dir() -> Path:
    """A writable cache folder, created on demand: ``$ECGPILOT_CACHE``; else ``<repo>/.cache`` in a source
    checkout (a ``pyproject.toml`` beside ``src/``); else the user's cache folder
    (``$XDG_CACHE_HOME/ecgpilot``, default ``~/.cache/ecgpilot``), never inside an installed package."""
    env = os.environ.get("ECGPILOT_CACHE")
    repo = package_dir().parents[1]
    if env:
        path = Path(env)
    elif (repo / "pyproject.toml").is_file() and (repo / "src" / "ecgpilot").is_dir():
        path = repo / ".cache"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "ecgpilot"
    path.mkdir(parents=True, exist_ok=True)
    return path
