"""Which members to add to the shipped ensemble: fold-9 scores, file size and network latency of
every candidate, never fold 10.

Each candidate is the shipped model grown (``ecgpilot.train.extend``) by a subset of the given
training runs, served at each stride asked for, with float32 convolutions and/or quantised to
int8 ones (``ecgpilot.train.quantize``). The rule, fixed before any candidate is scored:
among the candidates whose file is under 5 MB and whose network runs under 10 ms per 10-s ECG on
one core (median, this machine), keep the best fold-9 mean of the four tasks' macro-AUCs, each
candidate with its better window aggregate; the shipped model stays unless a candidate beats it.

Usage (repository root; writes benchmarks/results/select_members.md)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/select_members.py runs/ptbxl/all-s20261202 \
        runs/ptbxl/rhythm-s20261202 [--strides 375,750] [--compute float32,int8] [--float-max-new 1] \
        [--base FOLDER] [--require RUN,RUN] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ecgpilot.datasets.ptbxl import load_ptbxl
from ecgpilot.paths import package_dir
from ecgpilot.train.export import _OnnxNet, choose_aggregate, exported_model
from ecgpilot.train.extend import grow_onnx
from ecgpilot.train.loop import VAL_FOLD, prepare, record_features, standardise, window_logits, windows
from ecgpilot.train.quantize import quantize_for

RESULTS = Path(__file__).resolve().parent / "results"
MAX_MB, MAX_MS = 5.0, 10.0


def network_ms(path: Path, x: np.ndarray, f: np.ndarray | None, repeat: int = 200, rounds: int = 3) -> float:
    """Time of one ONNX Runtime call (1 thread) on the windows of one ECG: the median over
    ``rounds`` of the median of ``repeat`` calls (this VM's timings drift by 10-20 % between
    rounds)."""
    net = _OnnxNet(path)
    xt, ft = torch.from_numpy(x), (torch.from_numpy(f) if f is not None else None)
    for _ in range(10):
        net(xt, ft)
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            net(xt, ft)
            times.append(time.perf_counter() - t0)
        medians.append(np.median(times))
    return 1000 * float(np.median(medians))


def _label(run: str, runs: list[str]) -> str:
    """The run folder's name, with its parent's when another run has the same name."""
    p = Path(run)
    return p.name if sum(Path(r).name == p.name for r in runs) == 1 else f"{p.parent.name}/{p.name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="training run folders (each with best.pt and meta.json)")
    ap.add_argument("--base", default=str(package_dir() / "model"), help="folder of the model to grow")
    ap.add_argument("--strides", default="375,750")
    ap.add_argument("--out", default=str(RESULTS / "select_members.md"), help="where to write the table")
    ap.add_argument("--compute", default="float32,int8",
                    help="arithmetic of the candidates' convolutions: float32 and/or int8 (quantised)")
    ap.add_argument("--float-max-new", type=int, default=99,
                    help="score float32 candidates only up to this many new members (larger float ensembles "
                         "are over the time budget anyway)")
    ap.add_argument("--require", default="",
                    help="comma-separated runs every candidate must contain (fewer candidates: less "
                         "optimism in the fold-9 winner)")
    args = ap.parse_args()
    required = {r for r in args.require.split(",") if r}
    if not required <= set(args.runs):
        raise SystemExit(f"--require {sorted(required - set(args.runs))}: not among the runs given")
    torch.set_num_threads(1)
    base, _, info = exported_model(Path(args.base))
    pp = info["preprocessing"]
    n_base = len(info["training"].get("members") or [0])
    data = load_ptbxl()
    if data.data_sha256 != info["training_data_sha256"]:
        raise SystemExit("the PTB-XL data in ../shared differs from the model's training data")
    outputs = [(o["task"], o["code"]) for o in info["outputs"]]  # the order of the logits
    va = data.folds(VAL_FOLD)
    y = data.targets(outputs)[va]
    spec = pp.get("features")
    fva = standardise(record_features(data, spec["names"])[va], spec["mean"], spec["std"]) if spec else None
    xva = prepare(data, va, pp["mean"], pp["scale"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subsets = [()] + [c for k in range(1, len(args.runs) + 1) for c in itertools.combinations(args.runs, k)]
        subsets = [c for c in subsets if required <= set(c)]
        for subset, compute in itertools.product(subsets, args.compute.split(",")):
            if compute == "float32" and len(subset) > args.float_max_new:
                continue
            path = tmp / f"cand{len(rows)}.onnx"
            if subset:
                _, _, storage = grow_onnx(base, info, [Path(r) for r in subset], path,
                                          "float32" if compute == "int8" else None)
            else:
                storage = info.get("weights_storage", "as shipped")
                path.write_bytes(base.read_bytes())
            for stride in (int(s) for s in args.strides.split(",")):
                served = path
                if compute == "int8":
                    served = tmp / f"cand{len(rows)}-s{stride}-q8.onnx"
                    quantize_for(path, served, data, dict(pp, stride=stride))
                    storage = "int8 compute"
                lva = window_logits(_OnnxNet(served), xva, pp["window"], stride, feats=fva)
                best, scores = choose_aggregate(lva, y, outputs)
                per_task = scores[best]
                n_win = lva.shape[1]
                one = windows(xva[:1], pp["window"], stride)[0]  # one ECG's windows, as served
                ms = network_ms(served, one, None if fva is None else np.repeat(fva[0:1], n_win, axis=0))
                mb = served.stat().st_size / 1e6
                rows.append({"members": ["shipped"] * n_base + [_label(r, args.runs) for r in subset], "stride": stride,
                             "windows": n_win, "storage": storage, "mb": mb, "ms": ms, "aggregate": best,
                             "fold9": per_task, "fold9_mean": float(np.mean(list(per_task.values()))),
                             "eligible": mb < MAX_MB and ms < MAX_MS})
                print(json.dumps(rows[-1]), flush=True)
    eligible = [r for r in rows if r["eligible"]]
    chosen = max(eligible, key=lambda r: r["fold9_mean"]) if eligible else None
    lines = ["# Growing the shipped ensemble: candidates scored on fold 9 only", "",
             f"Base: `{info['version']}` ({n_base} members). Rule: file < {MAX_MB:g} MB and network "
             f"< {MAX_MS:g} ms (median, 1 thread, this machine), then the best fold-9 mean macro-AUC.", "",
             "| members | stride (windows) | storage | MB | network ms | aggregate | fold-9 super / sub / form / rhythm "
             "| fold-9 mean | eligible |", "|---|---|---|---:|---:|---|---|---:|---|"]
    for r in rows:
        t = r["fold9"]
        mark = " **chosen**" if r is chosen else ""
        lines.append(f"| {' + '.join(r['members'])} | {r['stride']} ({r['windows']}) | {r['storage']} | {r['mb']:.2f} "
                     f"| {r['ms']:.2f} | {r['aggregate']} | {t['super_class']:.5f} / {t['sub_class']:.5f} / "
                     f"{t['form']:.5f} / {t['rhythm']:.5f} | {r['fold9_mean']:.5f} | "
                     f"{'yes' if r['eligible'] else 'no'}{mark} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
