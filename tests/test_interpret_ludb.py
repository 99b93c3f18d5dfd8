"""The measurement-based reading on real LUDB ECGs against the cardiologists' diagnoses
(``ludb.csv``), with the AI switched off so that only the rules on measurements are tested."""

from __future__ import annotations

import csv

import pytest

from ecgpilot.analysis import analyze_record
from ecgpilot.interpret import interpret
from ecgpilot.datasets.ludb import read_ludb

from conftest import data_file

AF_LIKE = {"atrial_fibrillation", "irregular_rhythm_no_p", "atrial_flutter"}
SINUS = {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"}


def diagnoses() -> list[dict[str, str]]:
    with data_file("ludb", "ludb.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def reading(n: int, lang: str = "fr") -> dict:
    data_file("ludb", "data", f"{n}.hea")   # skips with a reason when LUDB is absent
    return interpret(analyze_record(read_ludb(n), use_ai=False), lang=lang)


def ids(r: dict) -> set[str]:
    return {s["id"] for s in r["statements"]}


@pytest.fixture(scope="module")
def rows(shared_data):
    return diagnoses()


def test_atrial_fibrillation_records_read_as_irregular_without_p(rows):
    af = [int(r["ID"]) for r in rows if r["Rhythms"].strip().startswith("Atrial fibrillation")
          and not r["Cardiac pacing"].strip()]
    assert len(af) >= 10
    found = [n for n in af if AF_LIKE & ids(reading(n))]
    assert len(found) / len(af) >= 0.75, f"AF read on {found} of {af}"
    r = reading(af[0] if af[0] in found else found[0])
    assert any("fibrillation atriale" in s["text"] for s in r["statements"])
    assert r["urgency"]["level"] in ("soon", "emergency")


def test_sinus_rhythm_records_read_as_sinus(rows):
    sr = [int(r["ID"]) for r in rows if r["Rhythms"].strip() == "Sinus rhythm"
          and not r["Cardiac pacing"].strip()][:30]
    readings = {n: ids(reading(n)) for n in sr}
    sinus = [n for n, s in readings.items() if SINUS & s]
    af = [n for n, s in readings.items() if AF_LIKE & s]
    assert len(sinus) / len(sr) >= 0.8, f"sinus on {len(sinus)} of {len(sr)}"
    assert len(af) <= 1, f"AF wrongly read on {af}"


def test_complete_lbbb_records_have_wide_qrs_in_english(rows):
    lb = [int(r["ID"]) for r in rows if "Complete left bundle branch block" in r["Conduction abnormalities"]]
    assert lb
    for n in lb:
        r = reading(n, lang="en")
        wide = [s for s in r["statements"] if s["id"] in ("wide_qrs", "lbbb", "ivcd")]
        assert wide, f"LUDB {n}: no wide QRS statement"
        assert wide[0]["evidence"][0]["name"] == "qrs_ms" and wide[0]["evidence"][0]["value"] >= 120
        assert wide[0]["text"].startswith(("Wide QRS", "Complete left bundle", "Nonspecific intraventricular"))
