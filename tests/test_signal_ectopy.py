"""Premature complexes from the tracing (``ecgpilot.signal.ectopy``) against MIT-BIH's beat annotations.

Records with many ventricular ectopics (119: bigeminy, and 208, 233; 119 is in the report half of
``benchmarks/bench_ectopy_mitdb.py``, 208 and 233 in the tuning half) and a sinus record (103, no V beat in its
first two minutes): 10-s windows, annotated AAMI classes against ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ecgpilot.signal.ectopy import beat_classes, classify, beat_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="module")
def mitdb(shared_data):
    if not (shared_data / "mitdb" / "mitdb.tar.xz").exists():
        pytest.skip("MIT-BIH is not in the shared data")
    import bench_ectopy_mitdb as be

    return be


def _windows(be, name: str, n: int):  # noqa: ANN001, ANN202
    out = []
    for k, w in enumerate(be.windows(name)):
        if k >= n:
            break
        out.append(w)
    return out


@pytest.mark.parametrize("name", ["119", "208", "233"])
def test_ventricular_beats_are_found(mitdb, name):
    """First 3 minutes, on 2026-12-05: 119 36/41 found, 36/41 right; 208 87/103, 87/98; 233 86/90, 86/86."""
    tp = ref = called = correct = 0
    for x, fs, det, lab, _, _ in _windows(mitdb, name, 18):   # the first 3 minutes
        cls = beat_classes(x, fs, det)["classes"]
        for g, r in zip(cls, lab):
            ref += r == "V"
            tp += r == "V" and g == "V"
            if g == "V" and r is not None:
                called += 1
                correct += r == "V"
    assert ref >= 20
    assert tp / ref >= 0.80, (name, tp, ref)
    assert correct / called >= 0.85, (name, correct, called)


def test_a_sinus_record_has_no_ventricular_beat(mitdb):
    windows = _windows(mitdb, "103", 12)
    assert not any(tv for *_, tv, _ in windows)  # the reference: no V beat in these 2 minutes
    assert sum(beat_classes(x, fs, det)["n_v"] for x, fs, det, *_ in windows) == 0


def test_thresholds_are_arguments_and_short_input_is_unclassified(mitdb):
    x, fs, det, *_ = _windows(mitdb, "119", 1)[0]
    idx, corr, ratio = beat_features(x, fs, det)
    assert classify(det, fs, idx, corr, ratio) == beat_classes(x, fs, det)
    strict = classify(det, fs, idx, corr, ratio, v_corr=-2.0, v_energy=1e9)
    assert strict["n_v"] == 0          # nothing can be called V with these limits
    few = beat_classes(x[:, : int(2 * fs)], fs, det[det < int(2 * fs)])
    assert set(few["classes"]) <= {"?"} and few["n_v"] == 0
    assert beat_classes(np.zeros((2, 100)), 360.0, np.array([], dtype=np.int64))["classes"] == []
