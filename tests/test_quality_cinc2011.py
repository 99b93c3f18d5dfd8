"""The quality gate against the PhysioNet/CinC Challenge 2011 annotators (phone ECGs judged
acceptable or unacceptable), on the half of the set that was never used to tune it, and its
refusals on clinical ECGs (LUDB, PTB-XL fold 9). Split, method and numbers:
``benchmarks/bench_quality_cinc2011.py`` and ``benchmarks/results/quality_cinc2011.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ecgpilot.signal.quality import NOT_INTERPRETABLE

from conftest import data_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_quality_cinc2011 import (  # noqa: E402
    CinC2011, load_cinc2011, quality_of, refused_rows, scores, stratified_tune_mask,
)


@pytest.fixture(scope="module")
def cinc() -> CinC2011:
    data_file("cinc2011-quality", "signals.npy.xz")
    data_file("cinc2011-quality", "labels.csv")
    return load_cinc2011()


@pytest.fixture(scope="module")
def report(cinc: CinC2011) -> dict:
    """Scores on the report half only (the gate as the analysis runs it)."""
    rows = np.flatnonzero(~cinc.tune)
    refused = np.array([quality_of(cinc.ecg(i))["verdict"] == NOT_INTERPRETABLE for i in rows])
    return scores(cinc.acceptable[rows], refused)


def row_of(cinc: CinC2011, record: str) -> int:
    return cinc.record.index(record)


def test_split_is_a_fixed_stratified_half(cinc):
    assert len(cinc.record) == 498 and int((~cinc.acceptable).sum()) == 112
    assert int(cinc.tune.sum()) == 249
    for cls in (True, False):
        assert int((cinc.tune & (cinc.acceptable == cls)).sum()) == int((~cinc.tune & (cinc.acceptable == cls)).sum())
    assert np.array_equal(stratified_tune_mask(cinc.acceptable), cinc.tune)  # seeded: the same every run


def test_report_half_reaches_the_goals(report):
    """Measured 2026-12-05: 49/56 unacceptable refused, 189/193 acceptable kept (accuracy 0.956);
    before this tuning 27/56 and 193/193 (0.884). Goals: 0.93 / 0.85 / 0.95."""
    assert report["n"] == 249
    assert report["accuracy"] >= 0.93
    assert report["caught"] >= 0.85
    assert report["kept"] >= 0.95


def test_a_record_with_an_electrode_off_is_refused_and_names_it(cinc):
    i = row_of(cinc, "1068152")  # report half, annotators: unacceptable; V6 flat
    assert not cinc.acceptable[i] and not cinc.tune[i]
    q = quality_of(cinc.ecg(i))
    assert q["verdict"] == NOT_INTERPRETABLE and not q["interpretable"]
    assert q["critical_leads"] == ["V6"]
    assert any(r["code"] == "flat" and r["lead"] == "V6" for r in q["reasons"])
    assert any(r["code"] == "leads_off" and r["lead"] is None and "V6" in r["message_fr"] for r in q["reasons"])
    assert "refaire l'enregistrement" in q["message_fr"] and "V6" in q["message_fr"]


def test_a_disconnected_lead_is_not_blamed_on_the_file_unit(cinc):
    i = row_of(cinc, "1347106")  # report half, unacceptable: giant deflections on V1 only
    assert not cinc.acceptable[i]
    q = quality_of(cinc.ecg(i))
    assert q["verdict"] == NOT_INTERPRETABLE and q["critical_leads"] == ["V1"]
    v1 = {r["code"] for r in q["reasons"] if r["lead"] == "V1"}
    assert v1 == {"disconnected"}  # not "implausible_amplitude": the other 11 leads are fine
    assert q["leads"]["V1"]["amplitude_uv"] > 25_000


def test_a_clean_phone_record_is_kept(cinc):
    i = row_of(cinc, "1029390")  # report half, acceptable
    assert cinc.acceptable[i]
    q = quality_of(cinc.ecg(i))
    assert q["verdict"] == "good" and q["critical_leads"] == [] and q["reasons"] == []


def test_every_refusal_says_what_to_do(cinc):
    """Spot check on the first 40 report-half rows: a refused record always carries a
    record-level critical reason and the 'record again' advice in both languages."""
    rows = np.flatnonzero(~cinc.tune)[:40]
    refused = refused_rows(CinC2011(cinc.signals[rows], cinc.acceptable[rows], [cinc.record[i] for i in rows],
                                    cinc.tune[rows]))
    assert refused.any()
    for k in np.flatnonzero(refused):
        q = quality_of(cinc.ecg(int(rows[k])))
        assert any(r["lead"] is None and r["severity"] == "critical" for r in q["reasons"])
        assert "refaire l'enregistrement" in q["message_fr"] and "record it again" in q["message_en"]


def test_clinical_ludb_records_are_never_refused(shared_data):
    """All 200 LUDB ECGs read with read_ecg, gate as the analysis runs it: 0 refused (measured),
    and at most 2 carry an unusable lead (measured: 0)."""
    from ecgpilot.io import read_ecg

    refused, with_critical = [], []
    for n in range(1, 201):
        q = quality_of(read_ecg(data_file("ludb", "data", f"{n}.hea")).with_derived_leads())
        if q["verdict"] == NOT_INTERPRETABLE:
            refused.append(n)
        if q["critical_leads"]:
            with_critical.append(n)
    assert refused == []
    assert len(with_critical) <= 2


def test_clinical_ptbxl_fold9_sample_is_never_refused(shared_data):
    """A seeded sample of 300 PTB-XL fold-9 records (100 Hz): 0 refused (all 2,183: 0, measured)."""
    from bench_quality_cinc2011 import ptbxl_refusals

    data_file("ptbxl", "signals100.npy.xz")
    bad, n, _ = ptbxl_refusals(300)
    assert n == 300 and bad == []
