"""Can a correction learned on one LUDB half shrink the QRS-duration SD on the other half?

A ridge regression (λ = 1, standardised features) of (reference − ours) on the QRS widths at
2–30 % of the spatial-velocity peak, the log QRS amplitude and the log peak velocity, fitted on
records 1–100 and applied to 101–200 and vice versa (cross-fitted); non-paced records only.
Nothing here is used by the package: it is the experiment behind one row of
``benchmarks/results/measurements.md``.

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/qrs_correction.py
"""

from __future__ import annotations

from typing import Callable

import numpy as np

import bench_measurements as bm
from ecgpilot.signal import delineate as dl
from ecgpilot.signal.beats import record_beats
from ecgpilot.signal.filters import moving_average
from ecgpilot.signal.measure import measure_detail

FRACS = (0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3)


def qrs_features(mb: dl.MedianBeat, bd: dl.Boundaries) -> list[float]:
    """Widths (ms, before and after the peak) at each of :data:`FRACS`, log amplitude, log peak."""
    ms = mb.fs / 1000.0
    d = np.gradient(mb.signal[dl._independent(mb.leads)], axis=1)
    sv = moving_average(np.sqrt((d * d).sum(axis=0)), max(int(round(4 * ms)), 1))
    f, w = mb.fiducial, int(round(60 * ms))
    peak = f - w + int(np.argmax(sv[f - w:f + w + 1]))
    floor = float(np.percentile(sv, 10))
    span = float(sv[peak]) - floor
    hold = max(int(round(dl.HOLD_MS * ms)), 1)
    on_lim = max(peak - int(round(dl.QRS_MAX_MS * 0.7 * ms)), 1)
    off_lim = min(peak + int(round(dl.QRS_MAX_MS * 0.8 * ms)), sv.size - 2)
    out = []
    for q in FRACS:
        a = dl._first_quiet(sv, peak, on_lim, floor + q * span, hold)
        b = dl._first_quiet(sv, peak, off_lim, floor + q * span, hold)
        out += [(peak - a) / ms, (b - peak) / ms]
    amp = float(np.abs(mb.signal[:, bd.qrs_on:bd.qrs_off + 1]).max()) / 1000.0
    return out + [float(np.log(amp)), float(np.log(span))]


def ridge(x: np.ndarray, y: np.ndarray, lam: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """Fitted ridge regression (intercept not penalised) as a prediction function."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    a = np.c_[np.ones(len(x)), (x - mu) / sd]
    pen = lam * np.eye(a.shape[1])
    pen[0, 0] = 0.0
    coef = np.linalg.solve(a.T @ a + pen, a.T @ y)
    return lambda z: np.c_[np.ones(len(z)), (z - mu) / sd] @ coef


def main() -> None:
    paced = bm.paced_records()
    ids, feats, ours, ref = [], [], [], []
    for n in (n for n in range(1, 201) if n not in paced):
        rec = bm.load_record(n).with_derived_leads()
        got, mb, bd = measure_detail(rec.signal, rec.fs, rec.leads, record_beats(rec))
        want = bm.reference(n)["qrs_ms"]
        if mb is None or bd is None or got["qrs_ms"] is None or want is None:
            continue
        ids.append(n), feats.append(qrs_features(mb, bd)), ours.append(got["qrs_ms"]), ref.append(want)
    ids_a, x, o, y = np.array(ids), np.array(feats), np.array(ours, float), np.array(ref, float)
    first = ids_a <= 100
    err = o - y
    print(f"{len(ids)} records; correlation of the error with each feature:",
          " ".join(f"{np.corrcoef(x[:, j], err)[0, 1]:+.2f}" for j in range(x.shape[1])))
    fixed = o.copy()
    fixed[~first] += ridge(x[first], -err[first])(x[~first])
    fixed[first] += ridge(x[~first], -err[~first])(x[first])
    for name, e in (("ours", err), ("ours + cross-fitted correction", fixed - y)):
        print(f"{name:32s}" + "  ".join(f"{lab} {e[m].mean():+.1f} / {e[m].std(ddof=1):.1f}" for lab, m in
                                        (("1-100", first), ("101-200", ~first), ("all", np.ones_like(first)))))


if __name__ == "__main__":
    main()
