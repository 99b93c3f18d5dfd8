"""Delineation beat by beat on the QT Database (two-lead Holter, 250 Hz) vs its cardiologists,
the T-end reliability check, and the classifier features kept on the former delineation.

The QTDB split and the scoring are those of ``benchmarks/bench_qtdb.py`` (tables in
``benchmarks/results/qtdb.md``). Settings were chosen on the tuning half; the bounds below are
asserted on the *report* half (odd positions in RECORDS), a few ms above what was reached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import data_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_qtdb as bq  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def qtdb(shared_data):
    if bq.qtdb_dir() is None:
        pytest.skip("the QT Database is not in the shared data")
    return bq.qtdb_dir()


@pytest.fixture(scope="module")
def report(qtdb):
    """Ours (now) and ours (legacy, before 2026-12-05) on the QTDB report half."""
    recs = bq.split("report")
    return {"now": bq.evaluate(recs, bq.ours), "legacy": bq.evaluate(recs, bq.ours, legacy=True)}


def test_split_is_fixed_and_disjoint(qtdb):
    tune, rep = bq.split("tuning"), bq.split("report")
    assert len(tune) == len(rep) == 26 and not set(tune) & set(rep)
    assert tune[0] == "sel114" and rep[0] == "sel117"


def test_annotations_are_read_as_beats(qtdb):
    beats = bq.annotated_beats("sel114")
    assert len(beats) >= 30
    b = beats[0]  # first annotated beat of sel114, read by hand from the .q1c file
    assert (b["p_on"], b["p_peak"], b["p_off"]) == (2500, 2520, 2528)
    assert (b["qrs_on"], b["qrs_peak"], b["qrs_off"]) == (2546, 2565, 2576)
    assert (b["t_peak"], b["t_off"]) == (2640, 2670)


# bounds on the report half: what was reached on 2026-12-05 plus a small margin (see qtdb.md)
REPORT_BOUNDS = {  # key: (|mean| max, SD max, detection share min)
    "p_on": (8.0, 21.0, 0.85),
    "qrs_on": (6.0, 11.0, 0.98),
    "qrs_off": (10.0, 14.0, 0.98),
    "t_off": (10.0, 32.0, 0.98),
    "qrs_ms": (12.0, 17.0, 0.98),  # the reported QRS duration vs the annotated one
}


@pytest.mark.parametrize("key", sorted(REPORT_BOUNDS))
def test_report_half_within_bounds(report, key):
    s = bq.stats(report["now"]["errors"][key])
    mean_max, sd_max, det_min = REPORT_BOUNDS[key]
    assert abs(s["mean"]) <= mean_max and s["sd"] <= sd_max and s["detected"] >= det_min, s


def test_qrs_offset_bias_reduced(report):
    """The QRS ended ~12 ms after the cardiologists' mark and the reported QRS duration was ~17 ms
    too long (report half); the 8 % offset thresholds (median beat and per beat) cut both."""
    now, old = (bq.stats(report[k]["errors"]["qrs_off"]) for k in ("now", "legacy"))
    assert now["mean"] < old["mean"] - 3 and now["sd"] <= old["sd"] + 0.5, (now, old)
    now, old = (bq.stats(report[k]["errors"]["qrs_ms"]) for k in ("now", "legacy"))
    assert now["mean"] < old["mean"] - 5 and now["sd"] < old["sd"], (now, old)


def test_t_end_improved_on_two_lead_records(report):
    """The T end was 43 ms SD off on the report half; following a late lobe of opposite sign
    (biphasic T; on recordings of at most 3 leads) brings it near 30 ms and halves the > 40 ms share."""
    now, old = (bq.stats(report[k]["errors"]["t_off"]) for k in ("now", "legacy"))
    assert now["sd"] < old["sd"] - 10 and now["gt40"] < 0.6 * old["gt40"], (now, old)


def test_features_unchanged_for_the_shipped_model(shared_data):
    """The classifier's record features still come from the delineation it was trained with:
    identical to the values computed at git 4017a0c, before the 2026-12-05 change."""
    import bench_measurements as bm

    from ecgpilot.model.features import FEATURE_NAMES, LEADS12, model_features
    from ecgpilot.signal.filters import resample_poly

    data_file("ludb", "data", "1.hea")
    ref = json.loads((FIXTURES / "features_ludb100_before.json").read_text())
    assert ref["names"] == list(FEATURE_NAMES)
    for n, values in ref["features"].items():
        rec = bm.load_record(int(n))
        low = [s.lower() for s in rec.leads]
        x = np.stack([rec.signal[low.index(name.lower())] for name in LEADS12]).astype(np.float64)
        got = model_features(resample_poly(x, 1, 5, axis=1), 100.0, FEATURE_NAMES)
        np.testing.assert_allclose(got, np.asarray(values, dtype=np.float32), rtol=0, atol=1e-6, err_msg=f"LUDB {n}")


def _t_end_and_flags(name: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """T end error (ms) and 'QT not reliable' per annotated beat of a QTDB record (10-s windows)."""
    x, fs, leads = bq.load(name)
    beats = bq.annotated_beats(name)
    got = bq.ours(x, fs, leads, beats)
    err, flag, meas = [], [], []
    for b, g in zip(beats, got):
        m = g["measurements"]
        if b["t_off"] is None or g["t_off"] is None or m is None or m["qt_ms"] is None:
            continue
        err.append((g["t_off"] - b["t_off"]) * 1000.0 / fs)
        flag.append(not m["qt_reliable"])
        meas.append(m)
    return np.asarray(err), np.asarray(flag), meas


def test_qt_reliable_on_hand_checked_records(qtdb):
    """sele0406 (tuning half): upright T waves in both leads ending together, our T end within a
    few ms of the cardiologists' -> reliable throughout. sel223 (tuning half): flat T after a
    depressed ST segment in MLII, almost none in V1; our T end ~80 ms before the cardiologists'
    -> flagged on nearly every window, the QT still reported."""
    err, flag, meas = _t_end_and_flags("sele0406")
    assert len(err) >= 28 and abs(err.mean()) < 10 and not flag.any()
    assert max(m["t_end_spread_ms"] for m in meas) <= 20
    err, flag, meas = _t_end_and_flags("sel223")
    assert len(err) >= 28 and err.mean() < -50  # the failure the flag is for
    assert flag.mean() >= 0.8
    assert all(m["qt_ms"] is not None and m["qtc_ms"] is not None for m in meas)


def test_qt_reliable_sorts_the_report_half(report):
    """On the report half, most beats whose T end is > 40 ms off are flagged, few of the others,
    and the beats left reliable have a much tighter T end (threshold chosen on the tuning half)."""
    err, flag = [], []
    for _, _, b, g, fs in report["now"]["rows"]:
        m = g["measurements"]
        if b["t_off"] is None or g["t_off"] is None or m is None or m["qt_ms"] is None:
            continue
        err.append((g["t_off"] - b["t_off"]) * 1000.0 / fs)
        flag.append(not m["qt_reliable"])
    e, f = np.asarray(err), np.asarray(flag)
    bad = np.abs(e) > 40
    assert f[bad].mean() >= 0.55 and f[~bad].mean() <= 0.17, (f[bad].mean(), f[~bad].mean())  # 61 %, 15 %
    assert e[~f].std(ddof=1) < 0.75 * e.std(ddof=1)  # 19.3 vs 29.3 ms


def test_false_very_long_qtc_mostly_flagged(report):
    """Windows where we find QTc >= 500 ms but the cardiologists' QTc of the beat is < 480 ms: the
    'very long QTc' emergency that should not be raised. On the report half 28 of 36 are flagged."""
    false = flagged = 0
    for _, _, b, g, fs in report["now"]["rows"]:
        m = g["measurements"]
        if m is None or m["qtc_ms"] is None or m["qtc_ms"] < 500 or b["t_off"] is None or b["qrs_on"] is None:
            continue
        ref = (b["t_off"] - b["qrs_on"]) * 1000.0 / fs / np.cbrt(m["rr_ms"] / 1000.0)
        if ref < 480:
            false += 1
            flagged += not m["qt_reliable"]
    assert false >= 20 and flagged >= 0.7 * false, (flagged, false)
