"""``ecgpilot train``: train, then export the ONNX model and its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgpilot.model import AGGREGATES

__all__ = ["add_arguments", "run_train", "DEFAULT_MEMBERS", "SERVE_STRIDE"]

DEFAULT_MEMBERS = ("all", "rhythm")  # the shipped ensemble: rhythm + beat features, and rhythm features only
SERVE_STRIDE = 375  # serving windows: 3 windows of 2.5 s per 10-s ECG (at 0, 3.75 and 7.5 s), chosen on fold 9
# under the 10 ms budget (the ensemble reads 2 x 3 windows; see MODEL_CARD.md)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ecgpilot.train.config import TrainConfig  # no PyTorch: the parser exists on a serving install

    d = TrainConfig()
    p.add_argument("--out-dir", default=d.out_dir,
                   help="checkpoints and logs; an ensemble puts each member in OUT_DIR/<features> (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--kernel", type=_odd_kernel, default=d.kernel,
                   help="convolution kernel length of the residual blocks, odd, 3-15 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch intra-op threads (1 is fastest on small VMs)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=d.device,
                   help="where to train: cpu, or cuda on a machine with a GPU (default: %(default)s)")
    p.add_argument("--members", default=None,
                   help="train one network per member (feature set all = rhythm + beat, rhythm or none, "
                        "optionally :SEED or :SEED:EPOCHS, e.g. all,all:7,rhythm:7:20) and ship the mean of their logits as one ONNX model "
                        f"(default: {','.join(DEFAULT_MEMBERS)})")
    p.add_argument("--features", choices=("all", "rhythm", "none"), default=None,
                   help="train and ship a single network with these record features instead of the ensemble")
    p.add_argument("--stride", type=_positive_int, default=None,
                   help="step (samples at 100 Hz) between the 250-sample windows the shipped model reads "
                        f"(default: {SERVE_STRIDE}; with --extend, the extended model's)")
    p.add_argument("--weights", choices=("float32", "float16", "int8"), default=None,
                   help="how the ONNX file stores the weights (default: float32 for one network, float16 for an "
                        "ensemble; int8 quarters the file, for ensembles of 4 or more networks)")
    p.add_argument("--compute", choices=("float32", "int8"), default=None,
                   help="arithmetic of the convolutions: int8 quantises them (static, calibrated on 256 training "
                        "records), 2-3x faster on one CPU core; with --refit, quantises the exported model "
                        "(default: float32, or as exported with --refit)")
    p.add_argument("--aggregate", choices=AGGREGATES, default=None,
                   help="how the windows of a record are combined: max = the largest window probability, "
                        "mean_logit = sigmoid of the mean logit (default: the better of the two on fold 9)")
    p.add_argument("--refit", action="store_true",
                   help="train nothing: re-fit on fold 9 the window aggregate, calibration and thresholds of the "
                        "model already exported (in --export-to, or the package's), rewriting its .json only")
    p.add_argument("--extend", action="store_true",
                   help="add the trained --members to the model already exported in --export-to (or the "
                        "package's) as one larger ensemble, its fold-9 fits redone; the old members need no "
                        "checkpoint")
    p.add_argument("--trees", action="store_true",
                   help="train no network: fit gradient-boosted trees on the record features (folds 1-8) and add "
                        "them to the model already exported (in --export-to, or the package's), one weight per task "
                        "chosen on fold 9, calibration and thresholds re-fitted (needs scikit-learn)")
    p.add_argument("--tree-iterations", type=_positive_int, default=None,
                   help="boosting iterations per output with --trees (default: 100)")
    p.add_argument("--tree-leaves", type=_positive_int, default=None,
                   help="leaves per tree with --trees (default: 7)")
    p.add_argument("--limit", type=int, default=0, help="use only N training records (smoke test)")
    p.add_argument("--resume", action="store_true", help="continue from last.pt (a finished run is reused as is)")
    p.add_argument("--no-export", action="store_true", help="do not export the ONNX model afterwards")
    p.add_argument("--export-to", default=None, help="folder for the .onnx/.json (default: the package's model folder)")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _odd_kernel(text: str) -> int:
    if not text.isdigit() or int(text) % 2 == 0 or not 3 <= int(text) <= 15:
        raise argparse.ArgumentTypeError(f"expected an odd kernel length from 3 to 15 samples, got {text!r}")
    return int(text)


def _members(text: str, seed: int) -> list[tuple[str, int, str, int | None]]:
    """``"all,rhythm"`` or ``"all,all:7:20"`` → [(feature set, seed, folder name, epochs or None)].

    A member is ``FEATURES[:SEED[:EPOCHS]]``; without EPOCHS it trains for ``--epochs``.
    """
    out: list[tuple[str, int, str, int | None]] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        fs, sd, ep, *extra = item.split(":") + ["", ""]
        if (fs not in ("all", "rhythm", "none") or (sd and not sd.isdigit())
                or (ep and (not ep.isdigit() or int(ep) == 0)) or any(extra)):
            raise SystemExit(f"--members {text!r}: each member is all, rhythm or none, optionally with "
                             f"':SEED' and ':SEED:EPOCHS' (e.g. all,all:7,rhythm:7:20); got {item!r}")
        name = fs + (f"-s{sd}" if sd else "") + (f"-e{ep}" if ep else "")
        out.append((fs, int(sd) if sd else seed, name, int(ep) if ep else None))
    if not out or len({m[2] for m in out}) != len(out):
        raise SystemExit(f"--members {text!r}: give at least one member, each once")
    return out


def run_train(args: argparse.Namespace) -> int:
    from ecgpilot.train.loop import TrainConfig, train

    if args.trees:
        return _run_trees(args)
    if args.refit:
        from ecgpilot.train.export import refit_model

        try:
            meta = refit_model(Path(args.export_to) if args.export_to else None, aggregate=args.aggregate,
                               compute=args.compute)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"--refit: {exc}") from None
        print(f"re-fitted: {meta}")
        return 0
    if args.tree_iterations or args.tree_leaves:
        raise SystemExit("--tree-iterations and --tree-leaves shape the trees of --trees: give --trees too")
    single = args.features is not None
    if args.compute == "int8" and args.weights is not None:
        raise SystemExit("--weights sets how float weights are stored: it does not apply with --compute int8")
    if args.no_export and (args.compute or args.weights):
        raise SystemExit("--compute and --weights shape the exported model: they do nothing with --no-export")
    if args.extend and (single or args.no_export):
        raise SystemExit("--extend adds --members to an exported model: it needs --members and no --no-export")
    if single and args.members is not None:
        raise SystemExit("give either --features (one network) or --members (an ensemble), not both")
    members = ([(args.features, args.seed, "", None)] if single
               else _members(args.members or ",".join(DEFAULT_MEMBERS), args.seed))
    run_dirs = []
    for fs, seed, name, epochs in members:
        out = Path(args.out_dir) / name if name else Path(args.out_dir)
        cfg = TrainConfig(out_dir=str(out), epochs=epochs or args.epochs, batch_size=args.batch_size, lr=args.lr,
                          width=args.width, kernel=args.kernel, seed=seed, threads=args.threads, limit=args.limit, device=args.device,
                          features=fs != "none", feature_set="rhythm" if fs == "rhythm" else "all")
        print(f"training {'the network' if single else f'member {name!r}'} in {out}", flush=True)
        best = train(cfg, resume=args.resume)
        print(f"best checkpoint: {best}")
        run_dirs.append(out)
    if args.extend:
        from ecgpilot.train.extend import extend_model

        where = Path(args.export_to) if args.export_to else None
        try:
            target = extend_model(where, run_dirs, weights=args.weights, aggregate=args.aggregate,
                                  stride=args.stride, compute=args.compute or "float32")
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"--extend: {exc}") from None
        print(f"extended: {target}")
    elif not args.no_export:
        from ecgpilot.train.export import export_model

        target = export_model(run_dirs if len(run_dirs) > 1 else run_dirs[0],
                              Path(args.export_to) if args.export_to else None, stride=args.stride or SERVE_STRIDE,
                              weights=args.weights, aggregate=args.aggregate, compute=args.compute or "float32")
        print(f"exported: {target}")
    return 0


def _run_trees(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ecgpilot.train.trees import TreeConfig, boost_model

    if args.refit or args.extend or args.members or args.features or args.no_export:
        raise SystemExit("--trees adds trees to an exported model: it cannot be combined with --refit, --extend, "
                         "--members, --features or --no-export")
    try:
        cfg = replace(TreeConfig(), **{k: v for k, v in (("iterations", args.tree_iterations),
                                                          ("leaves", args.tree_leaves)) if v})
        target = boost_model(Path(args.export_to) if args.export_to else None, cfg)
    except ImportError as exc:
        raise SystemExit(f"--trees needs scikit-learn (pip install -e '.[train]'): {exc}") from None
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"--trees: {exc}") from None
    print(f"trees added: {target}")
    return 0
