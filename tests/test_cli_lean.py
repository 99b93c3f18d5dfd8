"""A serving install has no PyTorch: every command but ``train`` must work without it.

The commands run in a fresh interpreter whose import system refuses the ``[train]`` extra's
modules (torch, onnx, sklearn) exactly as a missing package does (``ModuleNotFoundError`` from a
meta-path finder placed first), and which reports at exit whether any of them was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import data_file

import ecgpilot

BLOCKED = ("torch", "onnx", "sklearn")

_WRAPPER = """
import sys
BLOCKED = {blocked!r}

class _NoTrainExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, _NoTrainExtra())
from ecgpilot.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("LOADED=" + ",".join(loaded), file=sys.stderr)
sys.exit(rc)
"""


def _run_without_train_extra(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", _WRAPPER.format(blocked=BLOCKED), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _loaded(proc: subprocess.CompletedProcess[str]) -> str:
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")]
    assert line, proc.stderr
    return line[-1].removeprefix("LOADED=")


def test_the_blocker_really_blocks_torch() -> None:
    """The wrapper is honest: importing torch in it fails as on an install without the extra."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER.format(blocked=BLOCKED).replace(
        "from ecgpilot.cli import main", "import torch")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "ModuleNotFoundError: No module named 'torch'" in proc.stderr


def test_help_lists_every_command_without_torch() -> None:
    proc = _run_without_train_extra("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("what", "analyze", "compare-models", "serve", "train", "audit", "ai", "backup", "user"):
        assert command in proc.stdout
    assert _loaded(proc) == ""


def test_train_help_shows_its_options_without_torch() -> None:
    proc = _run_without_train_extra("train", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--epochs EPOCHS" in proc.stdout and "--members MEMBERS" in proc.stdout
    assert "default: runs/ptbxl" in proc.stdout
    assert _loaded(proc) == ""


def test_train_without_the_extra_says_how_to_install_it() -> None:
    proc = _run_without_train_extra("train", "--epochs", "1", "--limit", "8")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "needs the [train] extra; missing: torch, onnx, scikit-learn" in proc.stderr
    assert "pip install '.[train]'" in proc.stderr


def test_what_and_analyze_without_torch() -> None:
    hea = data_file("ludb", "data", "1.hea")
    proc = _run_without_train_extra("what", str(hea), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["format"] == "wfdb" and len(info["leads"]) == 12 and info["fs"] == 500.0
    proc = _run_without_train_extra("analyze", str(hea), "--json", "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ai"]["model_version"]            # the ONNX classifier ran, without PyTorch
    assert doc["measurements"]["heart_rate_bpm"] == pytest.approx(45.5, abs=1.0)
    assert doc["reading"]["urgency"]["level"] == "routine"
    assert _loaded(proc) == ""


def test_serve_help_without_torch() -> None:
    proc = _run_without_train_extra("serve", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--port" in proc.stdout
    assert _loaded(proc) == ""


def test_version_and_python_dash_m() -> None:
    for cmd in ([sys.executable, "-m", "ecgpilot", "--version"],
                [str(Path(sys.executable).with_name("ecgpilot")), "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"ecgpilot {ecgpilot.__version__}"
    proc = subprocess.run([sys.executable, "-m", "ecgpilot", "what", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: ecgpilot what")


ROOT = Path(__file__).resolve().parents[1]


def _requirement_name(req: str) -> str:
    import re

    return re.split(r"[\[<>=!~; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def test_serving_install_has_no_torch_and_ci_installs_the_extras() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    serving = {_requirement_name(r) for r in project["dependencies"] + extras["web"]}
    assert not serving & {"torch", "onnx", "scikit-learn", "pytest", "pyarrow", "ray"}
    assert "torch" in {_requirement_name(r) for r in extras["train"]}
    assert {"pyarrow"} <= {_requirement_name(r) for r in extras["batch"]}
    assert {"ray", "pyarrow"} <= {_requirement_name(r) for r in extras["scale"]}
    run = (ROOT / "scripts" / "run").read_text(encoding="utf-8")
    assert "bash scripts/setup web\n" in run
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/setup web,train,test,batch,scale,pilot" in ci
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]


def test_constraints_pin_every_dependency_of_every_extra() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and "+" not in version, f"constraints.txt: {line!r} is not NAME==VERSION"
            pinned[_requirement_name(name)] = version
    wanted = {_requirement_name(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        wanted |= {_requirement_name(r) for r in reqs}
    assert wanted - set(pinned) == set(), "add them with the command in constraints.txt's header"
    assert "ecgpilot" not in pinned
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    assert "-c constraints.txt" in setup
