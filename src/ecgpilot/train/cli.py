"""``ecgpilot train``: train, then export the ONNX model and its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run_train", "DEFAULT_MEMBERS", "SERVE_STRIDE"]

DEFAULT_MEMBERS = ("all", "rhythm")  # the shipped ensemble: rhythm + beat features, and rhythm features only
SERVE_STRIDE = 375  # serving windows: 3 windows of 2.5 s per 10-s ECG (at 0, 3.75 and 7.5 s), chosen on fold 9
# under the 10 ms budget (the ensemble reads 2 x 3 windows; see MODEL_CARD.md)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ecgpilot.train.loop import TrainConfig

    d = TrainConfig()
    p.add_argument("--out-dir", default=d.out_dir,
                   help="checkpoints and logs; an ensemble puts each member in OUT_DIR/<features> (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch intra-op threads (1 is fastest on small VMs)")
    p.add_argument("--members", default=",".join(DEFAULT_MEMBERS),
                   help="train one network per feature set (all = rhythm + beat, rhythm, none) and ship the mean "
                        "of their logits as one ONNX model (default: %(default)s)")
    p.add_argument("--features", choices=("all", "rhythm", "none"), default=None,
                   help="train and ship a single network with these record features instead of the ensemble")
    p.add_argument("--stride", type=int, default=SERVE_STRIDE,
                   help="step (samples at 100 Hz) between the 250-sample windows the shipped model reads "
                        "(default: %(default)s)")
    p.add_argument("--limit", type=int, default=0, help="use only N training records (smoke test)")
    p.add_argument("--resume", action="store_true", help="continue from last.pt (a finished run is reused as is)")
    p.add_argument("--no-export", action="store_true", help="do not export the ONNX model afterwards")
    p.add_argument("--export-to", default=None, help="folder for the .onnx/.json (default: the package's model folder)")


def _members(text: str) -> list[str]:
    sets = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in sets if s not in ("all", "rhythm", "none")]
    if not sets or bad or len(set(sets)) != len(sets):
        raise SystemExit(f"--members {text!r}: give distinct feature sets among all, rhythm, none, separated by commas")
    return sets


def run_train(args: argparse.Namespace) -> int:
    from ecgpilot.train.loop import TrainConfig, train

    sets = [args.features] if args.features else _members(args.members)
    single = args.features is not None
    run_dirs = []
    for fs in sets:
        out = Path(args.out_dir) if single else Path(args.out_dir) / fs
        cfg = TrainConfig(out_dir=str(out), epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          width=args.width, seed=args.seed, threads=args.threads, limit=args.limit,
                          features=fs != "none", feature_set="rhythm" if fs == "rhythm" else "all")
        print(f"training {'the network' if single else f'member {fs!r}'} in {out}", flush=True)
        best = train(cfg, resume=args.resume)
        print(f"best checkpoint: {best}")
        run_dirs.append(out)
    if not args.no_export:
        from ecgpilot.train.export import export_model

        target = export_model(run_dirs if len(run_dirs) > 1 else run_dirs[0],
                              Path(args.export_to) if args.export_to else None, stride=args.stride)
        print(f"exported: {target}")
    return 0
