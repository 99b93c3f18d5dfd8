"""Paired comparison of two exported classifiers on PTB-XL fold 10: per-task macro-AUC of
each, their difference and its paired bootstrap 95 % interval (the same resampled records for
both models), and the per-statement AUCs that moved most.

Only for reporting a model already chosen on fold 9 (``select_members.py``): never use it to
choose.

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compare_models.py NEW.onnx OLD.onnx [--boot 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench_classifier import probs_from_signals, task_cols
from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.model import load_model
from ecgpilot.model.metrics import macro_auc, roc_auc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("new", type=Path)
    ap.add_argument("old", type=Path)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--fold", type=int, default=10)
    args = ap.parse_args()
    data = load_ptbxl()
    idx = data.folds(args.fold)
    sig = np.asarray(data.signals[idx], dtype=np.float32)
    models = [load_model(args.new), load_model(args.old)]
    outs = models[0].meta["outputs"]
    if [(o["task"], o["code"]) for o in outs] != [(o["task"], o["code"]) for o in models[1].meta["outputs"]]:
        raise SystemExit("the two models do not have the same outputs in the same order")
    y = data.targets([(o["task"], o["code"]) for o in outs])[idx]
    p = [probs_from_signals(m, sig) for m in models]
    cols = {t: [j for j in c if 0 < y[:, j].sum() < len(y)] for t, c in task_cols(outs).items()}
    from scipy.stats import bootstrap

    tasks = list(cols)

    def delta(i: np.ndarray) -> np.ndarray:   # paired: the same resampled records for both models
        i = i.astype(int)
        return np.array([macro_auc(y[i][:, cols[t]], p[0][i][:, cols[t]]) - macro_auc(y[i][:, cols[t]], p[1][i][:, cols[t]])
                         for t in tasks])

    ci = bootstrap((np.arange(len(y)),), delta, vectorized=False, n_resamples=args.boot, method="percentile",
                   random_state=np.random.default_rng(0)).confidence_interval
    print(f"fold {args.fold}: {models[0].version} vs {models[1].version}")
    print("| task | new | old | new − old (paired 95 % CI) |\n|---|---|---|---|")
    for t, c in cols.items():
        a, o = macro_auc(y[:, c], p[0][:, c]), macro_auc(y[:, c], p[1][:, c])
        k = tasks.index(t)
        lo, hi = ci.low[k], ci.high[k]
        print(f"| {t} | {a:.4f} | {o:.4f} | {a - o:+.4f} ({lo:+.4f} to {hi:+.4f}) |")
    moved = sorted(((roc_auc(y[:, j], p[0][:, j]) - roc_auc(y[:, j], p[1][:, j]), j)
                    for c in cols.values() for j in c), key=lambda d: abs(d[0]), reverse=True)[:8]
    print("largest per-statement changes:", ", ".join(
        f"{outs[j]['task']}/{outs[j]['code']} {d:+.3f} ({int(y[:, j].sum())} pos)" for d, j in moved))


if __name__ == "__main__":
    main()
