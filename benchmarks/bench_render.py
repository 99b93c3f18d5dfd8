"""Time of the reading and of the ECG on paper for one real 12-lead ECG (LUDB 1, 500 Hz, 10 s).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_render.py

Writes ``benchmarks/results/render.md`` (median of repeated runs on one core).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from ecgpilot.analysis import analyze_record
from ecgpilot.interpret import interpret
from ecgpilot.io import read_ecg
from ecgpilot.paths import shared_data_dir
from ecgpilot.render.pdf import report_pdf
from ecgpilot.render.svg import ecg_svg

REPEATS = 21


def timed(f) -> tuple[float, float, object]:
    ts, out = [], None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1000, float(np.percentile(ts, 90)) * 1000, out


def main() -> None:
    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data not found")
    rec = read_ecg(data / "ludb" / "data" / "1.hea")
    doc = analyze_record(rec, use_ai=False)
    reading = interpret(doc)
    rows = []
    for name, f in (("interpret (rules)", lambda: interpret(doc)),
                    ("ecg_svg 3x4+II", lambda: ecg_svg(rec, analysis=doc)),
                    ("report_pdf A4", lambda: report_pdf(rec, doc, reading))):
        med, p90, out = timed(f)
        size = "" if isinstance(out, dict) else f"{len(out) / 1024:.0f} KiB"
        rows.append(f"| {name} | {med:.2f} | {p90:.2f} | {size} |")
    text = "\n".join([
        "# Reading and rendering speed", "",
        "Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_render.py`", "",
        f"LUDB record 1 (12 leads, 500 Hz, 10 s); median and 90th percentile of {REPEATS} runs on one core "
        f"({platform.processor() or platform.machine()}, shared machine).", "",
        "| step | median ms | p90 ms | output |", "|---|---:|---:|---:|", *rows, "",
        "The SVG and the PDF carry every sample (no decimation), so that peaks are drawn at their true height.",
    ]) + "\n"
    out = Path(__file__).parent / "results" / "render.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
