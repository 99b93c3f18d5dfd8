"""Static types: mypy (``[tool.mypy]`` in pyproject.toml: plain mode, and the per-module flags of ``--strict``
for the modules listed in its override) reports no error in the whole ``ecgpilot`` package (issue 25 §3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ecgpilot"

CLEAN = ["."]   # the whole package, web and store included, since 2026-12-05


def test_mypy_is_clean_on_the_typed_packages():
    targets = [str((SRC / p).resolve()) for p in CLEAN]
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--config-file",
                          str(SRC.parents[1] / "pyproject.toml"), *targets],
                         capture_output=True, text=True, timeout=900, cwd=SRC.parents[1])
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert not errors, "\n".join(errors[:30])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
