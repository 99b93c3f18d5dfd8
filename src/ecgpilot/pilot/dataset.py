"""The pseudonymised analysis dataset the HAS can re-analyse (R, Stata, Python): one CSV per table,
a data dictionary (CSV and Markdown), the protocol, and a manifest with the SHA-256 of every file.
Parquet copies are added when ``pyarrow`` is installed.

No name, birth date, INS or RPPS: GPs, practices and studies appear as keyed pseudonyms
(:func:`ecgpilot.audit.pseudonymise`); ages as bands.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ecgpilot.errors import ConfigError

__all__ = ["DICTIONARY", "write_dataset", "read_dataset", "verify_manifest"]

# table → column → (type, description)
DICTIONARY: dict[str, dict[str, tuple[str, str]]] = {
    "volume": {
        "gp": ("string", "GP pseudonym (R- keyed hash of the RPPS, U- of the account, PS- the insurer's)"),
        "practice": ("string", "practice pseudonym (unit of allocation)"),
        "month": ("string YYYY-MM", "calendar month"),
        "period": ("integer", "protocol period (0 = first period; -1 = baseline before the pilot)"),
        "crossover_period": ("integer or empty", "period from which the practice has the AI (empty: never)"),
        "ai_on": ("0/1", "AI reading on for this practice in this month (protocol and allocation)"),
        "n_app": ("integer", "ECGs recorded in the app by this GP this month"),
        "n_insurer": ("integer or empty", "ECG acts DEQP003 billed by this GP this month (insurer's extract)"),
        "n_ecg": ("integer", "primary outcome: n_insurer when present, else n_app"),
        "source": ("insurer/app", "which source n_ecg comes from"),
    },
    "studies": {
        "study": ("string", "study pseudonym"),
        "practice": ("string", "practice pseudonym"),
        "gp": ("string", "pseudonym of the GP who recorded the ECG"),
        "arm": ("ai_on/ai_off", "arm of the practice at the ECG's date"),
        "period": ("integer", "protocol period"),
        "month": ("string YYYY-MM", "month of the ECG"),
        "sex": ("M/F or empty", "patient's sex"),
        "age_band": ("<40/40-59/60-74/75+ or empty", "patient's age band at the ECG"),
        "device": ("string or empty", "ECG device model as the file says"),
        "model_version": ("string or empty", "AI model version (empty when the AI was off)"),
        "rules_version": ("string or empty", "interpretation rules version"),
        "ai_urgency": ("emergency/repeat_now/soon/routine/normal or empty", "urgency proposed by the AI"),
        "doctor_urgency": ("same levels or empty", "urgency in the signed report"),
        "decision": ("accepted/modified/rejected or empty", "the doctor's decision on the AI statements"),
        "tele_expertise": ("true/false", "a tele-expertise request was sent"),
        "te_turnaround_h": ("number or empty", "hours from the request to the cardiologist's answer"),
        "overread_urgency": ("urgency level or empty", "urgency given by the cardiologist (over-read)"),
        "followed_up": ("true/false", "the 30-day follow-up was entered"),
        "referred": ("true/false or empty", "referred to a cardiologist within 30 days"),
        "referral_kind": ("consultation/tele_expertise/emergency or empty", "how"),
        "emergency": ("true/false or empty", "sent to an emergency department"),
        "hospitalised": ("true/false or empty", "hospitalised"),
        "diagnosis": ("code or empty", "final diagnosis at 30 days (ecgpilot.pilot.followup.DIAGNOSES)"),
        "new_diagnosis": ("true/false or empty", "a new diagnosis found thanks to this ECG"),
        "treatment_changed": ("true/false or empty", "ECG-driven change of treatment"),
        "days_to_cardiology": ("integer or empty", "days from the ECG to the cardiology visit"),
        "seen_by_cardiologist": ("true/false", "a cardiology visit date was entered"),
        "signed_month": ("string YYYY-MM", "month the report was first signed"),
        "cost_eur": ("number", "30-day pathway cost of this ECG (tariffs.json)"),
    },
    "allocation": {
        "practice": ("string", "practice pseudonym"),
        "stratum": ("string", "randomisation stratum"),
        "crossover_period": ("integer or empty", "period from which the AI is on (empty: never)"),
    },
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_dataset(out: Path, tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write every table as CSV (UTF-8, comma, ``.`` decimals, empty = missing), the dictionary, ``meta`` as
    ``protocol.json`` and ``manifest.json`` (file → SHA-256). Every column must be in :data:`DICTIONARY`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, df in tables.items():
        if name not in DICTIONARY:
            raise ConfigError(f"table {name!r} has no data dictionary; known tables: {', '.join(DICTIONARY)}.")
        extra = [c for c in df.columns if c not in DICTIONARY[name]]
        if extra:
            raise ConfigError(f"table {name!r}: columns {extra} are not in the data dictionary; add them before exporting.")
        cols = [c for c in DICTIONARY[name] if c in df.columns]
        p = out / f"{name}.csv"
        df[cols].to_csv(p, index=False, lineterminator="\n")
        files.append(p)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            pq = out / f"{name}.parquet"
            df[cols].to_parquet(pq, index=False)
            files.append(pq)
    dict_rows = [{"table": t, "column": c, "type": ty, "description": d}
                 for t, cols in DICTIONARY.items() if t in tables for c, (ty, d) in cols.items() if c in tables[t].columns]
    pd.DataFrame(dict_rows).to_csv(out / "data_dictionary.csv", index=False, lineterminator="\n")
    md = ["# Data dictionary", "", "Missing values are empty cells. Booleans are `True`/`False`.", ""]
    for t in tables:
        md += [f"## {t}.csv", "", "| column | type | description |", "|---|---|---|"]
        md += [f"| {r['column']} | {r['type']} | {r['description']} |" for r in dict_rows if r["table"] == t]
        md.append("")
    (out / "data_dictionary.md").write_text("\n".join(md), encoding="utf-8")
    (out / "protocol.json").write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False, default=str),
                                       encoding="utf-8")
    files += [out / "data_dictionary.csv", out / "data_dictionary.md", out / "protocol.json"]
    manifest = {"files": {f.name: _sha256(f) for f in files}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest


def verify_manifest(folder: Path) -> list[str]:
    """Files whose SHA-256 differs from the manifest (or are missing); empty when the dataset is intact."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    bad = []
    for name, sha in manifest["files"].items():
        p = folder / name
        if not p.is_file() or _sha256(p) != sha:
            bad.append(name)
    return bad


def read_dataset(folder: Path) -> dict[str, pd.DataFrame]:
    """Read the CSV tables back (after checking the manifest), with the dictionary's integer columns as nullable ints."""
    folder = Path(folder)
    bad = verify_manifest(folder)
    if bad:
        raise ConfigError(f"dataset {folder}: files {bad} are missing or changed since export (manifest.json).")
    out = {}
    for t in DICTIONARY:
        p = folder / f"{t}.csv"
        if p.is_file():
            df = pd.read_csv(p, dtype={"month": str, "signed_month": str})
            for c, (ty, _) in DICTIONARY[t].items():
                if c in df.columns and ty.startswith("integer"):
                    df[c] = df[c].astype("Int64")
            out[t] = df
    return out
