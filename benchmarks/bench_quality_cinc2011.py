"""The quality gate on the PhysioNet/CinC Challenge 2011 set (phone ECGs judged acceptable or
unacceptable by the challenge's annotators), and its refusal rate on clinical ECGs.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality_cinc2011.py [--ptbxl-n 400] [--no-clinical]

Split (fixed before any score was looked at): within each class (acceptable / unacceptable)
the rows of ``labels.csv`` are permuted with ``numpy.random.default_rng(2011)``; the first half
of each class (rounded down) is the *tune* half, on which the thresholds of
``ecgpilot.signal.quality`` were chosen, the rest is the *report* half, never used for tuning.

The gate is run exactly as the analysis runs it: ``assess_quality(rec, record_beats(rec))`` on
``rec.with_derived_leads()``. "Caught" = an unacceptable record gets ``not_interpretable``;
"kept" = an acceptable record is interpretable (``good`` or ``usable``). Rates come with Wilson
95 % intervals. Clinical refusals: all 200 LUDB records (read with ``ecgpilot.io.read_ecg``)
and a seeded sample of PTB-XL fold 9 (100 Hz).
"""

from __future__ import annotations

import argparse
import csv
import lzma
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from ecgpilot.leads import STANDARD_12
from ecgpilot.paths import cache_dir, shared_data_dir
from ecgpilot.record import ECGRecord
from ecgpilot.signal.beats import record_beats
from ecgpilot.signal.quality import NOT_INTERPRETABLE, assess_quality
from _stats import wilson

FS = 500.0
UV_PER_UNIT = 5.0
SPLIT_SEED = 2011
PTBXL_SEED = 9


@dataclass(frozen=True)
class CinC2011:
    """The 498 records: ``signals`` int16 ADC units (n, 12, 5000), ``acceptable`` (n,) bool,
    ``record`` names, ``tune`` (n,) bool: the tuning half (the rest is reported)."""

    signals: NDArray[np.int16]
    acceptable: NDArray[np.bool_]
    record: list[str]
    tune: NDArray[np.bool_]

    def ecg(self, row: int) -> ECGRecord:
        """Row ``row`` as a 12-lead record in µV, with the derived leads as the analysis uses them."""
        sig = self.signals[row].astype(np.float32) * UV_PER_UNIT
        return ECGRecord(signal=sig, fs=FS, leads=STANDARD_12).with_derived_leads()


def stratified_tune_mask(acceptable: NDArray[np.bool_], seed: int = SPLIT_SEED) -> NDArray[np.bool_]:
    """The tuning half: per class, the first half (rounded down) of a seeded permutation."""
    rng = np.random.default_rng(seed)
    tune = np.zeros(acceptable.size, dtype=bool)
    for cls in (True, False):
        rows = np.flatnonzero(acceptable == cls)
        perm = rng.permutation(rows)
        tune[perm[: rows.size // 2]] = True
    return tune


def load_cinc2011(root: Path | None = None) -> CinC2011:
    """Read labels.csv and the signals (decoded once into ``cache_dir()/cinc2011_signals.npy``)."""
    if root is None:
        data = shared_data_dir()
        if data is None:
            raise FileNotFoundError("shared ECG data (../shared/data or $ECGPILOT_DATA) is not available")
        root = data / "cinc2011-quality"
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    src = root / "signals.npy.xz"
    cache = cache_dir() / "cinc2011_signals.npy"
    if not cache.exists() or cache.stat().st_mtime < src.stat().st_mtime:
        with lzma.open(src) as f:
            arr = np.load(f)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        tmp.replace(cache)
    signals = np.load(cache, mmap_mode="r")
    if signals.shape[0] != len(rows):
        raise ValueError(f"{src}: {signals.shape[0]} records but {len(rows)} labels")
    acceptable = np.array([r["acceptable"] == "1" for r in rows])
    assert [int(r["row"]) for r in rows] == list(range(len(rows)))
    return CinC2011(signals, acceptable, [r["record"] for r in rows], stratified_tune_mask(acceptable))


def quality_of(rec: ECGRecord) -> dict[str, Any]:
    """The gate exactly as the analysis calls it."""
    return assess_quality(rec, record_beats(rec))


def refused_rows(data: CinC2011, gate: Callable[[ECGRecord], dict[str, Any]] = quality_of) -> NDArray[np.bool_]:
    """Per row: did the gate answer ``not_interpretable``?"""
    return np.array([gate(data.ecg(i))["verdict"] == NOT_INTERPRETABLE for i in range(len(data.record))])


def scores(acceptable: NDArray[np.bool_], refused: NDArray[np.bool_]) -> dict[str, Any]:
    """Confusion counts and accuracy / caught / kept with Wilson 95 % intervals."""
    tp = int(np.sum(~acceptable & refused))   # unacceptable refused
    fn = int(np.sum(~acceptable & ~refused))  # unacceptable interpreted
    tn = int(np.sum(acceptable & ~refused))   # acceptable interpreted
    fp = int(np.sum(acceptable & refused))    # acceptable refused
    n = tp + fn + tn + fp
    out: dict[str, Any] = {"tp": tp, "fn": fn, "tn": tn, "fp": fp, "n": n}
    for name, k, m in (("accuracy", tp + tn, n), ("caught", tp, tp + fn), ("kept", tn, tn + fp)):
        out[name] = k / m if m else float("nan")
        out[name + "_ci"] = wilson(k, m)
    return out


def format_scores(title: str, s: dict[str, Any]) -> str:
    """A markdown block: confusion table then the three rates."""
    def r(name: str) -> str:
        lo, hi = s[name + "_ci"]
        return f"{s[name]:.3f} ({lo:.3f}–{hi:.3f})"
    return "\n".join([
        f"**{title}** (n = {s['n']})", "",
        "| annotators \\ gate | not_interpretable | interpretable |", "|---|---:|---:|",
        f"| unacceptable | {s['tp']} | {s['fn']} |", f"| acceptable | {s['fp']} | {s['tn']} |", "",
        f"accuracy {r('accuracy')} · unacceptable caught {r('caught')} · acceptable kept {r('kept')}", ""])


def ludb_refusals() -> tuple[list[str], int]:
    """LUDB records (read with ``read_ecg``) the gate refuses, and how many were read."""
    from ecgpilot.io import read_ecg

    data = shared_data_dir()
    assert data is not None
    bad = []
    for n in range(1, 201):
        rec = read_ecg(data / "ludb" / "data" / f"{n}.hea").with_derived_leads()
        if quality_of(rec)["verdict"] == NOT_INTERPRETABLE:
            bad.append(str(n))
    return bad, 200


def ptbxl_refusals(n: int) -> tuple[list[int], int, Counter[str]]:
    """Refused ecg_ids in a seeded sample of ``n`` fold-9 PTB-XL records (all of fold 9 if n ≤ 0)."""
    from ecgpilot.datasets.ptbxl import load_ptbxl

    ptbxl = load_ptbxl()
    idx = ptbxl.folds(9)
    if 0 < n < idx.size:
        idx = np.sort(np.random.default_rng(PTBXL_SEED).choice(idx, n, replace=False))
    bad = []
    reasons: Counter[str] = Counter()
    for k in idx:
        rec = ECGRecord(signal=np.asarray(ptbxl.signals[k], dtype=np.float32).T, fs=100.0, leads=STANDARD_12)
        q = quality_of(rec)
        if q["verdict"] == NOT_INTERPRETABLE:
            bad.append(int(ptbxl.ecg_id[k]))
            reasons.update(r["code"] for r in q["reasons"] if r["severity"] == "critical" and r["lead"] is None)
    return bad, int(idx.size), reasons


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbxl-n", type=int, default=0, help="fold-9 sample size (0: all of fold 9)")
    ap.add_argument("--no-clinical", action="store_true", help="skip LUDB and PTB-XL")
    args = ap.parse_args()
    data = load_cinc2011()
    t0 = time.perf_counter()
    refused = refused_rows(data)
    dt = time.perf_counter() - t0
    print(f"CinC 2011 set-a subset: {len(data.record)} records, gate {1000 * dt / len(data.record):.0f} ms/record "
          f"(beats + quality)\n")
    print(format_scores("Tune half (thresholds chosen here)", scores(data.acceptable[data.tune], refused[data.tune])))
    print(format_scores("Report half (never tuned on)", scores(data.acceptable[~data.tune], refused[~data.tune])))
    print(format_scores("All 498", scores(data.acceptable, refused)))
    if args.no_clinical:
        return
    bad, n = ludb_refusals()
    lo, hi = wilson(len(bad), n)
    print(f"LUDB: {len(bad)}/{n} refused (Wilson 95 % {lo:.4f}–{hi:.4f}) {bad}")
    pbad, pn, reasons = ptbxl_refusals(args.ptbxl_n)
    lo, hi = wilson(len(pbad), pn)
    print(f"PTB-XL fold 9: {len(pbad)}/{pn} refused ({100 * len(pbad) / pn:.2f} %), "
          f"Wilson 95 % {lo:.4f}–{hi:.4f}; ecg_ids {pbad[:40]}; record-level reasons {dict(reasons)}")


if __name__ == "__main__":
    main()
