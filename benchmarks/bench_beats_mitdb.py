"""QRS detection on MIT-BIH, beat by beat (AAMI EC57 style): sensitivity and positive predictivity.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_beats_mitdb.py [--records 100 101 ...] [--lead 0]

The archive ``../shared/data/mitdb/mitdb.tar.xz`` is extracted once to ``cache_dir()/mitdb``.
Reference: beat annotations only (``wfdb.rdann``, symbols below); a detection matches a
reference beat within ±150 ms (each used once). Both leads are combined by the detector.
As in AAMI EC57, detections inside ventricular flutter/fibrillation episodes (between the
``[`` and ``]`` annotations, record 207) are not scored; the total with them is printed too.
"""

from __future__ import annotations

import argparse
import tarfile
import time
from pathlib import Path

import numpy as np
import wfdb

from ecgpilot.paths import cache_dir, shared_data_dir
from ecgpilot.signal.beats import detect_beats

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")
TOLERANCE_S = 0.150


def extract() -> Path:
    dest = cache_dir() / "mitdb"
    if not any(dest.rglob("*.hea")):
        data = shared_data_dir()
        if data is None:
            raise SystemExit("shared data not found")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(data / "mitdb" / "mitdb.tar.xz") as tar:
            tar.extractall(dest, filter="data")
    return dest


def match(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[int, int, int]:
    """(TP, FN, FP) with one-to-one greedy matching in time order."""
    i = j = tp = 0
    while i < len(ref) and j < len(det):
        if abs(int(det[j]) - int(ref[i])) <= tol:
            tp += 1
            i += 1
            j += 1
        elif det[j] < ref[i]:
            j += 1
        else:
            i += 1
    return tp, len(ref) - tp, len(det) - tp


def vf_mask(ann: wfdb.Annotation, det: np.ndarray) -> np.ndarray:
    """True for detections inside a ``[`` … ``]`` (VF/flutter) episode."""
    inside = np.zeros(len(det), dtype=bool)
    start = None
    for s, sym in zip(ann.sample, ann.symbol):
        if sym == "[":
            start = s
        elif sym == "]" and start is not None:
            inside |= (det >= start) & (det <= s)
            start = None
    return inside


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", nargs="*")
    ap.add_argument("--lead", type=int, default=None, help="use only this signal (0 = first lead, MLII mostly)")
    args = ap.parse_args()
    root = extract()
    heads = sorted(root.rglob("*.hea"))
    names = {h.stem: h for h in heads}
    recs = args.records or sorted(n for n in names if n.isdigit())
    tot = np.zeros(3, dtype=int)
    fp_vf = 0
    t_total = 0.0
    print(f"{'rec':>4} {'beats':>6} {'TP':>6} {'FN':>5} {'FP':>5} {'Se%':>7} {'+P%':>7}")
    for r in recs:
        base = str(names[r].with_suffix(""))
        rec = wfdb.rdrecord(base)
        ann = wfdb.rdann(base, "atr")
        ref = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS])
        t0 = time.perf_counter()
        sig = rec.p_signal.T * 1000.0
        det = detect_beats(sig if args.lead is None else sig[args.lead], rec.fs)
        t_total += time.perf_counter() - t0
        in_vf = vf_mask(ann, det)
        _, _, fp_all = match(ref, det, int(round(TOLERANCE_S * rec.fs)))
        det = det[~in_vf]
        tp, fn, fp = match(ref, det, int(round(TOLERANCE_S * rec.fs)))
        fp_vf += fp_all - fp
        tot += (tp, fn, fp)
        print(f"{r:>4} {len(ref):>6} {tp:>6} {fn:>5} {fp:>5} {100*tp/max(tp+fn,1):7.2f} {100*tp/max(tp+fp,1):7.2f}")
    tp, fn, fp = tot
    print(f"TOTAL {tp+fn} beats: TP {tp} FN {fn} FP {fp}  Se {100*tp/(tp+fn):.2f} %  +P {100*tp/(tp+fp):.2f} %"
          f"  (detection time {t_total:.1f} s for {len(recs)} records)")
    print(f"  counting the {fp_vf} detections inside VF/flutter episodes as false positives: "
          f"+P {100*tp/(tp+fp+fp_vf):.2f} %")


if __name__ == "__main__":
    main()
