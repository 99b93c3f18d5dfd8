"""PTB-XL loader: exact decoding of the packed signals, labels, folds, patient-disjoint split."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import data_file
from ecgpilot.datasets.ptbxl import LEADS, TASKS, decode_packed, load_ptbxl
from ecgpilot.errors import ConfigError


def _pack(x: np.ndarray) -> np.ndarray:
    """Encoder written from the data README: (N, T, 12) µV → (12, N, T) packed."""
    s = x.transpose(2, 0, 1).astype(np.int32)
    p = s.copy()
    for k in (0, 1, 6, 7, 8, 9, 10, 11):
        p[k] = np.diff(s[k], axis=1, prepend=0)
    i, ii = s[0], s[1]
    p[2] = s[2] - (ii - i)
    p[3] = s[3] + (i + ii) // 2
    p[4] = s[4] - (i - ii // 2)
    p[5] = s[5] - (ii - i // 2)
    return p.astype(np.int16)


def test_decode_roundtrip_synthetic() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, size=(4, 1000, 12)).astype(np.int16)
    x[..., 2] = x[..., 1] - x[..., 0] + rng.integers(-1, 2, size=(4, 1000))  # III ≈ II - I
    out = decode_packed(_pack(x))
    assert out.shape == (4, 1000, 12) and out.dtype == np.int16
    np.testing.assert_array_equal(out, x)


@pytest.fixture(scope="module")
def ptbxl():
    data_file("ptbxl", "signals100.npy.xz")
    return load_ptbxl()


def test_rows_and_folds(ptbxl) -> None:
    # PTB-XL v1.0.3 has 21,799 records in 10 strat folds; 38 packed rows have no labels.
    assert len(ptbxl) == 21799
    assert ptbxl.signals.shape == (21799, 1000, 12)
    assert sorted(set(ptbxl.fold.tolist())) == list(range(1, 11))
    assert len(ptbxl.folds(10)) == 2198  # published size of fold 10


def test_patient_disjoint_split(ptbxl) -> None:
    train = set(ptbxl.patient_id[ptbxl.folds(*range(1, 9))].tolist())
    val = set(ptbxl.patient_id[ptbxl.folds(9)].tolist())
    test = set(ptbxl.patient_id[ptbxl.folds(10)].tolist())
    assert not (train & val) and not (train & test) and not (val & test)


def test_statement_counts_match_paper_and_csv(ptbxl) -> None:
    # Wagner et al. 2020: 5 superclasses, 23 subclasses, 19 form and 12 rhythm statements.
    published = {"super_class": 5, "sub_class": 23, "form": 19, "rhythm": 12}
    labels = data_file("ptbxl", "labels.csv")
    with labels.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for task in TASKS:
        seen = {c.strip(" '") for r in rows for c in r[task].strip("[]").split(",") if c.strip(" '")}
        assert ptbxl.statements(task) == sorted(seen)
        assert len(seen) == published[task]
    # NORM is both a superclass and a subclass: two distinct outputs, both set on record 1.
    outputs = [("super_class", "NORM"), ("sub_class", "NORM"), ("rhythm", "SR")]
    y = ptbxl.targets(outputs)
    first = int(np.flatnonzero(ptbxl.ecg_id == 1)[0])
    assert y[first].tolist() == [1.0, 1.0, 1.0]  # labels.csv row 1: ['NORM'], ['NORM'], ['SR']


def test_signals_obey_einthoven(ptbxl) -> None:
    x = np.asarray(ptbxl.signals[:200], dtype=np.int32)
    i, ii, iii = (x[..., LEADS.index(n)] for n in ("I", "II", "III"))
    assert np.abs(iii - (ii - i)).max() <= 2  # µV rounding of the original recordings
    assert 50 < np.abs(ii).mean() < 1000  # µV, not mV or raw counts


def test_unknown_task(ptbxl) -> None:
    with pytest.raises(ConfigError, match="accepted"):
        ptbxl.statements("diagnostic")
