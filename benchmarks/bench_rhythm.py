"""Rhythm read from the tracing (``ecgpilot.signal.rhythm``) against LUDB and PTB-XL labels.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rhythm.py            # print the tables
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rhythm.py --write    # also benchmarks/results/rhythm.md
    ... --folds-1-8   # also flutter/AF on PTB-XL folds 1-8 (report only, never used to choose)
    ... --mitdb       # also MIT-BIH 10-s windows (report only)

Splits: thresholds are chosen on LUDB records 1–100 and PTB-XL fold 9 (tuning); LUDB 101–200
and PTB-XL fold 10 are only reported.

* LUDB (500 Hz): truth from ``ludb.csv`` 'Rhythms' (sinus rhythm / bradycardia / tachycardia /
  arrhythmia / irregular sinus / wandering pacemaker → sinus; atrial fibrillation; atrial flutter);
  paced records ('Cardiac pacing' column) are listed apart. Per record, the share of QRS with an
  annotated P wave (P ending within 450 ms before the QRS onset, in ≥ 1 lead; QRS annotated in
  ≥ 6 leads) and the annotated PR (bench_measurements.reference) are compared with
  ``p_before_qrs_share`` and ``pr_ms_median``.
* PTB-XL (100 Hz, resampled inside to 300 Hz): rhythm statements SR/SBRAD/STACH/SARRH → sinus,
  AFIB, AFLT, SVTAC+PSVT → svt, PACE → paced; others (SVARR, BIGU, TRIGU) → other. The 'AVB'
  subclass (1st, 2nd, 3rd degree together: labels.csv does not split it) is reported apart.

Measurements (``rhythm_features(..., rules=False)``) are cached per split in ``cache_dir()``
(keyed by the source of ``signal/rhythm.py``, ``_rhythm_atrial.py``, ``_rhythm_rules.py``, ``beats.py``,
``delineate.py`` and ``filters.py``);
:func:`ecgpilot.signal.rhythm.decide` is applied to a copy of them, so rule thresholds can be
tried without measuring again.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_measurements as bm  # noqa: E402

from ecgpilot.paths import cache_dir  # noqa: E402
from ecgpilot.signal import rhythm as rh  # noqa: E402
from ecgpilot.signal.beats import detect_beats, record_beats  # noqa: E402
from _stats import wilson

CLASSES = ("sinus", "atrial_fibrillation", "atrial_flutter", "svt", "paced")
PTBXL_MAP = {"SR": "sinus", "SBRAD": "sinus", "STACH": "sinus", "SARRH": "sinus", "AFIB": "atrial_fibrillation",
             "AFLT": "atrial_flutter", "SVTAC": "svt", "PSVT": "svt", "PACE": "paced"}
RESULTS = Path(__file__).resolve().parent / "results" / "rhythm.md"
FOLDS_1_8_SINUS = 500


def _src_key() -> str:
    root = Path(rh.__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("rhythm.py", "_rhythm_atrial.py", "_rhythm_rules.py", "beats.py", "delineate.py", "filters.py"):
        h.update((root / name).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def _cached(name: str, compute: Any) -> list[dict[str, Any]]:
    path = cache_dir() / f"rhythm_{name}_{_src_key()}.json"
    if path.exists():
        return json.loads(path.read_text())
    rows = compute()
    path.write_text(json.dumps(rows))
    return rows


# ---------------------------------------------------------------- LUDB
def ludb_truth(row: dict[str, str]) -> str:
    r = row["Rhythms"].lower()
    if "fibrillation" in r:
        return "atrial_fibrillation"
    if "flutter" in r:
        return "atrial_flutter"
    if "sinus" in r:
        return "sinus"
    return "other"


def ludb_annotated_p(n: int) -> tuple[float | None, int]:
    """Share of annotated QRS (≥ 6 leads) with an annotated P ending ≤ 450 ms before its onset."""
    path = str(bm.ludb_dir() / str(n))
    fs = 500.0
    per_lead = [bm._waves(path, lead) for lead in bm.LUDB_LEADS]
    qrs = sorted((on, li) for li, w in enumerate(per_lead) for s, on, pk, off in w if s == "N")
    groups: list[list[tuple[int, int]]] = []
    for item in qrs:
        if groups and item[0] - groups[-1][0][0] <= 0.08 * fs:
            groups[-1].append(item)
        else:
            groups.append([item])
    ps = [(a, b) for w in per_lead for s, a, _, b in w if s == "p"]
    hits, total = 0, 0
    for g in groups:
        if len({li for _, li in g}) < bm.MIN_LEADS:
            continue
        on = sorted(x[0] for x in g)[1]
        total += 1
        hits += any(on - 0.45 * fs < b <= on + 0.01 * fs for _, b in ps)
    return (hits / total if total else None), total


def ludb_rows(records: list[int]) -> list[dict[str, Any]]:
    table = {int(r["ID"]): r for r in bm.ludb_table()}

    def compute() -> list[dict[str, Any]]:
        rows = []
        for n in records:
            rec = bm.load_record(n).with_derived_leads()
            beats = record_beats(rec)
            t0 = time.perf_counter()
            f = rh.rhythm_features(rec.signal, rec.fs, rec.leads, beats, rules=False)
            f["_ms"] = (time.perf_counter() - t0) * 1000
            row = table[n]
            f["_id"] = n
            f["_truth"] = ludb_truth(row)
            f["_paced"] = bool(row.get("Cardiac pacing", "").strip())
            f["_avb3"] = "iii degree" in row["Conduction abnormalities"].lower()
            f["_avb1"] = "i degree av" in row["Conduction abnormalities"].lower().replace("iii degree", "")
            share, nq = ludb_annotated_p(n)
            f["_ref_p_share"] = share
            f["_ref_pr_ms"] = bm.reference(n)["pr_ms"]
            rows.append(f)
        return rows

    return _cached(f"ludb_{records[0]}_{records[-1]}", compute)


# ---------------------------------------------------------------- PTB-XL
def ptbxl_rows(fold: int | tuple[int, ...], sinus_sample: int | None = None) -> list[dict[str, Any]]:
    """Features of the records of ``fold`` (or folds); with ``sinus_sample``, only the records with
    an AFIB or AFLT statement plus that many random (seed 0) SR/SBRAD/STACH/SARRH-only records."""
    folds = (fold,) if isinstance(fold, int) else fold

    def compute() -> list[dict[str, Any]]:
        from ecgpilot.datasets.ptbxl import FS, LEADS, load_ptbxl

        d = load_ptbxl()
        rows = []
        idx = np.flatnonzero(np.isin(d.fold, folds))
        if sinus_sample is not None:
            atrial = [i for i in idx if {"AFIB", "AFLT"} & set(d.labels["rhythm"][i])]
            sinus = [i for i in idx if d.labels["rhythm"][i]
                     and all(PTBXL_MAP.get(x) == "sinus" for x in d.labels["rhythm"][i])]
            pick = np.random.default_rng(0).choice(sinus, size=min(sinus_sample, len(sinus)), replace=False)
            idx = np.sort(np.concatenate([np.asarray(atrial, dtype=np.int64), pick.astype(np.int64)]))
        for i in idx:
            x = np.asarray(d.signals[i], dtype=np.float64).T
            beats = detect_beats(x, FS)
            t0 = time.perf_counter()
            f = rh.rhythm_features(x, FS, LEADS, beats, rules=False)
            f["_ms"] = (time.perf_counter() - t0) * 1000
            labels = d.labels["rhythm"][i]
            truth = [PTBXL_MAP[x] for x in labels if x in PTBXL_MAP]
            f["_id"] = int(d.ecg_id[i])
            f["_labels"] = labels
            f["_truth"] = truth[0] if len(set(truth)) == 1 else ("other" if not truth else "mixed")
            f["_avb"] = "AVB" in d.labels["sub_class"][i]
            f["_form"] = d.labels["form"][i]
            rows.append(f)
        return rows

    name = "-".join(map(str, folds)) + (f"_sub{sinus_sample}" if sinus_sample is not None else "")
    return _cached(f"ptbxl_fold{name}", compute)


# ---------------------------------------------------------------- MIT-BIH (report only)
MIT_MAP = {"(N": "sinus", "(SBR": "sinus", "(AFIB": "atrial_fibrillation", "(AFL": "atrial_flutter",
           "(SVTA": "svt", "(P": "paced", "(NOD": "junctional", "(BII": "av_block_2nd"}
MIT_LEADS = {"MLII": "II", "V1": "V1", "V2": "V2", "V4": "V4", "V5": "V5"}
MIT_WINDOW_S = 10.0
MIT_MAX_WINDOWS = 30  # per record and episode type, evenly spread
AV2 = ("av_block_2to1", "second_degree_av_block_mobitz1", "second_degree_av_block_mobitz2")


def mitdb_rows() -> list[dict[str, Any]]:
    """10-s windows lying wholly inside one rhythm episode of the MIT-BIH Arrhythmia Database
    (``atr`` aux notes), two leads (MLII read as II), 360 Hz; at most MIT_MAX_WINDOWS windows per
    record and episode type."""
    def compute() -> list[dict[str, Any]]:
        import bench_beats_mitdb as bb

        root = bb.extract()
        rows = []
        for path in sorted(root.glob("*.hea")):
            rec = wfdb.rdrecord(str(path.with_suffix("")))
            ann = wfdb.rdann(str(path.with_suffix("")), "atr")
            fs = float(rec.fs)
            x = rec.p_signal.T * 1000.0
            leads = tuple(MIT_LEADS.get(n, n) for n in rec.sig_name)
            marks = [(int(s), a.strip("\x00")) for s, a in zip(ann.sample, ann.aux_note) if a.startswith("(")]
            ends = [m[0] for m in marks[1:]] + [x.shape[1]]
            win = int(MIT_WINDOW_S * fs)
            by_type: dict[str, list[int]] = {}
            for (start, label), end in zip(marks, ends):
                by_type.setdefault(label, []).extend(range(start, end - win, win))
            for label, starts in by_type.items():
                if len(starts) > MIT_MAX_WINDOWS:
                    starts = [starts[i] for i in np.linspace(0, len(starts) - 1, MIT_MAX_WINDOWS).round().astype(int)]
                for a in starts:
                    seg = x[:, a:a + win]
                    beats = detect_beats(seg, fs)
                    t0 = time.perf_counter()
                    f = rh.rhythm_features(seg, fs, leads, beats, rules=False)
                    f["_ms"] = (time.perf_counter() - t0) * 1000
                    f["_id"] = f"{path.stem}@{a / fs:.0f}s"
                    f["_label"] = label
                    f["_truth"] = MIT_MAP.get(label, "other")
                    rows.append(f)
        return rows

    return _cached(f"mitdb_w{MIT_MAX_WINDOWS}", compute)


# ---------------------------------------------------------------- scoring
def redecide(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule layer (current thresholds of the module) on stored measurements
    (``rhythm_features(..., rules=False)``); records stopped early (too few beats) keep their output."""
    return [rh.decide(dict(r)) if r.get("av_relation") is not None else dict(r) for r in rows]


def fmt_p(k: int, n: int) -> str:
    if n == 0:
        return "–"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} ({lo:.2f}–{hi:.2f})"


def class_table(rows: list[dict[str, Any]], classes: tuple[str, ...]) -> tuple[str, dict[str, dict[str, float]]]:
    """Markdown: per class sensitivity (guess == class among truth == class) and PPV, Wilson 95 % CI."""
    lines = ["| class | n (truth) | sensitivity (95 % CI) | guessed | PPV (95 % CI) |", "|---|---|---|---|---|"]
    stats: dict[str, dict[str, float]] = {}
    scored = [r for r in rows if r["_truth"] in classes]
    for c in classes:
        tp = sum(1 for r in scored if r["_truth"] == c and r["rhythm_guess"] == c)
        n = sum(1 for r in scored if r["_truth"] == c)
        g = sum(1 for r in scored if r["rhythm_guess"] == c)
        if n == 0 and g == 0:
            continue
        lines.append(f"| {c} | {n} | {fmt_p(tp, n)} | {g} | {fmt_p(tp, g)} |")
        stats[c] = {"sens": tp / n if n else float("nan"), "ppv": tp / g if g else float("nan"), "n": n, "tp": tp, "g": g}
    return "\n".join(lines), stats


def confusion(rows: list[dict[str, Any]], classes: tuple[str, ...]) -> str:
    guesses = list(rh.RHYTHM_GUESSES)
    used = [g for g in guesses if any(r["rhythm_guess"] == g for r in rows)]
    truths = [c for c in dict.fromkeys(classes + ("other", "mixed")) if any(r["_truth"] == c for r in rows)]
    lines = ["| truth \\ guess | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for t in truths:
        cnt = Counter(r["rhythm_guess"] for r in rows if r["_truth"] == t)
        lines.append(f"| {t} | " + " | ".join(str(cnt.get(g, 0)) for g in used) + " |")
    return "\n".join(lines)


def ludb_p_scores(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if r["_ref_p_share"] is not None and r["p_before_qrs_share"] is not None]
    err = np.array([r["p_before_qrs_share"] - r["_ref_p_share"] for r in ok])
    with_p = [r for r in ok if r["_ref_p_share"] >= 0.9]
    no_p = [r for r in ok if r["_ref_p_share"] <= 0.1]
    pr = np.array([r["pr_ms_median"] - r["_ref_pr_ms"] for r in rows
                   if r["pr_ms_median"] is not None and r["_ref_pr_ms"] is not None])
    return "\n".join([
        f"- records scored: {len(ok)}; |p_before_qrs_share − annotated share|: mean {np.abs(err).mean():.3f}, "
        f"median {np.median(np.abs(err)):.3f}, ≤ 0.2 in {fmt_p(int((np.abs(err) <= 0.2).sum()), len(ok))}",
        f"- records with annotated P before ≥ 90 % of QRS: share ≥ 0.8 found in "
        f"{fmt_p(sum(r['p_before_qrs_share'] >= 0.8 for r in with_p), len(with_p))}",
        f"- records with annotated P before ≤ 10 % of QRS: share < 0.3 found in "
        f"{fmt_p(sum(r['p_before_qrs_share'] < 0.3 for r in no_p), len(no_p))}",
        f"- PR (P-wave onset found beat by beat, median over beats) − annotated PR: n {pr.size}, mean {pr.mean():+.1f} ms, "
        f"SD {pr.std(ddof=1):.1f} ms, |diff| ≤ 20 ms in {fmt_p(int((np.abs(pr) <= 20).sum()), pr.size)}",
    ])


def avb_lines(rows: list[dict[str, Any]], key: str) -> str:
    sel = [r for r in rows if r.get(key)]
    cnt = Counter(r["rhythm_guess"] for r in sel)
    rel = Counter(r["av_relation"] for r in sel)
    return f"{len(sel)} records; rhythm_guess {dict(cnt)}; av_relation {dict(rel)}"


def report(split: str, rows: list[dict[str, Any]], classes: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    tab, stats = class_table(rows, classes)
    ms = np.array([r["_ms"] for r in rows])
    text = [f"### {split} ({len(rows)} records)", "", tab, "", "Confusion (rows: truth, columns: rhythm_guess):", "",
            confusion(rows, classes), "",
            f"Atrial flutter records: rhythm_guess {dict(Counter(r['rhythm_guess'] for r in rows if r['_truth'] == 'atrial_flutter'))}; "
            f"atrial fibrillation records guessed flutter: "
            f"{sum(r['rhythm_guess'] == 'atrial_flutter' for r in rows if r['_truth'] == 'atrial_fibrillation')}.", "",
            f"Time of rhythm_features per record (beats given): median {np.median(ms):.1f} ms, "
            f"95th percentile {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms.", ""]
    return "\n".join(text), stats


NOTES = """## Reading the numbers, and what is not covered

* Sinus PPV is high (≥ 0.99): the misses are mostly 'undetermined' (P waves found before only part
  of the QRS, or scattered PR in an irregular rhythm) or 'junctional' (no P found: small P waves,
  PTB-XL at 100 Hz). 'sinus' includes sinus brady-/tachycardia, sinus arrhythmia and first-degree AV block
  (the PR is reported; the rule layer decides on 1st-degree block).
* AF read as sinus, the costly error: 1/148 on fold 9 (tuning) but 9/150 on fold 10 and 20/1193
  in folds 1–8 (report): P-like waves found before most QRS at a steady PR (SD ≤ 10 ms when the
  RR is irregular, ≤ 25 ms when it is regular). The rule layer should not read 'sinus' alone
  against an AF call of the classifier.
* Flutter is rarely taken for AF: 0 of the 10 flutter records of LUDB and PTB-XL folds 9–10, and
  1 of 33 in folds 1–8 (2 before rules 2026.12.4), are guessed 'atrial_fibrillation'. But flutter recall is only moderate
  (folds 1–8: 14/33): 2:1 flutter at a regular ~130–150/min whose residual is less organised
  (index 0.38–0.6) is read as sinus tachycardia (10/33) — on fold 9, sinus tachycardia shows the
  same signature (dominant atrial frequency = 2 × ventricular rate, index 0.39–0.52), so no
  threshold separates them; the cancellation also removes flutter waves locked to the QRS.
  The flutter rule needs a dominant 3.5–7 Hz peak with organisation ≥ 0.6 and ≥ 40 µV of atrial
  residual (chosen on 7 tuning flutter records: the CIs are wide).
* AV blocks: PTB-XL labels.csv only has the 'AVB' subclass (1st, 2nd and 3rd degree together), so
  2nd/3rd-degree sensitivity cannot be measured there; LUDB has no 2nd-degree block. The
  Wenckebach, Mobitz II, 2:1 and complete-block rules are checked on synthetic records built from
  the P wave and QRS-T of LUDB record 1 (tests/test_signal_rhythm.py). LUDB's five 'III degree
  AV block' records are labelled 'Sinus rhythm' (33, 73, 89) or AF/flutter (103, 110); in 33, 73 and 89
  the P waves precede each QRS at a constant PR in our reading and in LUDB's own P annotations
  (leads II and V1: one P 110–150 ms before every annotated QRS); 33 and 73 are flagged paced by the
  existing pacing_spike detector (not a paced record in ludb.csv).
* Not seen: a blocked P wave phase-locked inside the T wave (2:1 block with a short PP) is removed
  by the QRS-T cancellation with the T wave; pacing cannot be detected at 100 Hz (PTB-XL PACE: 0 found).
* MIT-BIH (two leads, report only): the 2:1 block of record 231 is read as 'av_block_2to1' in
  every window; flutter is mostly missed (record 203's coarse, noisy flutter has an organisation
  index 0.1–0.44 and goes to AF; record 222's windows sit around the 0.6 threshold), so with two
  leads flutter is still often called AF there. Paced windows: the spikes are filtered out at
  this bandwidth, so pacing is not seen; since junctional now requires a narrow QRS (a rule
  change prompted by these windows and checked on the tuning splits only: fold 9 paced →
  junctional 12 → 0), they end 'undetermined' rather than 'junctional'.
* SVT has 4 + 4 records: its figures are indicative only.
* Times above are single runs on a 2-core machine shared with other jobs (load ~3.6); best of 3
  repeats on 2026-12-05: PTB-XL fold 10 (first 150, 100 Hz) median 5.7 ms, max 11.9 ms; LUDB 101–150
  (500 Hz) median 12.4 ms, max 18.3 ms. Beat detection is not included.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/rhythm.md")
    ap.add_argument("--tuning-only", action="store_true", help="only the tuning splits (LUDB 1-100, PTB-XL fold 9)")
    ap.add_argument("--folds-1-8", action="store_true",
                    help="also report flutter/AF on PTB-XL folds 1-8 (every AFIB/AFLT record + 500 sinus records)")
    ap.add_argument("--mitdb", action="store_true", help="also report on MIT-BIH 10-s windows (report only)")
    args = ap.parse_args()
    parts = ["# Rhythm from the tracing (`ecgpilot.signal.rhythm.rhythm_features`)", "",
             "Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rhythm.py --write --folds-1-8 --mitdb`", "",
             "Thresholds chosen on LUDB 1–100 and PTB-XL fold 9 (tuning); LUDB 101–200 and PTB-XL fold 10 are "
             "report splits, never used to choose. See the module docstring of bench_rhythm.py for the label mapping.", ""]
    splits = [("LUDB 1–100 (tuning)", "ludb", list(range(1, 101))), ("PTB-XL fold 9 (tuning)", "ptbxl", 9)]
    if not args.tuning_only:
        splits += [("LUDB 101–200 (report)", "ludb", list(range(101, 201))), ("PTB-XL fold 10 (report)", "ptbxl", 10)]
    for name, kind, arg in splits:
        rows = redecide(ludb_rows(arg) if kind == "ludb" else ptbxl_rows(arg))
        if kind == "ludb":
            paced = [r for r in rows if r["_paced"]]
            rows_np = [r for r in rows if not r["_paced"]]
            text, _ = report(name + ", non-paced", rows_np, CLASSES)
            parts += [text, f"Paced records ({len(paced)}): rhythm_guess "
                      f"{dict(Counter(r['rhythm_guess'] for r in paced))}.", "",
                      "P waves beat by beat against the cardiologists' P annotations (non-paced):", "",
                      ludb_p_scores(rows_np), "",
                      f"'Iii degree av-block' records: {avb_lines(rows, '_avb3')}.", "",
                      f"'I degree av block' records: {avb_lines(rows, '_avb1')}; their PR median "
                      f"{[r['pr_ms_median'] for r in rows if r['_avb1']]} ms.", ""]
        else:
            text, _ = report(name, rows, CLASSES)
            parts += [text, f"AVB subclass (1st/2nd/3rd degree together): {avb_lines(rows, '_avb')}.", ""]
    if args.folds_1_8:
        rows = redecide(ptbxl_rows(tuple(range(1, 9)), sinus_sample=FOLDS_1_8_SINUS))
        text, _ = report("PTB-XL folds 1–8, every AFIB/AFLT record + 500 random sinus records (report only)",
                         rows, CLASSES)
        parts += ["## Supplementary report: flutter and AF on PTB-XL folds 1–8", "",
                  "Folds 1–8 were never used to choose a threshold (they are the classifier's training folds); "
                  "they hold 59 flutter records against 7 in folds 9–10. Sinus records are a random sample, so "
                  "PPVs here are not those of the full folds; sensitivities are.", "", text]
    if args.mitdb:
        rows = redecide(mitdb_rows())
        norm = [dict(r, rhythm_guess="av_block_2nd" if r["rhythm_guess"] in AV2 else r["rhythm_guess"]) for r in rows]
        tab, _ = class_table(norm, CLASSES + ("junctional", "av_block_2nd"))
        ms = np.array([r["_ms"] for r in rows])
        parts += ["## Supplementary report: MIT-BIH Arrhythmia Database, 10-s windows (report only)", "",
                  f"{len(rows)} windows of {MIT_WINDOW_S:.0f} s wholly inside one rhythm episode (atr aux notes), at most "
                  f"{MIT_MAX_WINDOWS} per record and episode type; two leads (MLII read as II, and V1/V2/V4/V5), 360 Hz. "
                  "(N and (SBR → sinus (N episodes keep their ectopic beats), (AFIB, (AFL, (SVTA → svt, (P → paced, "
                  "(NOD → junctional, (BII (record 231, 2:1 block) → av_block_2nd = any of the three second-degree "
                  "guesses; other episodes (bigeminy, trigeminy, VT, ...) → other. Windows of one record are not "
                  "independent: the CIs are optimistic.", "", tab, "", "Confusion (rows: truth, columns: rhythm_guess):",
                  "", confusion(rows, CLASSES + ("junctional", "av_block_2nd")), "",
                  f"Time per window: median {np.median(ms):.1f} ms, max {ms.max():.1f} ms.", ""]
    parts += [NOTES]
    out = "\n".join(parts)
    print(out)
    if args.write:
        RESULTS.write_text(out + "\n")


if __name__ == "__main__":
    main()
