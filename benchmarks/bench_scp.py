"""Read time of the SCP-ECG sample files (median of 5 reads).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scp.py
"""

from __future__ import annotations

import statistics
import time

from ecgpilot.errors import ECGPilotError
from ecgpilot.io import scp
from ecgpilot.paths import shared_data_dir

FILES = ("ecgtoolkit-examples/Example.scp", "contec-ecg90a/demo.scp", "contec-ecg90a/0000050.ECG.scp")


def main() -> None:
    root = shared_data_dir() / "format-samples"
    print("| file | size (kB) | outcome | median read (ms) |\n|---|---|---|---|")
    for name in FILES:
        path = root / name
        times, outcome = [], ""
        for _ in range(5):
            t0 = time.perf_counter()
            try:
                rec = scp.read(path)
                outcome = f"{len(rec.leads)} leads × {rec.n_samples} at {rec.fs:g} Hz"
            except ECGPilotError as exc:
                outcome = f"refused ({type(exc).__name__})"
            times.append(time.perf_counter() - t0)
        print(f"| {name} | {path.stat().st_size / 1000:.0f} | {outcome} | {1000 * statistics.median(times):.0f} |")


if __name__ == "__main__":
    main()
