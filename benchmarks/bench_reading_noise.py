"""Does noise still raise emergencies? The reading on the PhysioNet/CinC 2011 phone ECGs.

Every record goes through the whole pipeline (quality gate, measurements, the shipped classifier,
the rules); we count, per annotator label (acceptable / unacceptable), the records refused
(not interpretable), the urgency levels proposed, and the emergencies. An emergency proposed on a
tracing the annotators judged unacceptable is the failure the issue reported ("noise raises
emergencies"); ``repeat_now`` is the level that replaces an emergency resting on critical leads.
Both halves of the quality gate's split are reported separately (the gate was tuned on the first).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_noise.py [--no-ai] [--out PATH]

Writes ``benchmarks/results/reading_noise.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from bench_quality_cinc2011 import load_cinc2011, stratified_tune_mask, wilson

from ecgpilot.analysis import analyze_record
from ecgpilot.interpret import LEVELS, RULES_VERSION, interpret
from ecgpilot.leads import STANDARD_12
from ecgpilot.record import ECGRecord


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-ai", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reading_noise.md")
    args = ap.parse_args(argv)
    data = load_cinc2011()
    tune = stratified_tune_mask(data.acceptable)
    rows: dict[tuple[str, bool], Counter[str]] = {}
    reasons: Counter[str] = Counter()
    for i in range(len(data.acceptable)):
        rec = ECGRecord(signal=data.signals[i].astype("float32") * 5.0, fs=500.0, leads=STANDARD_12)
        doc = analyze_record(rec, use_ai=not args.no_ai)
        r = interpret(doc, lang="en")
        half = "tune" if tune[i] else "report"
        key = (half, bool(data.acceptable[i]))
        c = rows.setdefault(key, Counter())
        c["n"] += 1
        c["refused"] += doc["quality"]["verdict"] == "not_interpretable"
        c[r["urgency"]["level"]] += 1
        if r["urgency"]["level"] == "emergency":
            for x in r["urgency"]["reasons"]:
                reasons[(x["statement_id"], "acceptable" if data.acceptable[i] else "unacceptable")] += 1
        if i % 100 == 99:
            print(f"  {i + 1}/{len(data.acceptable)}", file=sys.stderr)
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_noise.py" + (" --no-ai" if args.no_ai else "")
    lines = ["# The reading on noisy phone ECGs (PhysioNet/CinC 2011)", "",
             f"Command: `{cmd}`; rules `{RULES_VERSION}`; AI {'off' if args.no_ai else 'on'}. 498 ten-second 12-lead "
             "records, the challenge annotators' acceptable / unacceptable label; the quality gate's seeded split "
             "(tune / report halves, `bench_quality_cinc2011.py`).", "",
             "| half | annotators | n | refused (not interpretable) | " + " | ".join(LEVELS) + " | emergency rate (Wilson 95 %) |",
             "|---|---|---|---|" + "---|" * len(LEVELS) + "---|"]
    for half in ("tune", "report"):
        for acc in (True, False):
            c = rows.get((half, acc), Counter())
            lo, hi = wilson(c["emergency"], c["n"]) if c["n"] else (float("nan"), float("nan"))
            lines.append(f"| {half} | {'acceptable' if acc else 'unacceptable'} | {c['n']} | {c['refused']} | "
                         + " | ".join(str(c[lv]) for lv in LEVELS)
                         + f" | {c['emergency']}/{c['n']} = {c['emergency'] / max(c['n'], 1):.3f} ({lo:.2f}–{hi:.2f}) |")
    lines += ["", "Emergency reasons (statement, annotators' label): "
              + (", ".join(f"{k[0]} ({k[1]}) {v}" for k, v in reasons.most_common()) or "none") + ".", ""]
    text = "\n".join(lines)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
