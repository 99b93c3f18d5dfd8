"""Command line: ``ecgpilot what|analyze|serve|train ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgpilot.errors import ECGPilotError

__all__ = ["main"]


def _cmd_what(args: argparse.Namespace) -> int:
    from ecgpilot.io import detect_format, read_ecg, reader_module

    path = Path(args.file)
    fmt = detect_format(path)
    rec = read_ecg(path, format=fmt)
    info = {"file": str(path), "format": fmt, "description": reader_module(fmt).DESCRIPTION}
    info.update(rec.summary())
    if args.json:
        print(json.dumps(info, indent=2, default=str, ensure_ascii=False))
        return 0
    print(f"{path.name}: {info['description']} [{fmt}]")
    print(f"  leads ({rec.n_leads}): {', '.join(rec.leads)}")
    print(f"  sampling rate: {rec.fs:g} Hz, {rec.n_samples} samples, {rec.duration:.2f} s, units µV")
    if rec.start_time:
        print(f"  start: {rec.start_time.isoformat()}")
    src = rec.source
    if src.manufacturer or src.device:
        print(f"  device: {' '.join(x for x in (src.manufacturer, src.device) if x)}")
    if src.device_measurements:
        items = ", ".join(f"{k}={v:g}" for k, v in src.device_measurements.items())
        print(f"  device measurements: {items}")
    if src.device_statements:
        print(f"  device statements: {'; '.join(src.device_statements)}")
    pat = {k: v for k, v in rec.patient.to_dict().items() if v is not None}
    if pat:
        print(f"  patient: {', '.join(f'{k}={v}' for k, v in pat.items())}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ecgpilot.analysis import analyze_file, format_text

    doc = analyze_file(Path(args.file), use_ai=not args.no_ai)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(format_text(doc, lang=args.lang))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ecgpilot.web.server import serve

    return serve(host=args.host, port=args.port, db=args.db)


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from ecgpilot.train.cli import run_train
    except ImportError as exc:
        raise ECGPilotError(
            f"Training needs PyTorch, which is not installed ({exc}). "
            "Install it with: pip install -e '.[train]'"
        ) from None
    return run_train(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgpilot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("what", help="identify a file's format and contents")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_what)

    p = sub.add_parser("analyze", help="quality verdict, measurements and AI reading of one ECG file")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the analysis document (docs/analysis-schema.md)")
    p.add_argument("--no-ai", action="store_true", help="skip the classifier")
    p.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the text output")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", default=None, help="database URL or SQLite file (default: ./ecgpilot-data/ecgpilot.db)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("train", help="train the classifier on PTB-XL (needs the [train] extra)")
    try:
        from ecgpilot.train.cli import add_arguments
    except ImportError:
        pass
    else:
        add_arguments(p)
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ECGPilotError as exc:
        print(f"ecgpilot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
