"""Conformance checks every reader must pass (as scikit-learn's estimator checks).

Use ``check_record(record, ...)`` on what a reader returned and ``check_reader_file(path, ...)``
for the whole path: detection, reading, invariants and one known sample value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgpilot import ECGRecord, detect_format, read_ecg
from ecgpilot.leads import KNOWN_LEADS


def check_record(
    rec: ECGRecord,
    *,
    fs: float,
    n_samples: int | None = None,
    leads: tuple[str, ...] | None = None,
    fmt: str | None = None,
) -> None:
    """Invariants every reader output must satisfy."""
    assert isinstance(rec, ECGRecord)
    assert rec.signal.dtype == np.float32
    assert rec.signal.ndim == 2 and rec.signal.shape[0] == len(rec.leads)
    assert rec.fs == fs, f"fs {rec.fs} != {fs}"
    if n_samples is not None:
        assert rec.n_samples == n_samples, f"n_samples {rec.n_samples} != {n_samples}"
    if leads is not None:
        assert rec.leads == leads, f"leads {rec.leads} != {leads}"
    assert all(name in KNOWN_LEADS for name in rec.leads)
    assert np.isfinite(rec.signal).all()
    if fmt is not None:
        assert rec.source.format == fmt
    # Units are µV: a real ECG has QRS complexes of roughly 0.2 to 8 mV somewhere,
    # so the largest peak-to-peak amplitude must fall in 150 µV .. 20 mV.
    ptp = float(np.max(np.ptp(rec.signal, axis=1)))
    assert 150.0 <= ptp <= 20000.0, f"peak-to-peak {ptp:.1f} µV is not a plausible ECG in µV"


def check_reader_file(
    path: Path,
    *,
    fmt: str,
    fs: float,
    n_samples: int | None = None,
    leads: tuple[str, ...] | None = None,
    known_samples: dict[tuple[str, int], float] | None = None,
    atol_uv: float = 0.51,
) -> ECGRecord:
    """Detect, read and check a real file; ``known_samples`` maps (lead, index) -> µV
    taken from the file's own printout or metadata (an independent reference)."""
    assert detect_format(path) == fmt, f"detected {detect_format(path)!r}, expected {fmt!r}"
    rec = read_ecg(path)
    check_record(rec, fs=fs, n_samples=n_samples, leads=leads, fmt=fmt)
    for (lead, idx), value in (known_samples or {}).items():
        got = float(rec.lead(lead)[idx])
        assert abs(got - value) <= atol_uv, f"{lead}[{idx}] = {got} µV, expected {value} µV"
    return rec
