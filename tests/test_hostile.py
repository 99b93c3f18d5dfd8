"""Every file of ``../shared/data/hostile`` (listed in its ``INDEX.tsv``) is refused cleanly.

Each is read by ``read_ecg`` in a fresh interpreter under generous caps (``RLIMIT_AS`` 1 GiB, 20 s),
so a decompression bomb, a quadratic loop or a 4 GiB read fails the test instead of the machine. The
issue's goal (< 1 s, < 200 MB each) is measured in ``benchmarks/bench_fuzz.py --hostile``
(``benchmarks/results/fuzz.md``), not here: a loaded CI machine must not make this flaky.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA

HOSTILE = DATA / "hostile" if DATA is not None else None
MEMORY_CAP = 1 << 30  # bytes of address space for the reading interpreter (imports take ~250 MB)
TIME_CAP_S = 20.0

#: Run in the child: read the file, print what came out as one JSON line.
_READ = """
import json, sys, warnings
warnings.simplefilter("ignore")
from ecgpilot.io import read_ecg
try:
    rec = read_ecg(sys.argv[1])
    print(json.dumps({"outcome": "valid", "detail": repr(rec)}))
except BaseException as exc:
    from ecgpilot.errors import ReadError
    kind = "refused" if isinstance(exc, ReadError) else "foreign"
    causes, cause = [], exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 10:
        causes.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    print(json.dumps({"outcome": kind, "type": type(exc).__module__ + "." + type(exc).__name__,
                      "causes": causes, "detail": str(exc)}))
"""


def _rows() -> list[list[str]]:
    if HOSTILE is None or not (HOSTILE / "INDEX.tsv").is_file():
        return []
    rows = [line.split("\t") for line in (HOSTILE / "INDEX.tsv").read_text().splitlines() if line.strip()]
    return [r for r in rows if (HOSTILE / r[0]).is_file()]


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


ROWS = _rows()


@pytest.mark.skipif(not ROWS, reason="shared data hostile/ (../shared/data or $ECGPILOT_DATA) is not available")
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS] or None)
def test_hostile_file_is_refused_cleanly_within_caps(row: list[str]) -> None:
    path = HOSTILE / row[0]  # type: ignore[operator]
    try:
        done = subprocess.run([sys.executable, "-c", _READ, str(path)], capture_output=True, text=True,
                              timeout=TIME_CAP_S, preexec_fn=_limit_memory, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{row[0]} ({row[1]}): read_ecg ran past {TIME_CAP_S:g} s")
    lines = done.stdout.strip().splitlines()
    assert lines, f"{row[0]}: the reader died (status {done.returncode}): {done.stderr[-2000:]}"
    got = json.loads(lines[-1])
    assert got["outcome"] == "refused", f"{row[0]} ({row[1]}): {got}"
    assert "MemoryError" not in got["causes"], f"{row[0]}: refused only for lack of memory: {got['detail']}"
    assert row[0] in got["detail"], f"{row[0]}: the message does not name the file: {got['detail']}"


def test_hostile_index_lists_every_file() -> None:
    if HOSTILE is None or not HOSTILE.is_dir():
        pytest.skip("shared data hostile/ is not available")
    listed = {r[0] for r in ROWS}
    present = {p.name for p in HOSTILE.iterdir() if p.name not in ("INDEX.tsv", "README.md")}
    assert present <= listed, f"files without an INDEX.tsv row (not tested): {sorted(present - listed)}"
