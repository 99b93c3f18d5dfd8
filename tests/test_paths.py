"""Where caches go: never inside an installed package (a wheel's site-packages), the checkout's .cache
in a source checkout, $ECGPILOT_CACHE when set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ecgpilot.paths import cache_dir

SRC = Path(__file__).resolve().parents[1] / "src" / "ecgpilot"


def test_checkout_and_environment(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("ECGPILOT_CACHE", raising=False)
    assert cache_dir() == SRC.parents[1] / ".cache"
    monkeypatch.setenv("ECGPILOT_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_an_installed_copy_uses_the_users_cache_folder(tmp_path) -> None:  # noqa: ANN001
    """A copy of the package outside a checkout (as in site-packages) caches under $XDG_CACHE_HOME/ecgpilot."""
    site = tmp_path / "site-packages"
    shutil.copytree(SRC, site / "ecgpilot", ignore=shutil.ignore_patterns("*.onnx", "__pycache__", "web", "train"))
    code = "from ecgpilot.paths import cache_dir; print(cache_dir())"
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path / "xdg" / "ecgpilot"
    assert not (tmp_path / ".cache").exists() and not (site / ".cache").exists()
