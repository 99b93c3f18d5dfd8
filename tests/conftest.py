"""Shared fixtures: where the real data lives, skipping cleanly when it does not."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from ecgpilot.paths import shared_data_dir  # noqa: E402

DATA = shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; the test is skipped with a reason when it is absent."""
    if DATA is None:
        pytest.skip("shared ECG data (../shared/data or $ECGPILOT_DATA) is not available")
    return DATA


def data_file(*parts: str) -> Path:
    """Path of a file under the shared data, or skip the calling test if missing."""
    if DATA is None:
        pytest.skip("shared ECG data (../shared/data or $ECGPILOT_DATA) is not available")
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data file {p} is not available")
    return p


def pytest_configure(config: pytest.Config) -> None:
    """Let test modules import the shared helpers (``conformance``, ``conftest``)."""
    import sys

    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)


def extract_members(tarball: Path, names: set[str], out: Path) -> None:
    """Stream the files called ``names`` (base names) out of ``tarball`` into ``out``, stopping as soon as all
    are out; skips the test naming the missing ones."""
    wanted = set(names)
    with tarfile.open(tarball, "r|*") as tar:
        for member in tar:
            name = Path(member.name).name
            if name in wanted and member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                (out / name).write_bytes(f.read())
                wanted.discard(name)
            if not wanted:
                break
    if wanted:
        pytest.skip(f"{sorted(wanted)} not found in {tarball.name}")
