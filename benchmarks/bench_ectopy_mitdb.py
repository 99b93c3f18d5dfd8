"""Premature complexes from the tracing (``ecgpilot.signal.ectopy``) on MIT-BIH, in 10-s windows.

Each MIT-BIH record (two leads, 360 Hz, 30 min; the four paced records 102, 104, 107, 217 left out as
in AAMI EC57) is cut into consecutive 10-s windows, as if each were a resting ECG. In each window the
product's beat detector finds the QRS, ``signal.ectopy`` classes them, and the detections are matched
to the annotated beats (±150 ms). AAMI classes of the annotations: V = {V, E}, S = {A, a, J, S},
N = {N, L, R, e, j}; fusion (F) and unknown (Q) beats are not scored.

**Split (fixed):** the 44 record names sorted; even positions = tuning half (thresholds chosen there,
``--grid``), odd positions = report half.

Scores: beat level, sensitivity and positive predictivity of V and S (AAMI EC57 style, gross over
beats); window level (what the GP sees): a window with at least one annotated V (S) beat against
"premature ventricular (atrial) complexes" in the reading's sense, i.e. ``n_v ≥ 1`` (``n_s ≥ 1``),
sensitivity and specificity with Wilson 95 % CIs.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ectopy_mitdb.py [--split tuning|report|all] [--grid] [--timed]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import wilson  # noqa: E402
from bench_beats_mitdb import extract  # noqa: E402

from ecgpilot.signal import ectopy  # noqa: E402
from ecgpilot.signal.beats import detect_beats  # noqa: E402

PACED = {"102", "104", "107", "217"}
AAMI = {**{s: "V" for s in "VE"}, **{s: "S" for s in "AaJS"}, **{s: "N" for s in "NLRej"}}
WINDOW_S = 10.0
TOL_S = 0.150


def records(split: str) -> list[str]:
    root = extract()
    names = sorted(h.stem for h in root.rglob("*.hea") if h.stem.isdigit() and h.stem not in PACED)
    if split == "tuning":
        return names[0::2]
    if split == "report":
        return names[1::2]
    return names


def windows(name: str):  # noqa: ANN201
    """(signal window µV, fs, detections, per-detection reference class or None) per 10-s window."""
    root = extract()
    base = str(next(root.rglob(f"{name}.hea")).with_suffix(""))
    rec = wfdb.rdrecord(base)
    ann = wfdb.rdann(base, "atr")
    fs = float(rec.fs)
    sig = rec.p_signal.T * 1000.0
    ref = [(int(s), AAMI.get(sym)) for s, sym in zip(ann.sample, ann.symbol) if sym in AAMI or sym in "FQ/f"]
    ref_s = np.array([s for s, _ in ref])
    ref_c = [c for _, c in ref]
    w = int(WINDOW_S * fs)
    tol = int(TOL_S * fs)
    for a in range(0, sig.shape[1] - w + 1, w):
        x = sig[:, a:a + w]
        det = detect_beats(x, fs)
        lab: list[str | None] = []
        inside = np.flatnonzero((ref_s >= a) & (ref_s < a + w))
        for d in det:
            j = inside[np.argmin(np.abs(ref_s[inside] - (a + d)))] if inside.size else None
            lab.append(ref_c[j] if j is not None and abs(ref_s[j] - (a + d)) <= tol else None)
        truth_v = any(ref_c[j] == "V" for j in inside)
        truth_s = any(ref_c[j] == "S" for j in inside)
        yield x, fs, det, lab, truth_v, truth_s


def collect(names: list[str]) -> list[tuple]:
    """Per window: (beats, fs, features, labels, truth_v, truth_s)."""
    rows = []
    t0 = time.perf_counter()
    for k, name in enumerate(names):
        for x, fs, det, lab, tv, ts in windows(name):
            rows.append((det, fs, ectopy.beat_features(x, fs, det), lab, tv, ts))
        print(f"  {k + 1}/{len(names)} records ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return rows


def score(rows: list[tuple], timed: bool = False, **th: float) -> dict[str, tuple[int, int]]:
    """Counts: beat-level V/S (tp, ref) and (tp, called); window-level (tp, pos) and (tn, neg).
    ``timed``: a V beat counts only when :func:`ecgpilot.signal.ectopy.timed_v` also times it as a PVC (the
    reading's rule without an AI reading, rules 2026.12.4)."""
    c = {k: [0, 0] for k in ("v_se", "v_pp", "s_se", "s_pp", "wv_se", "wv_sp", "ws_se", "ws_sp")}
    for det, fs, (idx, corr, ratio), lab, tv, ts in rows:
        got = ectopy.classify(det, fs, idx, corr, ratio, **th)
        cls = got["classes"]
        if timed:
            keep = set(ectopy.timed_v(det, cls))
            cls = ["N" if c_ == "V" and j not in keep else c_ for j, c_ in enumerate(cls)]
            got = {**got, "n_v": len(keep)}
        for g, r in zip(cls, lab):
            for k in ("V", "S"):
                kk = k.lower()
                if r == k:
                    c[f"{kk}_se"][1] += 1
                    c[f"{kk}_se"][0] += g == k
                if g == k and r is not None:
                    c[f"{kk}_pp"][1] += 1
                    c[f"{kk}_pp"][0] += r == k
        pv, ps = got["n_v"] >= 1, got["n_s"] >= 1
        c["wv_se" if tv else "wv_sp"][1] += 1
        c["wv_se" if tv else "wv_sp"][0] += pv if tv else not pv
        c["ws_se" if ts else "ws_sp"][1] += 1
        c["ws_se" if ts else "ws_sp"][0] += ps if ts else not ps
    return {k: (v[0], v[1]) for k, v in c.items()}


def fmt(k: int, n: int) -> str:
    if n == 0:
        return "–"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.3f} ({lo:.2f}–{hi:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tuning", "report", "all"), default="report")
    ap.add_argument("--grid", action="store_true", help="threshold grid (use on the tuning half only)")
    ap.add_argument("--timed", action="store_true",
                    help="also the reading without an AI: V beats timed as PVCs only (early, then a pause)")
    args = ap.parse_args()
    rows = collect(records(args.split))
    if args.grid:
        for vc, ve, pf, vp in itertools.product((0.7, 0.8, 0.9), (2.0, 2.5, 3.0), (0.85,), (None, 0.9, 0.95)):
            s = score(rows, v_corr=vc, v_energy=ve, premature_frac=pf, v_premature=vp)
            j_v = s["wv_se"][0] / max(s["wv_se"][1], 1) + s["wv_sp"][0] / max(s["wv_sp"][1], 1) - 1
            j_s = s["ws_se"][0] / max(s["ws_se"][1], 1) + s["ws_sp"][0] / max(s["ws_sp"][1], 1) - 1
            print(f"v_corr {vc} v_energy {ve} premature {pf} v_premature {vp}: window Youden V {j_v:.3f} S {j_s:.3f}; "
                  f"beat V Se {s['v_se'][0] / max(s['v_se'][1], 1):.3f} +P {s['v_pp'][0] / max(s['v_pp'][1], 1):.3f}; "
                  f"S Se {s['s_se'][0] / max(s['s_se'][1], 1):.3f} +P {s['s_pp'][0] / max(s['s_pp'][1], 1):.3f}")
        return
    s = score(rows)
    print(f"\nMIT-BIH {args.split} half, {len(rows)} windows of 10 s; thresholds V_CORR={ectopy.V_CORR}, "
          f"V_ENERGY={ectopy.V_ENERGY}, PREMATURE_FRAC={ectopy.PREMATURE_FRAC}, IRREGULAR_CV={ectopy.IRREGULAR_CV}")
    print("| level | class | sensitivity | positive predictivity / specificity |\n|---|---|---|---|")
    print(f"| beat | V | {fmt(*s['v_se'])} | +P {fmt(*s['v_pp'])} |")
    print(f"| beat | S | {fmt(*s['s_se'])} | +P {fmt(*s['s_pp'])} |")
    print(f"| 10-s window | any V | {fmt(*s['wv_se'])} | Sp {fmt(*s['wv_sp'])} |")
    print(f"| 10-s window | any S | {fmt(*s['ws_se'])} | Sp {fmt(*s['ws_sp'])} |")
    if args.timed:
        t = score(rows, timed=True)
        print(f"| beat, timed (no AI) | V | {fmt(*t['v_se'])} | +P {fmt(*t['v_pp'])} |")
        print(f"| 10-s window, timed (no AI) | any V | {fmt(*t['wv_se'])} | Sp {fmt(*t['wv_sp'])} |")


if __name__ == "__main__":
    main()
