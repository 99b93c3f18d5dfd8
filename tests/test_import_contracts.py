"""The import rules of ARCHITECTURE.md hold: ``lint-imports`` (import-linter, the contracts in
``.importlinter``) passes on the package, and fails, naming the broken contract, when a module breaks one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` of this interpreter's environment on ``config``, the package found under ``pythonpath``."""
    if not LINT.exists():
        pytest.skip(f"lint-imports is not installed next to {sys.executable} (the [test] extra)")
    env = {"PATH": str(LINT.parent), "PYTHONPATH": str(pythonpath), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    return subprocess.run([str(LINT), "--no-cache", str(config)], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept() -> None:
    res = _lint(ROOT / ".importlinter", ROOT, ROOT / "src")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout, res.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    # a service that reaches back to a route: the web layers
    ("web/services/access.py", "from ecgpilot.web.routes import views", "web: app -> routes -> deps -> services"),
    # the pure signal package reaching for the store
    ("signal/beats.py", "from ecgpilot.store import models", "signal is pure"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """A copy of the package with one forbidden import added: ``lint-imports`` fails and names the contract."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "ecgpilot", src / "ecgpilot", ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
    target = src / "ecgpilot" / module
    assert target.exists(), target
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _forbidden() -> None:\n    {line}  # noqa\n",
                      encoding="utf-8")
    res = _lint(ROOT / ".importlinter", tmp_path, src)
    assert res.returncode != 0, res.stdout
    broken = res.stdout[res.stdout.index("Broken contracts"):]
    assert contract in broken, res.stdout
