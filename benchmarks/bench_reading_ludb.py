"""The GP's reading on LUDB: each criterion against the cardiologists' diagnoses, and the urgency.

Records are read with their true amplitudes (:func:`ecgpilot.datasets.ludb.read_ludb`), analysed
with the shipped classifier and read by :func:`ecgpilot.interpret.interpret`. Records 1–100 are
the tuning half, 101–200 the report half (the rules' thresholds are the guidelines'; no threshold
was fitted on LUDB).

**Emergency references, written down before scoring (2026-12-05):** the 8 records with acute
ST-elevation MI (``ludb.csv`` Ischemia "Stemi: …": 7, 21, 24, 33, 55, 64, 69, 86) and the records
with complete (third-degree) AV block without a pacemaker (Conduction "Iii degree av-block" and an
empty "Cardiac pacing" cell). Goal: STEMI ≥ 7/8 at emergency.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_ludb.py [--no-ai] [--out PATH]

Writes ``benchmarks/results/reading_ludb.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecgpilot.analysis import analyze_record
from ecgpilot.datasets.ludb import ludb_diagnoses, ludb_root, read_ludb
from ecgpilot.interpret import RULES_VERSION, interpret, level_rank
from _stats import wilson as _wilson

STEMI = (7, 21, 24, 33, 55, 64, 69, 86)


def wilson(k: int, n: int) -> str:
    """``k/n = p (low–high)`` with the Wilson 95 % interval, or – for no case."""
    if n == 0:
        return "–"
    lo, hi = _wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} ({lo:.2f}–{hi:.2f})"


def _has(row: dict[str, str], col: str, text: str) -> bool:
    """A line of the cell starts with ``text`` (so "Complete …" does not match "Incomplete …")."""
    return any(item.strip().lower().startswith(text.lower()) for item in row[col].split("\n"))


def _ids(reading: dict[str, Any]) -> set[str]:
    return {s["id"] for s in reading["statements"] if s["status"] == "finding"}


#: criterion name → (reference from ludb.csv, prediction from the reading)
CRITERIA: dict[str, tuple[Callable[[dict[str, str]], bool], Callable[[dict[str, Any]], bool]]] = {
    "atrial fibrillation": (lambda r: _has(r, "Rhythms", "Atrial fibrillation"),
                            lambda rd: bool({"atrial_fibrillation", "irregular_rhythm_no_p"} & _ids(rd))),
    "atrial flutter": (lambda r: _has(r, "Rhythms", "Atrial flutter"), lambda rd: "atrial_flutter" in _ids(rd)),
    "sinus bradycardia": (lambda r: _has(r, "Rhythms", "Sinus bradycardia"),
                          lambda rd: bool({"sinus_bradycardia", "sinus_bradycardia_marked"} & _ids(rd))),
    "sinus tachycardia": (lambda r: _has(r, "Rhythms", "Sinus tachycardia"), lambda rd: "sinus_tachycardia" in _ids(rd)),
    "complete LBBB": (lambda r: _has(r, "Conduction abnormalities", "Complete left bundle"), lambda rd: "lbbb" in _ids(rd)),
    "incomplete LBBB": (lambda r: _has(r, "Conduction abnormalities", "Incomplete left bundle"),
                        lambda rd: "incomplete_lbbb" in _ids(rd)),
    "complete RBBB": (lambda r: _has(r, "Conduction abnormalities", "Complete right bundle"), lambda rd: "rbbb" in _ids(rd)),
    "incomplete RBBB": (lambda r: _has(r, "Conduction abnormalities", "Incomplete right bundle"),
                        lambda rd: "incomplete_rbbb" in _ids(rd)),
    "1st-degree AV block": (lambda r: _has(r, "Conduction abnormalities", "I degree av block")
                            and not _has(r, "Conduction abnormalities", "Iii degree"),
                            lambda rd: "first_degree_avb" in _ids(rd)),
    "complete AV block": (lambda r: _has(r, "Conduction abnormalities", "Iii degree av-block"),
                          lambda rd: bool({"complete_avb", "high_degree_avb"} & _ids(rd))),
    "left anterior fascicular block": (lambda r: _has(r, "Conduction abnormalities", "Left anterior hemiblock"),
                                       lambda rd: "lafb" in _ids(rd)),
    "LVH": (lambda r: _has(r, "Hypertrophies", "Left ventricular hypertrophy"),
            lambda rd: bool({"lvh", "lvh_strain"} & _ids(rd))),
    "RVH": (lambda r: _has(r, "Hypertrophies", "Right ventricular hypertrophy"), lambda rd: "rvh" in _ids(rd)),
    "Q waves / scar (prior MI)": (lambda r: _has(r, "Ischemia", "Scar formation"),
                                  lambda rd: bool({"pathological_q", "infarction"} & _ids(rd))),
    "left axis deviation": (lambda r: _has(r, "Electric axis of the heart", "Electric axis of the heart: left axis deviation"),
                            lambda rd: "left_axis_deviation" in _ids(rd)),
    "paced rhythm": (lambda r: bool(r["Cardiac pacing"]), lambda rd: "paced_rhythm" in _ids(rd)),
    "premature ventricular complexes": (lambda r: "ventricular extrasystole" in r["Extrasystolies"].lower(),
                                        lambda rd: "pvc" in _ids(rd)),
}


def emergency_reference(n: int, row: dict[str, str]) -> bool:
    """Pre-registered emergency references (see the module docstring)."""
    return n in STEMI or (_has(row, "Conduction abnormalities", "Iii degree av-block") and not row["Cardiac pacing"])


def run(use_ai: bool) -> dict[int, dict[str, Any]]:
    out = {}
    t0 = time.perf_counter()
    for n in range(1, 201):
        doc = analyze_record(read_ludb(n), use_ai=use_ai)
        out[n] = {"doc": doc, "reading": interpret(doc, lang="en")}
        if n % 50 == 0:
            print(f"  {n}/200 ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return out


def report(res: dict[int, dict[str, Any]], dx: dict[int, dict[str, str]], use_ai: bool) -> str:
    halves = {"1–100 (tuning)": range(1, 101), "101–200 (report)": range(101, 201), "all 200": range(1, 201)}
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reading_ludb.py" + ("" if use_ai else " --no-ai")
    lines = ["# The reading on LUDB: criteria against the cardiologists' diagnoses, and urgency", "",
             f"Command: `{cmd}`; rules `{RULES_VERSION}`; AI {'on' if use_ai else 'off'}; amplitudes from the ADC "
             "values (`datasets.ludb.read_ludb`). Sensitivity and specificity with Wilson 95 % CIs. "
             "A statement counts when it is a finding (not 'AI only').", "",
             "## Criteria", "", "| criterion | half | sensitivity | specificity |", "|---|---|---|---|"]
    for name, (ref_f, pred_f) in CRITERIA.items():
        for hname, rng in halves.items():
            pos = [n for n in rng if ref_f(dx[n])]
            neg = [n for n in rng if not ref_f(dx[n])]
            tp = sum(pred_f(res[n]["reading"]) for n in pos)
            tn = sum(not pred_f(res[n]["reading"]) for n in neg)
            lines.append(f"| {name} | {hname} | {wilson(tp, len(pos))} | {wilson(tn, len(neg))} |")
    lines += ["", "## Urgency", "",
              "Emergency references (pre-registered): the 8 STEMI records and complete AV block without pacemaker.", "",
              "| record | reference | predicted level | statements at that level |", "|---|---|---|---|"]
    refs = [n for n in range(1, 201) if emergency_reference(n, dx[n])]
    for n in refs:
        rd = res[n]["reading"]
        lvl = rd["urgency"]["level"]
        lines.append(f"| {n} | {'STEMI' if n in STEMI else 'complete AV block'} | {lvl} | "
                     + "; ".join(r["text"][:90] for r in rd["urgency"]["reasons"]) + " |")
    k_stemi = sum(res[n]["reading"]["urgency"]["level"] == "emergency" for n in STEMI)
    k_ref = sum(res[n]["reading"]["urgency"]["level"] == "emergency" for n in refs)
    others = [n for n in range(1, 201) if n not in refs]
    fp = sum(res[n]["reading"]["urgency"]["level"] == "emergency" for n in others)
    lines += ["", f"* STEMI at emergency: **{k_stemi}/8** (goal ≥ 7/8); all references: {wilson(k_ref, len(refs))}.",
              f"* Emergency specificity on the other records: {wilson(len(others) - fp, len(others))}.",
              "* Levels over all 200: " + ", ".join(
                  f"{lv} {sum(res[n]['reading']['urgency']['level'] == lv for n in range(1, 201))}"
                  for lv in ("emergency", "repeat_now", "soon", "routine", "normal")), ""]
    lines += ["## ST at the J point of the STEMI records (µV, against the PR segment)", "",
              "| record | sex, age | leads ≥ 1 mm at J | V1 | V2 | V3 | V4 | II | III | aVF |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n in STEMI:
        m = res[n]["doc"]["measurements"] or {}
        lm = (m.get("lead_matrix") or {}).get("leads") or {}
        st = {x: (lm.get(x) or {}).get("st_j_uv") for x in lm}
        up = [x for x, v in st.items() if v is not None and v >= 100]
        lines.append(f"| {n} | {dx[n]['Sex']}, {dx[n]['Age']} | {', '.join(up) or '–'} | "
                     + " | ".join("–" if st.get(x) is None else f"{st[x]:.0f}" for x in
                                  ("V1", "V2", "V3", "V4", "II", "III", "aVF")) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-ai", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reading_ludb.md")
    args = ap.parse_args(argv)
    if ludb_root() is None:
        sys.exit("LUDB not found under ../shared/data (or $ECGPILOT_DATA).")
    dx = ludb_diagnoses()
    res = run(not args.no_ai)
    text = report(res, dx, not args.no_ai)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
