"""Where ST elevation is measured: the 4th-UDMI limits at the J point, at J+60 and at J+80 ms.

The STEMI criterion of the reading (``interpret.rules.ischaemia.stemi``, 4th universal definition of
MI, Thygesen et al. 2018) measures the elevation **at the J point**, with the guideline's limits
(V2–V3: 2 mm men ≥ 40 y, 2.5 mm men < 40 y, 1.5 mm women; 1 mm elsewhere), in two contiguous leads.
LUDB's 8 "Stemi" records do not reach those limits at J; most of their elevation comes later in
the ST segment. This benchmark answers the question that raises: *would the same limits, measured
later, be a usable criterion?* It counts, per set, the records with two contiguous leads at the
limits when the elevation is read

* ``J (product)``: at J and sustained at J+60 (what the reading uses);
* ``J``: at J alone; ``J+60``; ``J+80``.

Sets: PTB-XL folds 9 and 10 at 100 Hz (the cached analyses of ``bench_urgency.py``; normal =
sub-class exactly NORM, rhythm SR only, no form statement; MI = any infarction sub-class; sex
unknown in the shared copy, so the reading's unknown-sex limit applies), and LUDB (all 200 with
their true amplitudes, sex and age from ``ludb.csv``; STEMI = the 8 "Stemi" records vs the other
192). Nothing is tuned here: it only reports.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_st_point.py [--out benchmarks/results/st_point.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _stats import proportion

from ecgpilot.interpret import THRESHOLDS
from ecgpilot.interpret.context import build_context
from ecgpilot.interpret.rules.ischaemia import stemi_limit_uv

#: reading point name → the matrix keys that must all reach the limit
POINTS: dict[str, tuple[str, ...]] = {
    "J (product)": ("st_j_uv", "st_60_uv"),
    "J": ("st_j_uv",),
    "J+60": ("st_60_uv",),
    "J+80": ("st_80_uv",),
}


def elevated(analysis: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """Leads in contiguous pairs whose ST at every point of ``keys`` reaches its 4th-UDMI limit."""
    ctx = build_context(analysis, "en", THRESHOLDS)
    if not ctx.leads:
        return []

    def high(x: str) -> bool:
        lim = stemi_limit_uv(ctx, x)
        vals = [ctx.v(x, k) for k in keys]
        return all(v is not None and v >= lim for v in vals)

    return list(ctx.contiguous({x for x in ctx.leads if high(x)}))


def ptbxl_sets() -> dict[str, list[dict[str, Any]]]:
    """Fold-9 and fold-10 analysis documents grouped (normal / MI / other), from the urgency cache."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_urgency as bu

    from ecgpilot.paths import cache_dir

    ds = bu.load_ptbxl()
    cdir = cache_dir() / "bench_urgency"
    cdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for fold in (9, 10):
        idx = ds.folds(fold)
        docs = bu.analyses(ds, idx, cdir / f"analysis2_{bu.analysis_stamp()}_100hz.jsonl")
        for i in idx:
            lab = {t: ds.labels[t][i] for t in ds.labels}
            ref = bu.reference_level(lab)
            mi = bool({"AMI", "IMI", "LMI", "PMI"} & set(lab["sub_class"]))
            group = "normal" if ref == "normal" else ("MI" if mi else "other")
            out.setdefault(f"PTB-XL fold {fold}, {group}", []).append(docs[int(ds.ecg_id[i])])
    return out


def ludb_sets() -> dict[str, list[dict[str, Any]]]:
    """LUDB analysis documents (no AI), STEMI vs the others."""
    from ecgpilot.analysis import analyze_record
    from ecgpilot.datasets.ludb import ludb_diagnoses, ludb_root, read_ludb

    if ludb_root() is None:
        return {}
    dx = ludb_diagnoses()
    out: dict[str, list[dict[str, Any]]] = {"LUDB STEMI": [], "LUDB others": []}
    for n in range(1, 201):
        doc = analyze_record(read_ludb(n), use_ai=False)
        stemi = any(line.strip().startswith("Stemi") for line in dx[n]["Ischemia"].split("\n"))
        out["LUDB STEMI" if stemi else "LUDB others"].append(doc)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "st_point.md")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    sets = {**ludb_sets(), **ptbxl_sets()}
    header = "| set | n | " + " | ".join(POINTS) + " |"
    lines = [
        "# ST elevation at the J point, J+60 and J+80 ms with the 4th-UDMI limits",
        "",
        "Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_st_point.py`",
        "",
        "Records with two contiguous leads at the 4th-UDMI STEMI limits (Thygesen et al. 2018) when the ST",
        "is read at each point (count, share, Wilson 95 % CI). `J (product)` is the reading's criterion",
        "(at J, sustained at J+60). Nothing here is tuned; see the module docstring.",
        "",
        header,
        "|" + "---|" * (len(POINTS) + 2),
    ]
    for name, docs in sets.items():
        cells = [proportion(sum(bool(elevated(d, keys)) for d in docs), len(docs), digits=3) for keys in POINTS.values()]
        lines.append(f"| {name} | {len(docs)} | " + " | ".join(cells) + " |")
    lines += ["", f"({time.perf_counter() - t0:.0f} s)", ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
