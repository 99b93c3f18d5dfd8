"""Which boosted-tree settings to add to the network ensemble (``ecgpilot train --trees``):
fold-9 scores, file size and latency of every candidate, never fold 10.

Each candidate fits one HistGradientBoosting model per output on folds 1-8 (the record
features as the graph reads them), takes its per-task weights on fold 9
(``ecgpilot.train.trees.choose_weights``) and is merged into the base model's ONNX file. The
rule: among the candidates whose file is under 5 MB and whose model (networks + trees) runs
under 10 ms per 10-s ECG on one core, the best fold-9 mean of the four tasks' macro-AUCs;
candidates within 0.0005 of it count as tied and the smallest file wins. (Written down after
an exploratory run of the same four candidates, see benchmarks/results/trees.md.)

Usage (repository root; BASE holds the network-only model, e.g. extracted from git)::

    mkdir -p /tmp/base && for e in onnx json; do git show b2cd909:src/ecgpilot/model/ptbxl_classifier.$e \
        > /tmp/base/ptbxl_classifier.$e; done
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/select_trees.py --base /tmp/base [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ecgpilot.datasets.ptbxl import TASKS, load_ptbxl
from ecgpilot.train.export import _OnnxNet, exported_model
from ecgpilot.train.loop import TRAIN_FOLDS, VAL_FOLD, prepare, record_features, standardise, window_logits, windows
from ecgpilot.train.trees import TreeConfig, _record_logits, add_trees_onnx, choose_weights, fit_trees, tree_logits
from select_members import MAX_MB, MAX_MS, network_ms

RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = (TreeConfig(iterations=200, leaves=15, learning_rate=0.05), TreeConfig(iterations=100, leaves=15),
              TreeConfig(iterations=100, leaves=7), TreeConfig(iterations=200, leaves=7, learning_rate=0.07))
TIE = 0.0005


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="folder with the network-only ptbxl_classifier.onnx/.json")
    ap.add_argument("--out", type=Path, default=RESULTS / "trees.md")
    args = ap.parse_args()
    onnx_in, _, info = exported_model(args.base)
    pp, fnorm = info["preprocessing"], info["preprocessing"]["features"]
    outputs = [(o["task"], o["code"]) for o in info["outputs"]]
    data = load_ptbxl()
    y = data.targets(outputs)
    f = standardise(record_features(data, fnorm["names"]), fnorm["mean"], fnorm["std"])
    tr, va = data.folds(*TRAIN_FOLDS), data.folds(VAL_FOLD)
    x9 = prepare(data, va, pp["mean"], pp["scale"])
    base9 = _record_logits(window_logits(_OnnxNet(onnx_in), x9, pp["window"], pp["stride"], feats=f[va]),
                           pp["aggregate"])
    one = windows(x9[:1], pp["window"], pp["stride"])[0]
    f_one = np.repeat(f[va][:1], len(one), axis=0)
    rows = [("none (networks only)", 0, onnx_in.stat().st_size / 1e6, network_ms(onnx_in, one, f_one),
             {t: choose_weights(base9, np.zeros_like(base9), y[va], outputs, grid=(0.0,))[1][t]["0"] for t in TASKS},
             {t: 0.0 for t in TASKS})]
    for cfg in CANDIDATES:
        models = fit_trees(f[tr], y[tr], cfg)
        weights, scores = choose_weights(base9, tree_logits(models, f[va]), y[va], outputs)
        with tempfile.TemporaryDirectory() as tmp:
            merged = Path(tmp) / "m.onnx"
            add_trees_onnx(onnx_in, models, np.array([weights[t] for t, _ in outputs]), merged)
            size, ms = merged.stat().st_size / 1e6, network_ms(merged, one, f_one)
        nodes = sum(len(p[0].nodes) for m in models if m is not None for p in m._predictors)
        rows.append((f"{cfg.iterations} x {cfg.leaves} leaves, lr {cfg.learning_rate:g}", nodes, size, ms,
                     {t: scores[t][f"{weights[t]:g}"] for t in TASKS}, weights))
        print(rows[-1], flush=True)
    ok = [r for r in rows[1:] if r[2] < MAX_MB and r[3] < MAX_MS]
    best = max(float(np.mean(list(r[4].values()))) for r in ok)
    chosen = min((r for r in ok if float(np.mean(list(r[4].values()))) >= best - TIE), key=lambda r: r[2])
    lines = ["# Boosted trees added to the networks: choice of the settings on fold 9", "",
             f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/select_trees.py --base BASE` "
             f"(BASE: `{info['version']}`). Fold 10 is not read.", "",
             f"Rule: file < {MAX_MB:g} MB and model < {MAX_MS:g} ms per ECG (ONNX Runtime, 1 thread, "
             f"{len(one)} windows); best fold-9 mean of the four macro-AUCs, within {TIE} counted as tied, then the "
             "smallest file. Per task the trees' weight is the best fold-9 one of "
             "0, 0.25, 0.5, 0.75, 1, 1.5.", "",
             "| trees | nodes | file (10^6 bytes) | model ms | " + " | ".join(f"{t} fold 9 (w)" for t in TASKS)
             + " | mean | chosen |", "|---" * (6 + len(TASKS)) + "|"]
    for r in rows:
        mean = float(np.mean(list(r[4].values())))
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | "
                     + " | ".join(f"{r[4][t]:.4f} ({r[5][t]:g})" for t in TASKS)
                     + f" | {mean:.4f} | {'**yes**' if r is chosen else ''} |")
    lines += ["", "Exploration before this rule was written: the same four settings were scored on fold 9 "
              "with weights 0-1.5 (and, for the first setting only, fold 10 was printed too, before any "
              "choice); the shipped setting was then taken by fold 9 alone."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
