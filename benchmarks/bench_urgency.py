"""Urgency triage on PTB-XL: emergency-rule thresholds tuned on fold 9, reported on fold 10.

Reference urgency of each record from its PTB-XL labels (``labels.csv``: super/sub-class,
form and rhythm statements; the 71 individual diagnostic codes such as INJAS or 3AVB are
not in the shared copy, see ``REFERENCE`` below), predicted urgency from
``ecgpilot.interpret.interpret`` on the analysis document of the 100 Hz record
(``ecgpilot.analysis.analyze_record``: quality, measurements, and the classifier when
``ecgpilot.model.classify`` can run).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_urgency.py [--limit N] [--no-ai] [--model X.onnx]

Analysis documents (without the AI part) are cached in ``cache_dir()/bench_urgency/`` so a
re-run only re-applies the rules. Writes ``benchmarks/results/urgency.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.datasets.ptbxl import FS, LEADS, load_ptbxl
from ecgpilot.interpret import LEVELS, RULES_VERSION, THRESHOLDS, interpret, level_rank
from ecgpilot.paths import cache_dir
from ecgpilot.record import ECGRecord
from _stats import wilson

#: Reference urgency from the PTB-XL labels available (documented in the results).
REFERENCE = {
    "emergency": {"form": {"STE"}, "rhythm": {"SVTAC", "PSVT"}},
    "soon": {"rhythm": {"AFIB", "AFLT"}, "form": {"LNGQT"},
             "sub_class": {"CLBBB", "LVH", "RVH", "SEHYP", "WPW", "IMI", "AMI", "LMI", "PMI", "ISCA", "ISCI", "ISC"}},
}
#: Emergency-rule thresholds searched on fold 9 (least aggressive setting reaching the goal wins).
GRID = {"ai_critical_probability": [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005],
        "hr_very_fast": [150.0, 140.0, 130.0, 120.0]}
#: PTB-XL sub-class codes of myocardial infarction (age not given in the shared labels).
MI_CODES = {"IMI", "AMI", "LMI", "PMI"}
#: criterion → (reference labels (task, codes), statement ids that count as found)
CRITERIA = {
    "LVH": (("sub_class", {"LVH"}), {"lvh", "lvh_strain"}),
    "complete LBBB": (("sub_class", {"CLBBB"}), {"lbbb"}),
    "incomplete LBBB": (("sub_class", {"ILBBB"}), {"incomplete_lbbb"}),
    "complete RBBB": (("sub_class", {"CRBBB"}), {"rbbb", "bifascicular_block"}),
    "incomplete RBBB": (("sub_class", {"IRBBB"}), {"incomplete_rbbb"}),
    "1st-degree AV block (form LPR)": (("form", {"LPR"}), {"first_degree_avb"}),
    "atrial fibrillation": (("rhythm", {"AFIB"}), {"atrial_fibrillation", "irregular_rhythm_no_p"}),
    "atrial flutter": (("rhythm", {"AFLT"}), {"atrial_flutter"}),
    "sinus bradycardia": (("rhythm", {"SBRAD"}), {"sinus_bradycardia", "sinus_bradycardia_marked"}),
    "sinus tachycardia": (("rhythm", {"STACH"}), {"sinus_tachycardia"}),
    "Q waves (form QWAVE)": (("form", {"QWAVE"}), {"pathological_q", "infarction"}),
    "infarction (sub-class IMI/AMI/LMI/PMI)": (("sub_class", MI_CODES), {"pathological_q", "infarction",
                                                                      "stemi"}),
    "low voltage (form LVOLT)": (("form", {"LVOLT"}), {"low_voltage"}),
    "paced (rhythm PACE)": (("rhythm", {"PACE"}), {"paced_rhythm"}),
    "WPW": (("sub_class", {"WPW"}), {"wpw", "possible_preexcitation"}),
    "premature ventricular complexes (form PVC)": (("form", {"PVC"}), {"pvc"}),
    "premature atrial complexes (form PAC)": (("form", {"PAC"}), {"pac"}),
}
GOAL = 0.95


def reference_level(labels: dict[str, list[str]]) -> str:
    """Urgency implied by one record's PTB-XL statements (see :data:`REFERENCE`)."""
    for level in ("emergency", "soon"):
        for task, codes in REFERENCE[level].items():
            if codes & set(labels.get(task, [])):
                return level
    if "CRBBB" in labels["sub_class"] and "LAFB/LPFB" in labels["sub_class"]:
        return "soon"                                   # bifascicular block
    if labels["sub_class"] == ["NORM"] and set(labels["rhythm"]) <= {"SR"} and not labels["form"]:
        return "normal"
    return "routine"


def _slim(doc: dict[str, Any]) -> dict[str, Any]:
    m = doc.get("measurements")
    if m:
        m = {k: v for k, v in m.items() if k not in ("beats_s", "median_beat")}
        if m.get("lead_matrix"):
            m["lead_matrix"] = {k: v for k, v in m["lead_matrix"].items() if k != "beats_s"}
    q = {k: v for k, v in doc["quality"].items() if k != "leads"}
    return {"record": {"patient": {}}, "quality": q, "measurements": m}


def analyses(ds, idx: np.ndarray, cache: Path) -> dict[int, dict[str, Any]]:
    """Quality + measurements per ecg_id (cached jsonl), computed at 100 Hz."""
    from ecgpilot.analysis import analyze_record

    docs: dict[int, dict[str, Any]] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            d = json.loads(line)
            docs[d["ecg_id"]] = d["doc"]
    todo = [i for i in idx if int(ds.ecg_id[i]) not in docs]
    t0 = time.perf_counter()
    with cache.open("a") as f:
        for k, i in enumerate(todo):
            rec = ECGRecord(signal=np.asarray(ds.signals[i], dtype=np.float32).T, fs=FS, leads=LEADS)
            doc = _slim(analyze_record(rec, use_ai=False))
            docs[int(ds.ecg_id[i])] = doc
            f.write(json.dumps({"ecg_id": int(ds.ecg_id[i]), "doc": doc}) + "\n")
            if k % 200 == 199:
                print(f"  {k + 1}/{len(todo)} analysed ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return docs


def ai_parts(ds, idx: np.ndarray, model: Path | None = None) -> tuple[dict[int, dict[str, Any]], str | None]:
    """``ai`` object per ecg_id from the classifier (shipped one by default), or ({}, reason)."""
    try:
        from ecgpilot.model import load_model

        clf = load_model(model)
        version = clf.version
    except Exception as exc:   # classifier not installed / model file missing
        return {}, f"classifier unavailable ({type(exc).__name__}: {str(exc).split('(')[0].strip()})"
    import hashlib

    cache = cache_dir() / "bench_urgency" / f"ai_{hashlib.sha256(version.encode()).hexdigest()[:10]}_100hz.jsonl"
    out: dict[int, dict[str, Any]] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            d = json.loads(line)
            out[d["ecg_id"]] = d["ai"]
    with cache.open("a") as f:
        for i in idx:
            e = int(ds.ecg_id[i])
            if e in out:
                continue
            rec = ECGRecord(signal=np.asarray(ds.signals[i], dtype=np.float32).T, fs=FS, leads=LEADS)
            out[e] = clf.classify(rec)
            f.write(json.dumps({"ecg_id": e, "ai": out[e]}) + "\n")
    return out, version


def readings(docs, ais, ids, thresholds) -> list[dict[str, Any]]:
    out = []
    for e in ids:
        d = dict(docs[e])
        d["ai"] = ais.get(e) if d["quality"].get("interpretable", True) else None
        out.append(interpret(d, thresholds=thresholds))
    return out


def predict(docs, ais, ids, thresholds) -> list[str]:
    return [r["urgency"]["level"] for r in readings(docs, ais, ids, thresholds)]


def scores(ref: list[str], pred: list[str]) -> dict[str, Any]:
    r = np.array([level_rank(x) for x in ref])
    p = np.array([level_rank(x) for x in pred])
    res: dict[str, Any] = {}
    for lv in ("emergency", "soon", "routine"):
        k = level_rank(lv)
        pos, neg = r >= k, r < k
        res[lv] = {"n_pos": int(pos.sum()), "sens": float((p[pos] >= k).mean()) if pos.any() else float("nan"),
                   "spec": float((p[neg] < k).mean()) if neg.any() else float("nan")}
    nm = r == 0
    res["normal"] = {"n_pos": int(nm.sum()), "sens": float((p[nm] == 0).mean()) if nm.any() else float("nan"),
                     "spec": float((p[~nm] > 0).mean()) if (~nm).any() else float("nan")}
    res["confusion"] = [[int(((r == i) & (p == j)).sum()) for j in range(len(LEVELS))] for i in range(len(LEVELS))]
    return res


def tune(docs, ais, ids, ref) -> tuple[dict[str, float], dict[str, Any]]:
    """Least aggressive grid point (highest emergency specificity) with emergency sensitivity ≥ GOAL."""
    best = None
    for values in itertools.product(*GRID.values()):
        th = dict(zip(GRID, values))
        s = scores(ref, predict(docs, ais, ids, th))
        key = (s["emergency"]["sens"] >= GOAL, s["emergency"]["spec"] if s["emergency"]["sens"] >= GOAL
               else s["emergency"]["sens"])
        if best is None or key > best[0]:
            best = (key, th, s)
    return best[1], best[2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="records per fold (smoke test)")
    ap.add_argument("--no-ai", action="store_true", help="measurements only")
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "urgency.md")
    ap.add_argument("--compare-previous", action="store_true",
                    help="also read fold 10 with the previous rule set (2026.11.5, from git history)")
    args = ap.parse_args(argv)
    ds = load_ptbxl()
    cdir = cache_dir() / "bench_urgency"
    cdir.mkdir(parents=True, exist_ok=True)
    folds = {}
    for fold in (9, 10):
        idx = ds.folds(fold)[: args.limit]
        docs = analyses(ds, idx, cdir / f"analysis2_{analysis_stamp()}_100hz.jsonl")
        ais, version = ({}, "not used (--no-ai)") if args.no_ai else ai_parts(ds, idx, args.model)
        ids = [int(ds.ecg_id[i]) for i in idx]
        ref = [reference_level({t: ds.labels[t][i] for t in ds.labels}) for i in idx]
        labels = [{t: ds.labels[t][i] for t in ds.labels} for i in idx]
        folds[fold] = (docs, ais, ids, ref, version, labels)
    docs9, ais9, ids9, ref9, version, _ = folds[9]
    tuned, s9 = tune(docs9, ais9, ids9, ref9)
    docs10, ais10, ids10, ref10, _, labels10 = folds[10]
    r10 = readings(docs10, ais10, ids10, tuned)
    s10 = scores(ref10, [r["urgency"]["level"] for r in r10])
    default_r10 = readings(docs10, ais10, ids10, None)
    default10 = scores(ref10, [r["urgency"]["level"] for r in default_r10])
    text = report(args, version, tuned, s9, s10, default10, len(ids9), len(ids10))
    text += extra_report(default_r10, labels10, ref10)
    if args.compare_previous:
        text += previous_report(docs10, ais10, ids10, labels10, ref10)
    args.out.write_text(text)
    print(text)


def analysis_stamp() -> str:
    """A short hash of the analysis code (signal, analysis), so a changed pipeline re-analyses."""
    import hashlib

    import ecgpilot

    root = Path(ecgpilot.__file__).parent
    h = hashlib.sha256()
    for f in sorted(list((root / "signal").glob("*.py")) + [root / "analysis.py"]):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def _ci(k: int, n: int) -> str:
    if n == 0:
        return "–"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.3f} ({lo:.2f}–{hi:.2f})"


#: The last commit with the previous rule set (2026.11.5, one module ``ecgpilot/interpret.py``).
PREVIOUS_RULES_COMMIT = "4017a0c"


def previous_interpret():  # noqa: ANN201
    """``interpret`` of the previous rule set, loaded from git history (``git show``) into a private module."""
    import importlib.util
    import subprocess
    import tempfile

    src = subprocess.run(["git", "show", f"{PREVIOUS_RULES_COMMIT}:src/ecgpilot/interpret.py"], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "interpret_previous.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("interpret_previous", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.interpret


def previous_report(docs, ais, ids, labels: list[dict[str, list[str]]], ref: list[str]) -> str:
    """The same fold-10 figures with the previous rules (2026.11.5) on the same documents and AI."""
    old = previous_interpret()
    lv = {"normal": 0, "routine": 1, "soon": 2, "emergency": 3}
    pred = []
    for e in ids:
        d = dict(docs[e])
        d["ai"] = ais.get(e) if d["quality"].get("interpretable", True) else None
        pred.append(old(d))
    norm = [i for i, x in enumerate(ref) if x == "normal"]
    mi = [i for i, lab in enumerate(labels) if MI_CODES & set(lab["sub_class"])]
    em_ref = [i for i, x in enumerate(ref) if x == "emergency"]
    not_em = [i for i, x in enumerate(ref) if x != "emergency"]
    soon_fp = sum(lv[pred[i]["urgency"]["level"]] >= 2 for i in norm)
    inf_norm = sum(any(s["id"] == "infarction" for s in pred[i]["statements"]) for i in norm)
    mi_soon = sum(lv[pred[i]["urgency"]["level"]] >= 2 for i in mi)
    em_tp = sum(pred[i]["urgency"]["level"] == "emergency" for i in em_ref)
    em_tn = sum(pred[i]["urgency"]["level"] != "emergency" for i in not_em)
    normal_ok = sum(pred[i]["urgency"]["level"] == "normal" for i in norm)
    return "\n".join([
        "", f"## The previous rules (2026.11.5, commit {PREVIOUS_RULES_COMMIT}) on the same fold-10 documents and AI", "",
        f"* Reference-normal records read soon or more: {_ci(soon_fp, len(norm))}; with 'possible infarction': {_ci(inf_norm, len(norm))}.",
        f"* Records labelled MI read soon or more: {_ci(mi_soon, len(mi))}.",
        f"* Emergency: sensitivity {_ci(em_tp, len(em_ref))}, specificity {_ci(em_tn, len(not_em))}; "
        f"reference-normal records read normal: {_ci(normal_ok, len(norm))}.", ""])


def extra_report(r10: list[dict[str, Any]], labels: list[dict[str, list[str]]], ref: list[str]) -> str:
    """Fold 10 with the default rules: "soon" false positives on NORM, MI sensitivity, each criterion."""
    def found(r: dict[str, Any]) -> set[str]:
        return {s["id"] for s in r["statements"] if s["status"] == "finding"}

    norm = [i for i, x in enumerate(ref) if x == "normal"]
    soon_fp = sum(level_rank(r10[i]["urgency"]["level"]) >= level_rank("soon") for i in norm)
    infarct_fp = sum(bool({"infarction", "pathological_q"} & found(r10[i])) for i in norm)
    ai_only_inf = sum(any(s["id"] == "infarction" and s["status"] == "ai_only" for s in r10[i]["statements"]) for i in norm)
    mi = [i for i, lab in enumerate(labels) if MI_CODES & set(lab["sub_class"])]
    mi_soon = sum(level_rank(r10[i]["urgency"]["level"]) >= level_rank("soon") for i in mi)
    lines = ["", "## Fold 10, default rules: infarction statements and 'soon'", "",
             f"* Reference-normal records (NORM only, SR only, no form statement) read **soon or more**: {_ci(soon_fp, len(norm))}.",
             f"* Reference-normal records with an infarction / pathological-Q finding: {_ci(infarct_fp, len(norm))}; "
             f"with the AI's infarction shown as 'AI only': {_ci(ai_only_inf, len(norm))}.",
             f"* Records labelled MI (sub-class IMI/AMI/LMI/PMI) read soon or more: {_ci(mi_soon, len(mi))}.",
             "", "## Fold 10: each criterion against the PTB-XL labels (default rules)", "",
             "| criterion | reference | sensitivity | specificity |", "|---|---|---|---|"]
    for name, ((task, codes), sids) in CRITERIA.items():
        pos = [i for i, lab in enumerate(labels) if codes & set(lab[task])]
        neg = [i for i, lab in enumerate(labels) if not codes & set(lab[task])]
        tp = sum(bool(sids & found(r10[i])) for i in pos)
        tn = sum(not (sids & found(r10[i])) for i in neg)
        lines.append(f"| {name} | {task} {'/'.join(sorted(codes))} | {_ci(tp, len(pos))} | {_ci(tn, len(neg))} |")
    return "\n".join(lines) + "\n"


def _row(name: str, s: dict[str, Any]) -> str:
    cells = []
    for lv in ("emergency", "soon", "routine", "normal"):
        x = s[lv]
        k = round(x["sens"] * x["n_pos"]) if x["n_pos"] else 0
        lo, hi = wilson(k, x["n_pos"])
        cells.append(f"{x['sens']:.3f} ({lo:.2f}–{hi:.2f}) / {x['spec']:.3f} [n={x['n_pos']}]")
    return f"| {name} | " + " | ".join(cells) + " |"


def ais_used(version: str | None) -> bool:
    return bool(version) and not str(version).startswith(("classifier unavailable", "not used"))


def report(args, version, tuned, s9, s10, default10, n9, n10) -> str:
    cmd = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_urgency.py" + (" --no-ai" if args.no_ai else "") + (
        f" --model {args.model}" if args.model else "") + (
        f" --limit {args.limit}" if args.limit else "")
    lines = [
        "# Urgency triage on PTB-XL (fold 10; emergency thresholds tuned on fold 9)", "",
        f"Command: `{cmd}`", "",
        f"Rules `{RULES_VERSION}`; AI: {version}; {n9} fold-9 and {n10} fold-10 records at 100 Hz "
        "(sex unknown in the shared PTB-XL copy: generic QTc limit).", "",
        "Sensitivity (95 % Wilson CI) / specificity of **predicted level ≥ L** against **reference level ≥ L** "
        "(for `normal`: predicted normal among reference-normal / predicted non-normal among the others).", "",
        "| setting | emergency | soon or more | routine or more | normal |", "|---|---|---|---|---|",
        _row("fold 9, tuned", s9), _row("**fold 10, tuned**", s10), _row("fold 10, default rules", default10), "",
        f"Tuned on fold 9 (grid {json.dumps(GRID)}; goal emergency sensitivity ≥ {GOAL}): "
        f"`{json.dumps(tuned)}`; rule defaults: "
        f"`{json.dumps({k: THRESHOLDS[k] for k in GRID})}`.", "",
        "Fold-10 confusion (rows reference, columns predicted; " + ", ".join(LEVELS) + "):", "",
        "| reference \\ predicted | " + " | ".join(LEVELS) + " |", "|---|" + "---:|" * len(LEVELS),
    ]
    if not ais_used(version):
        lines[4:4] = ["**Without the AI** only the measurement rules run: ST elevation (`STE`) cannot be "
                      "seen (no ST measurement in the analysis document), so emergency sensitivity rests on "
                      "the rate rules alone; re-run this benchmark once the classifier is installed.", ""]
    for lv, row in zip(LEVELS, s10["confusion"]):
        lines.append(f"| {lv} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "", "## Reference mapping (from `labels.csv`)", "",
        "* **emergency**: form `STE` (ST elevation), rhythm `SVTAC` / `PSVT` (supraventricular tachycardia).",
        "* **soon**: rhythm `AFIB`, `AFLT`; form `LNGQT`; sub-class `CLBBB`, `LVH`, `RVH`, `SEHYP`, `WPW`, "
        "`IMI`, `AMI`, `LMI`, `PMI` (infarction, age not given), `ISCA`, `ISCI`, `ISC` (ischaemic ST-T); "
        "`CRBBB` with `LAFB/LPFB` (bifascicular).",
        "* **normal**: sub-class exactly `NORM`, rhythm `SR` only, no form statement.",
        "* **routine**: everything else.", "",
        "Limits: the shared copy has only the sub-class level, so the injury codes (INJAS, INJAL, INJIN, "
        "INJLA, INJIL) are merged into `AMI`/`IMI` with old infarctions, and 2AVB/3AVB into `AVB` with "
        "first-degree blocks (about 97 % of `AVB`); they cannot be scored as emergencies here and the "
        "emergency reference is small (wide CI). Extreme rates and QTc ≥ 500 ms have no PTB-XL label.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
