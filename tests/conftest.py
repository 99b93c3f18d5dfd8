"""Shared fixtures: where the real data lives, skipping cleanly when it does not."""

from __future__ import annotations

import os
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
