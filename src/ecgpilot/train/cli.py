"""``ecgpilot train``: train, then export the ONNX model and its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run_train"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ecgpilot.train.loop import TrainConfig

    d = TrainConfig()
    p.add_argument("--out-dir", default=d.out_dir, help="checkpoints and logs (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch intra-op threads (1 is fastest on small VMs)")
    p.add_argument("--features", choices=("all", "rhythm", "none"), default="all",
                   help="whole-record features fed to the head: rhythm + beat (default), rhythm only, or none")
    p.add_argument("--limit", type=int, default=0, help="use only N training records (smoke test)")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    p.add_argument("--no-export", action="store_true", help="do not export the ONNX model afterwards")
    p.add_argument("--export-to", default=None, help="folder for the .onnx/.json (default: the package's model folder)")


def run_train(args: argparse.Namespace) -> int:
    from ecgpilot.train.loop import TrainConfig, train

    cfg = TrainConfig(out_dir=args.out_dir, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      width=args.width, seed=args.seed, threads=args.threads, limit=args.limit,
                      features=args.features != "none", feature_set="rhythm" if args.features == "rhythm" else "all")
    best = train(cfg, resume=args.resume)
    print(f"best checkpoint: {best}")
    if not args.no_export:
        from ecgpilot.train.export import export_model

        target = export_model(Path(args.out_dir), Path(args.export_to) if args.export_to else None)
        print(f"exported: {target}")
    return 0
