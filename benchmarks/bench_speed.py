"""Time to read and measure one 10-s 12-lead 500 Hz ECG on one core (no AI).

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_speed.py [--repeat 30]

Stages: read (``read_ecg`` on a LUDB WFDB record when the WFDB reader exists, else
``wfdb.rdrecord``; and a GE MUSE XML file), beats, quality, median beats + delineation +
measurements, and the whole ``analyze_record(use_ai=False)``. Median and 90th percentile
of ``--repeat`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts), float(np.percentile(ts, 90))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    import bench_measurements as bm

    from ecgpilot.analysis import analyze_record
    from ecgpilot.paths import shared_data_dir
    from ecgpilot.signal.beats import record_beats
    from ecgpilot.signal.measure import measure_beats
    from ecgpilot.signal.quality import assess_quality

    root = bm.ludb_dir()
    if root is None:
        raise SystemExit("LUDB not found in the shared data")
    hea = root / "1.hea"
    try:
        import ecgpilot.io.wfdb  # noqa: F401
        from ecgpilot.io import read_ecg

        def read() -> Any:
            return read_ecg(hea)

        reader = "read_ecg (WFDB)"
    except ImportError:
        def read() -> Any:
            return bm.load_record(1)

        reader = "wfdb.rdrecord"
    rec = read().with_derived_leads()
    beats = record_beats(rec)
    rows: list[tuple[str, tuple[float, float]]] = [
        (f"read LUDB 1 ({reader})", _time(read, args.repeat)),
        ("beats (12 leads)", _time(lambda: record_beats(rec), args.repeat)),
        ("quality (12 leads)", _time(lambda: assess_quality(rec, beats), args.repeat)),
        ("median beats + delineation + measurements", _time(lambda: measure_beats(rec.signal, rec.fs, rec.leads, beats), args.repeat)),
        ("analyze_record(use_ai=False)", _time(lambda: analyze_record(rec, use_ai=False), args.repeat)),
        ("read + analyze (total)", _time(lambda: analyze_record(read(), use_ai=False), args.repeat)),
    ]
    data = shared_data_dir()
    muse = data / "format-samples" / "ge-muse-xml" / "braveheart" / "example1.xml" if data else None
    if muse is not None and muse.exists():
        from ecgpilot.io import read_ecg

        rows.append(("read + analyze GE MUSE XML example1", _time(lambda: analyze_record(read_ecg(muse), use_ai=False), args.repeat)))
    print(f"CPU: {platform.processor() or platform.machine()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"python {platform.python_version()}, numpy {np.__version__}, {args.repeat} runs")
    print(f"{'stage':<46}{'median ms':>10}{'p90 ms':>9}")
    for name, (med, p90) in rows:
        print(f"{name:<46}{med:10.1f}{p90:9.1f}")


if __name__ == "__main__":
    main()
