"""LUDB (Lobachevsky University Database, v1.0.1) records with their true amplitudes, and its diagnoses.

**Why not just** :func:`ecgpilot.io.read_ecg`: the LUDB headers give every lead its own gain,
equal to the lead's peak-to-peak range in ADC units, so that each lead read in physical units
spans exactly 1 mV over the record (2400 of 2400 leads). Those physical values break Einthoven's
law (III = II − I: mean error 39–76 % of |II| on records 1, 7, 21, 50, 150), while the stored ADC
values obey it (0–2.5 %), as they obey Goldberger's (aVR = −(I + II)/2). The ADC values are
therefore the recorded signal, one unit per µV (the gain of the cart's export, 1000 units/mV, under
which the R waves of V2–V4 reach 2–3 mV as expected). Voltage criteria (ST in mm, Sokolow-Lyon,
Cornell, low voltage) are meaningful only on these values.

``read_ludb(n)`` returns the ECGRecord of record ``n`` (1–200) in µV = ADC units − baseline;
``ludb_diagnoses()`` the rows of ``ludb.csv`` by record number, cells stripped.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from ecgpilot.errors import ConfigError, ReadError
from ecgpilot.paths import shared_data_dir
from ecgpilot.record import ECGRecord

__all__ = ["ludb_root", "read_ludb", "ludb_diagnoses", "header_gains"]


def ludb_root(root: Path | None = None) -> Path | None:
    """The LUDB folder (holding ``data/`` and ``ludb.csv``), or None when it is absent."""
    if root is None:
        data = shared_data_dir()
        root = None if data is None else data / "ludb"
    return root if root is not None and (root / "data" / "1.hea").exists() else None


def header_gains(hea: Path) -> list[float]:
    """Per-signal ADC gains (units per mV) of a WFDB header (0 or none: 200, as WFDB reads them)."""
    from ecgpilot.io.wfdb import read_header

    return [s.gain for s in read_header(hea).signals]


def read_ludb(number: int, root: Path | None = None) -> ECGRecord:
    """Record ``number`` (1–200) of LUDB in µV from its ADC values (see the module docstring)."""
    from ecgpilot.io import read_ecg

    if not 1 <= int(number) <= 200:
        raise ConfigError(f"LUDB record {number!r} does not exist; accepted: 1 to 200.")
    base = ludb_root(root)
    if base is None:
        raise ReadError("LUDB not found: set ECGPILOT_DATA to the folder holding ludb/ (../shared/data).")
    hea = base / "data" / f"{int(number)}.hea"
    rec = read_ecg(hea)
    gains = np.array(header_gains(hea), dtype=np.float64)
    if gains.size != rec.n_leads:
        raise ReadError(f"{hea}: {gains.size} gains for {rec.n_leads} leads.")
    # physical µV = adu / gain * 1000  ->  adu = µV * gain / 1000 (one unit = 1 µV)
    signal = (rec.signal.astype(np.float64) * gains[:, None] / 1000.0).astype(np.float32)
    extra = {**rec.source.extra, "amplitude": "LUDB ADC units as µV (header gains ignored, see ecgpilot.datasets.ludb)"}
    return rec.replace(signal=signal, source=dataclasses.replace(rec.source, extra=extra))


def ludb_diagnoses(root: Path | None = None) -> dict[int, dict[str, str]]:
    """``ludb.csv`` rows by record number, every cell stripped of surrounding whitespace."""
    base = ludb_root(root)
    if base is None:
        raise ReadError("LUDB not found: set ECGPILOT_DATA to the folder holding ludb/ (../shared/data).")
    with open(base / "ludb.csv", newline="") as f:
        return {int(r["ID"]): {k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(f)}
