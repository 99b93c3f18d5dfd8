"""The shipped classifier on LUDB (external: another country, device and era) by patient subgroup:
sex and age (< 60 / >= 60 years), for the statements of ``bench_classifier.LUDB_MAP``.

An AUC is given only where the subgroup has at least 5 positives and 5 negatives; the counts are
small, so the figures are indicative (no interval would be narrow). Writes
``benchmarks/results/subgroups.md``. Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_subgroups.py``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classifier import LUDB_MAP, RESULTS  # noqa: E402

from ecgpilot.model import load_model  # noqa: E402
from ecgpilot.model.metrics import roc_auc  # noqa: E402
from ecgpilot.paths import shared_data_dir  # noqa: E402
from ecgpilot.record import ECGRecord  # noqa: E402

MIN_CLASS = 5


def main() -> None:
    import wfdb

    root = shared_data_dir() / "ludb"
    rows = {int(r["ID"]): r for r in csv.DictReader(open(root / "ludb.csv", newline=""))}
    ids = sorted(rows)
    clf = load_model()
    probs = []
    for i in ids:
        rec = wfdb.rdrecord(str(root / "data" / str(i)))
        probs.append(clf.predict_proba(ECGRecord(signal=rec.p_signal.T * 1000.0, fs=float(rec.fs),
                                                 leads=tuple(rec.sig_name)))[0])
    p = np.stack(probs)
    sex = np.array([rows[i]["Sex"].strip() for i in ids])
    age = np.array([float(rows[i]["Age"].strip().rstrip("+") or "nan") if rows[i]["Age"].strip()[:1].isdigit()
                    else np.nan for i in ids])
    groups = {"all": np.ones(len(ids), bool), "women": sex == "F", "men": sex == "M",
              "< 60 y": age < 60, ">= 60 y": age >= 60}
    keys = [(o["task"], o["code"]) for o in clf.meta["outputs"]]
    lines = ["# Classifier by subgroup on LUDB (sex, age)", "",
             f"Model `{clf.meta.get('version')}`; LUDB 200 records (Lobachevsky University, 500 Hz). "
             f"AUC (positives) per subgroup; '—' where a subgroup has fewer than {MIN_CLASS} positives or negatives.",
             f"Subgroup sizes: " + ", ".join(f"{g} {int(m.sum())}" for g, m in groups.items()) + ".", "",
             "| statement | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
    for (task, code), pred in LUDB_MAP.items():
        j = keys.index((task, code))
        y = np.array([pred(rows[i]) for i in ids])
        cells = []
        for m in groups.values():
            yy, pp = y[m], p[m, j]
            pos, neg = int(yy.sum()), int((~yy).sum())
            cells.append(f"{roc_auc(yy, pp):.2f} ({pos})" if pos >= MIN_CLASS and neg >= MIN_CLASS else f"— ({pos})")
        lines.append(f"| {code} | " + " | ".join(cells) + " |")
    lines += ["", "PTB-XL fold 10 cannot be split this way here: the shared copy carries no age or sex."]
    (RESULTS / "subgroups.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
