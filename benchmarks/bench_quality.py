"""Quality verdicts on real ECGs: PTB-XL (12 leads, 100 Hz) and PhysioNet/CinC 2017
(single lead, 300 Hz, with the experts' "noisy" class).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality.py [--n 2200]

Reads PTB-XL through ``ecgpilot.datasets.ptbxl.load_ptbxl()`` (the decoded signals are
cached on first use); then runs quality + measurements on every k-th record of
fold 10 up to ``--n`` records and prints the verdict counts, reason counts, and the
heart rate / QRS / QT distribution, plus the verdict split by the PTB-XL rhythm labels.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter

import numpy as np

from ecgpilot.leads import STANDARD_12
from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.paths import shared_data_dir
from ecgpilot.record import ECGRecord
from ecgpilot.signal.beats import record_beats
from ecgpilot.signal.measure import measure_beats
from ecgpilot.signal.quality import assess_quality


def cinc2017() -> None:
    """Verdicts per CinC 2017 class (N normal, A AF, O other, ~ noisy)."""
    import scipy.io

    data = shared_data_dir()
    assert data is not None
    root = data / "cinc2017-subset"
    with open(root / "REFERENCE.csv", newline="") as f:
        labels = dict(csv.reader(f))
    by: dict[str, Counter[str]] = {}
    for name, lab in labels.items():
        x = scipy.io.loadmat(root / f"{name}.mat")["val"].astype(np.float64).ravel()  # 1000 units/mV
        rec = ECGRecord(signal=x[None], fs=300.0, leads=("ECG",))
        by.setdefault(lab, Counter())[assess_quality(rec)["verdict"]] += 1
    print("CinC 2017 subset, verdict per expert class:")
    for lab, c in sorted(by.items()):
        print(f"  {lab}: {dict(c)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    cinc2017()
    ptbxl = load_ptbxl()
    idx = ptbxl.folds(10)[: args.n]
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    by_rhythm: dict[str, Counter[str]] = {}
    hr, qrs, qt = [], [], []
    t0 = time.perf_counter()
    for k in idx:
        rec = ECGRecord(signal=np.asarray(ptbxl.signals[k], dtype=np.float32).T, fs=100.0, leads=STANDARD_12)
        beats = record_beats(rec)
        q = assess_quality(rec, beats)
        verdicts[q["verdict"]] += 1
        reasons.update(r["code"] for r in q["reasons"])
        rhythm = ptbxl.labels["rhythm"][k] or ["-"]
        by_rhythm.setdefault(rhythm[0], Counter())[q["verdict"]] += 1
        if q["interpretable"]:
            m = measure_beats(rec.signal, rec.fs, rec.leads, beats)
            hr.append(m["heart_rate_bpm"])
            if m["qrs_ms"] is not None:
                qrs.append(m["qrs_ms"])
            if m["qt_ms"] is not None:
                qt.append(m["qt_ms"])
    dt = time.perf_counter() - t0
    print(f"PTB-XL fold 10, {len(idx)} records at 100 Hz ({dt:.1f} s)")
    print("verdicts:", dict(verdicts))
    print("reasons:", dict(reasons.most_common()))
    for name, v in (("heart rate bpm", hr), ("QRS ms", qrs), ("QT ms", qt)):
        v = np.asarray([x for x in v if x is not None], dtype=float)
        print(f"{name}: n={v.size}, median {np.median(v):.0f}, 5-95 % {np.percentile(v, 5):.0f}..{np.percentile(v, 95):.0f}")
    print("verdict by first rhythm label:")
    for code, c in sorted(by_rhythm.items(), key=lambda kv: -sum(kv[1].values()))[:8]:
        print(f"  {code}: {dict(c)}")


if __name__ == "__main__":
    main()
