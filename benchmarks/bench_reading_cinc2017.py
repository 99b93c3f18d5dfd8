"""The reading on handheld single-lead recordings: the PhysioNet/CinC 2017 subset (AF challenge).

Every record (one lead, 300 Hz, 9–60 s) goes through the whole pipeline (quality gate, measurements, the
classifier, which refuses a single lead, and the rules). Per expert class (N normal, A atrial
fibrillation, O other rhythm, ~ noisy) and per half, we count the records read as atrial fibrillation
or "irregular rhythm without P" (the finding, not "AI only"), as premature ventricular complexes, and the
urgency levels.

Split (fixed): records with an even number (A00002, A00004, ...) are the **tune** half, odd numbers the
**report** half. Rules 2026.12.4 (AF needs beat-to-beat irregularity) was chosen on the tune half with
PTB-XL fold 9 and LUDB 1–100.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_cinc2017.py [--out PATH]

Writes ``benchmarks/results/reading_cinc2017.md``.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

from _stats import proportion

from ecgpilot.analysis import analyze_record
from ecgpilot.interpret import LEVELS, RULES_VERSION, interpret
from ecgpilot.io import read_ecg
from ecgpilot.paths import shared_data_dir

CLASSES = {"N": "normal", "A": "atrial fibrillation", "O": "other rhythm", "~": "noisy"}
AF_IDS = frozenset({"atrial_fibrillation", "irregular_rhythm_no_p"})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reading_cinc2017.md")
    args = ap.parse_args(argv)
    data = shared_data_dir()
    root = None if data is None else data / "cinc2017-subset"
    if root is None or not (root / "REFERENCE.csv").exists():
        raise SystemExit("CinC 2017 subset not found: set ECGPILOT_DATA to the folder holding cinc2017-subset/.")
    with (root / "REFERENCE.csv").open() as f:
        labels = dict(csv.reader(f))
    af: Counter[tuple[str, str]] = Counter()
    pvc: Counter[tuple[str, str]] = Counter()
    n: Counter[tuple[str, str]] = Counter()
    levels: Counter[tuple[str, str, str]] = Counter()
    t0 = time.perf_counter()
    for rid, y in sorted(labels.items()):
        half = "tune" if int(rid[1:]) % 2 == 0 else "report"
        doc = analyze_record(read_ecg(root / f"{rid}.hea"))
        r = interpret(doc, lang="en")
        ids = {s["id"] for s in r["statements"] if s["status"] == "finding"}
        n[(half, y)] += 1
        af[(half, y)] += bool(AF_IDS & ids)
        pvc[(half, y)] += "pvc" in ids
        levels[(half, y, r["urgency"]["level"])] += 1
    lines = ["# The reading on handheld single-lead recordings (PhysioNet/CinC 2017 subset)", "",
             f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_cinc2017.py`; rules "
             f"`{RULES_VERSION}`. {sum(n.values())} records, one lead at 300 Hz; the experts' class. Tune half: even "
             "record numbers; report half: odd. 'AF read' = atrial fibrillation or irregular rhythm without P as a "
             "finding (sensitivity for class A, false calls for the others; Wilson 95 % CI); 'PVC read' = premature "
             "ventricular complexes as a finding (the experts' normal class has none to find).", "",
             "| half | class | n | AF read | PVC read | " + " | ".join(LEVELS) + " |",
             "|---|---|---|---|---|" + "---|" * len(LEVELS)]
    for half in ("tune", "report"):
        for y, name in CLASSES.items():
            lines.append(f"| {half} | {y} ({name}) | {n[(half, y)]} | {proportion(af[(half, y)], n[(half, y)])} | "
                         f"{proportion(pvc[(half, y)], n[(half, y)])} | "
                         + " | ".join(str(levels[(half, y, lv)]) for lv in LEVELS) + " |")
    lines += ["", f"({time.perf_counter() - t0:.0f} s)", ""]
    text = "\n".join(lines)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
