"""Batch analysis throughput: files/s of ``ecgpilot analyze PATHS... --out`` with 1 and 2 local
processes (and optionally Ray), on LUDB records, AI included.

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batch.py [--records 1-100] [--jobs 1,2] [--ray]
        [--repeat 2] [--out benchmarks/results/batch.md]

Each configuration runs ``ecgpilot.batch.run_batch`` (the job of ``ecgpilot analyze --out``: read,
quality, measurements, AI, reading) over the same files, ``--repeat`` times after one warm-up pass
of 10 files in this process; the table gives the best and the median wall time. Every run must give
the same rows as the first (the ``seconds`` column aside), or the benchmark stops. The CPU time per
file (this process and its reaped workers) is given too: unlike the wall time, it does not depend on
other jobs sharing the machine. Process start-up,
the model load in each worker and (with ``--ray``) the start of a local Ray instance are part of the
time, as for a user.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ecgpilot import batch  # noqa: E402
from ecgpilot.paths import shared_data_dir  # noqa: E402


def _records(spec: str) -> list[int]:
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its reaped children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rows_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", default="1-100", help="LUDB record numbers, e.g. 1-100")
    ap.add_argument("--jobs", default="1,2", help="local process counts to time, comma-separated")
    ap.add_argument("--ray", action="store_true", help="also time --engine ray on a local instance of 2 CPUs")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the result table (Markdown) here")
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None or not (data / "ludb" / "data" / "1.hea").exists():
        raise SystemExit("LUDB not found in the shared data (../shared/data/ludb or $ECGPILOT_DATA)")
    files = [str(data / "ludb" / "data" / f"{n}.hea") for n in _records(args.records)]
    load_before = os.getloadavg()[0]
    batch.run_batch(files[:10], jobs=1)   # warm-up: imports, model load, caches of this process

    configs: list[tuple[str, str, int]] = [(f"local, {j} process{'es' if j > 1 else ''}", "local", j)
                                           for j in (int(x) for x in args.jobs.split(","))]
    if args.ray:
        configs.append(("Ray, local instance of 2 CPUs (started in the timing)", "ray", 2))
    reference: list[dict[str, Any]] | None = None
    results = []
    for name, engine, jobs in configs:
        times, cpus = [], []
        for _ in range(args.repeat):
            c0 = _cpu_s()
            t0 = time.perf_counter()
            rows = batch.run_batch(files, jobs=jobs, engine=engine)
            times.append(time.perf_counter() - t0)
            cpus.append(_cpu_s() - c0)
            key = _rows_key(rows)
            if reference is None:
                reference = key
            elif key != reference:
                raise SystemExit(f"{name}: the rows differ from the first run's")
        n_err = sum(1 for r in rows if not r["ok"])
        best, med = min(times), statistics.median(times)
        cpu = statistics.median(cpus) / len(files) * 1000 if engine == "local" else float("nan")
        results.append((name, best, med, len(files) / best, len(files) / med, cpu, n_err))
        print(f"{name:<56} best {best:6.2f} s  median {med:6.2f} s  {len(files) / best:6.2f} files/s "
              f"(median {len(files) / med:.2f}), CPU {cpu:.0f} ms/file, {n_err} error rows", flush=True)

    head = (f"LUDB records {args.records} ({len(files)} files, AI on), {args.repeat} runs each after a warm-up; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, python {platform.python_version()}, {date.today()}; "
            f"1-min load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other jobs on the machine "
            "when above 0.5)")
    lines = ["# Batch analysis throughput (`ecgpilot analyze PATHS... --out`)", "", head, "",
             "| engine | best s | median s | files/s (best) | files/s (median) | CPU ms per file | error rows |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {n} | {b:.2f} | {m:.2f} | {fb:.2f} | {fm:.2f} | {'-' if c != c else f'{c:.0f}'} | {e} |"
              for n, b, m, fb, fm, c, e in results]
    lines += ["", "Every run gave the same rows (the `seconds` column aside). CPU ms per file: user + system time of "
              "this process and its finished worker processes (not measured for Ray, whose workers are not our "
              "children); it does not depend on other jobs, the wall time does.", "",
              "```", f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batch.py --records {args.records} "
              f"--jobs {args.jobs}{' --ray' if args.ray else ''} --repeat {args.repeat}", "```", ""]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
