"""Each criterion of the reading on real tracings.

Where LUDB has the finding (``ludb.csv``: complete LBBB and RBBB, atrial fibrillation and flutter,
first-degree AV block, Q-wave scar, paced rhythm), the record itself is read. Acute patterns the
shared data lacks at guideline amplitude (none of LUDB's 8 STEMI records reaches the 4th-UDMI J-point
limits, see benchmarks/results/reading_ludb.md) are checked by adding a known ST deviation to a real
normal tracing at the beats' measured J points, consistently with Einthoven's and Goldberger's laws:
the rule must fire on the modified tracing and not on the original. Amplitudes are LUDB's true ones
(``ecgpilot.datasets.ludb.read_ludb``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ecgpilot.analysis import analyze_record
from ecgpilot.interpret import interpret
from ecgpilot.record import ECGRecord

from conftest import data_file

NORMAL = 56       # LUDB 56: sinus rhythm, no other diagnosis (ludb.csv)


@pytest.fixture(scope="module")
def ludb(shared_data):
    data_file("ludb", "data", "1.hea")
    from ecgpilot.datasets.ludb import read_ludb

    return read_ludb


def reading(rec: ECGRecord, *, use_ai: bool = False, lang: str = "en") -> tuple[dict[str, Any], dict[str, Any]]:
    doc = analyze_record(rec, use_ai=use_ai)
    return doc, interpret(doc, lang=lang)


def found(r: dict[str, Any]) -> set[str]:
    return {s["id"] for s in r["statements"] if s["status"] == "finding"}


def two_leads(rec: ECGRecord) -> ECGRecord:
    """A one-lead recording copied into two precordial leads (no lead derived from them): leads that agree."""
    return ECGRecord(signal=np.vstack([rec.signal, rec.signal]), fs=rec.fs, leads=("V5", "V6"))


def with_st(rec: ECGRecord, doc: dict[str, Any], shift_uv: dict[str, float]) -> ECGRecord:
    """``rec`` with an ST deviation added on every averaged beat: ``shift_uv`` per independent lead
    (I, II, V1–V6); III, aVR, aVL, aVF get the Einthoven/Goldberger combination. Full from J to 60 %
    of J–T end, raised-cosine ramps (20 ms before J, down to the T end)."""
    lm = doc["measurements"]["lead_matrix"]
    j, t_off = lm["points_ms"]["j"] / 1000, lm["points_ms"]["t_off"] / 1000
    fs = rec.fs
    shape = np.zeros(rec.n_samples)
    for b in lm["beats_s"]:
        t = np.arange(rec.n_samples) / fs - b
        up = np.clip((t - (j - 0.02)) / 0.02, 0, 1)
        plateau_end = j + 0.6 * (t_off - j)
        down = np.clip((t_off - t) / (t_off - plateau_end), 0, 1)
        w = np.minimum(0.5 - 0.5 * np.cos(np.pi * up), 0.5 - 0.5 * np.cos(np.pi * down))
        shape = np.maximum(shape, w * ((t > j - 0.02) & (t < t_off)))
    i, ii = shift_uv.get("I", 0.0), shift_uv.get("II", 0.0)
    full = dict(shift_uv)
    full.update({"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2})
    sig = rec.signal.astype(np.float64).copy()
    for k, name in enumerate(rec.leads):
        sig[k] += full.get(name, 0.0) * shape
    return rec.replace(signal=sig.astype(np.float32))


def test_the_normal_tracing_reads_normal_without_acute_finding(ludb):
    doc, r = reading(ludb(NORMAL))
    assert r["urgency"]["level"] in ("normal", "routine")
    assert not {"stemi", "posterior_stemi", "avr_stemi_equivalent"} & found(r)


def test_inferior_stemi_on_a_real_tracing(ludb):
    rec = ludb(NORMAL)
    doc, _ = reading(rec)
    sick = with_st(rec, doc, {"II": 200.0, "I": 0.0})          # II, III, aVF +2 mm; aVR, aVL −1 mm
    doc2, r = reading(sick)
    st = {x: doc2["measurements"]["lead_matrix"]["leads"][x]["st_j_uv"] for x in ("II", "III", "aVF", "aVL")}
    assert all(st[x] >= 150 for x in ("II", "III", "aVF")) and st["aVL"] <= -50, st
    s = next(s for s in r["statements"] if s["id"] == "stemi")
    assert {"II", "III", "aVF"} <= set(s["leads"]) and "aVL" in s["text"]          # reciprocal named
    assert r["urgency"]["level"] == "emergency"


def test_anterior_elevation_limits_by_sex_on_a_real_tracing(ludb):
    """V2–V3 need 1.5 mm in a woman (LUDB 56: a woman of 46) and 2 mm in a man ≥ 40 y: +1.4 mm is not a
    STEMI, +1.7 mm is for her and is not for the same tracing labelled a man of 50."""
    rec = ludb(NORMAL)
    assert rec.patient.sex == "F"
    doc, _ = reading(rec)
    base = {x: doc["measurements"]["lead_matrix"]["leads"][x]["st_j_uv"] for x in ("V2", "V3")}

    def at(level: float, sex: str, age: float) -> set[str]:
        sick = with_st(rec, doc, {x: level - base[x] for x in ("V2", "V3")})
        return found(reading(sick.replace(patient=sick.patient.__class__(sex=sex, age_years=age)))[1])

    assert "stemi" not in at(140.0, "F", 46.0)
    assert "stemi" in at(170.0, "F", 46.0)
    assert "stemi" not in at(170.0, "M", 50.0)
    assert "stemi" in at(230.0, "M", 50.0)


def test_diffuse_depression_with_elevation_in_avr(ludb):
    rec = ludb(NORMAL)
    doc, _ = reading(rec)
    sick = with_st(rec, doc, {"I": -150.0, "II": -150.0, "V3": -150.0, "V4": -180.0, "V5": -180.0, "V6": -150.0})
    _, r = reading(sick)                                          # aVR = +1.5 mm by Goldberger's law
    assert "avr_stemi_equivalent" in found(r) and r["urgency"]["level"] == "emergency"


def test_concordant_elevation_in_a_real_lbbb_is_sgarbossa(ludb):
    rec = ludb(44)                                                # LUDB 44: complete LBBB
    doc, r0 = reading(rec)
    assert "lbbb" in found(r0) and "sgarbossa" not in found(r0) and "stemi" not in found(r0)
    lm = doc["measurements"]["lead_matrix"]["leads"]
    positive = [x for x in ("V5", "V6") if lm[x]["r_uv"] > -lm[x]["s_uv"]]
    assert positive
    _, r = reading(with_st(rec, doc, {x: 200.0 for x in positive}))
    assert "sgarbossa" in found(r) and r["urgency"]["level"] == "emergency"


@pytest.mark.parametrize("n", [24, 44, 51, 83])
def test_complete_lbbb_records(ludb, n):
    _, r = reading(ludb(n))
    ids = found(r)
    assert "lbbb" in ids and not {"rbbb", "incomplete_lbbb", "stemi"} & ids


@pytest.mark.parametrize("n", [10, 23, 108])
def test_complete_rbbb_records(ludb, n):
    _, r = reading(ludb(n))
    ids = found(r)
    assert "rbbb" in ids and not {"incomplete_rbbb", "lbbb"} & ids


def test_atrial_flutter_is_not_called_fibrillation(ludb):
    """LUDB 52 and 103: typical flutter (ludb.csv). Read as flutter, never as AF too."""
    for n in (52, 103):
        _, r = reading(ludb(n), use_ai=True)
        ids = {s["id"] for s in r["statements"]}
        assert "atrial_flutter" in found(r), n
        assert "atrial_fibrillation" not in ids and "sinus_rhythm" not in ids, n


def test_atrial_fibrillation_records(ludb):
    hits = []
    for n in (38, 88):
        _, r = reading(ludb(n))
        hits.append(bool({"atrial_fibrillation", "irregular_rhythm_no_p"} & found(r)) and "sinus_rhythm" not in found(r))
    assert all(hits)


def test_first_degree_av_block_records(ludb):
    for n in (77, 78):                                        # LUDB: I degree AV block
        _, r = reading(ludb(n))
        s = next(s for s in r["statements"] if s["id"] == "first_degree_avb")
        assert s["evidence"][0]["name"] == "pr_ms" and s["evidence"][0]["value"] > 200


def test_q_wave_infarction_on_a_real_tracing(ludb):
    """LUDB 21: QS in V2–V5 (anterior scar), the AI sees an anterior MI: a confirmed infarction with its
    Q-wave evidence, not an AI-only one."""
    _, r = reading(ludb(21), use_ai=True)
    inf = next(s for s in r["statements"] if s["id"] in ("infarction"))
    assert inf["status"] == "finding" and {"V2", "V3"} <= set(inf["leads"])
    assert any(e["name"].startswith("lead_matrix.V") and e["name"].endswith("q_ms") for e in inf["evidence"])


def test_paced_records_have_no_intrinsic_conduction_statements(ludb):
    for n in (34, 45):
        _, r = reading(ludb(n))
        ids = {s["id"] for s in r["statements"]}
        assert "paced_rhythm" in ids
        assert not {"lbbb", "rbbb", "lvh", "infarction", "pathological_q", "stemi"} & ids


def test_a_child_raises_no_urgency_from_adult_limits(ludb):
    rec = ludb(NORMAL)
    doc, _ = reading(rec)
    sick = with_st(rec, doc, {"II": 200.0})
    child = sick.replace(patient=sick.patient.__class__(sex="M", age_years=9.0))
    _, r = reading(child)
    assert "paediatric" in found(r) and r["urgency"]["level"] == "routine"


def test_an_emergency_on_a_critical_lead_becomes_repeat_now(ludb):
    """Inferior STEMI added, then electrode-off noise (steps of several mV) added to aVF: the
    quality gate calls aVF critical, the STEMI rests on it: "possible ...: repeat the recording now"."""
    rec = ludb(NORMAL)
    doc, _ = reading(rec)
    sick = with_st(rec, doc, {"II": 200.0})
    sig = sick.signal.astype(np.float64).copy()
    k = sick.leads.index("aVF")
    rng = np.random.default_rng(7)
    sig[k] += np.repeat(rng.normal(0, 3000, sick.n_samples // 50 + 1), 50)[: sick.n_samples]
    doc2, r = reading(sick.replace(signal=sig.astype(np.float32)))
    assert doc2["quality"]["critical_leads"] == ["aVF"]          # the gate sees the noise (seeded)
    ids = {s["id"] for s in r["statements"]}
    assert "stemi" not in ids
    poor = [s for s in r["statements"] if s["id"] == "possible_on_poor_tracing"]
    assert [p["replaces"] for p in poor] == ["stemi"]
    assert poor[0]["urgency"] == "repeat_now" and r["urgency"]["level"] == "repeat_now"


def test_premature_ventricular_complexes_from_the_tracing(ludb, shared_data):
    """LUDB's records with ventricular extrasystoles (ludb.csv) read "PVC" from the tracing, with the times
    of the beats of another shape as evidence, AI off; a normal sinus record does not. Without the AI a beat
    of another shape must also come early and be followed by a pause (rules 2026.12.5): LUDB 105's two
    interpolated PVCs (each halves one RR, as an extra detection in noise does) are then not called, a
    known cost of the rule; with the AI they are (test below)."""
    from ecgpilot.datasets.ludb import ludb_diagnoses

    dx = ludb_diagnoses()
    with_pvc = [n for n in range(1, 201) if "ventricular" in dx[n]["Extrasystolies"].lower()
                and not dx[n]["Cardiac pacing"]]
    assert len(with_pvc) >= 5
    for n in with_pvc:
        doc, r = reading(ludb(n))
        e = doc["measurements"]["ectopy"]
        ids = {s["id"]: s for s in r["statements"] if s["status"] == "finding"}
        if n == 105:
            assert e["n_v"] == 2 and e["n_v_timed"] == 0 and "pvc" not in ids, e
            continue
        assert "pvc" in ids, (n, e)
        assert ids["pvc"]["source"] == "measurement" and ids["pvc"]["evidence"][0]["name"] == "ectopy.n_v"
    doc, r = reading(ludb(NORMAL))
    assert doc["measurements"]["ectopy"]["n_v"] == 0 and "pvc" not in found(r)


def test_a_beat_of_another_shape_the_ai_rules_out_is_no_pvc(ludb):
    """With the AI: LUDB 64 (no extrasystole in ludb.csv) has one beat of another shape in the tracing, which
    the AI gives a PVC probability under ``pvc_ai_support``: no PVC; the records with PVCs keep it."""
    pytest.importorskip("onnxruntime", reason="the classifier is needed")
    doc, r = reading(ludb(64), use_ai=True)
    assert doc["measurements"]["ectopy"]["n_v"] >= 1 and "pvc" not in found(r)
    for n in (106, 105):   # 105: interpolated PVCs, read with the AI
        _, r = reading(ludb(n), use_ai=True)
        pvc = next(s for s in r["statements"] if s["id"] == "pvc")
        assert pvc["status"] == "finding" and pvc["source"] in ("ai+measurement", "measurement"), (n, pvc)


def test_atrial_fibrillation_needs_beat_to_beat_irregularity(shared_data):
    """Rules 2026.12.4: handheld single-lead recordings of the CinC 2017 challenge. A00165 (sinus arrhythmia)
    and A00125 (regular, with a few noise beats) are labelled normal: their RR coefficient of variation is
    high but the successive differences are small, and they were read as "irregular rhythm without P"
    before. A00009 and A00015 are labelled AF and stay so."""
    from ecgpilot.io import read_ecg

    def finding_ids(name: str) -> tuple[dict[str, Any], set[str]]:
        doc, r = reading(read_ecg(data_file("cinc2017-subset", f"{name}.hea")))
        return doc["measurements"]["rhythm"], {s["id"] for s in r["statements"] if s["status"] == "finding"}

    af = {"atrial_fibrillation", "irregular_rhythm_no_p"}
    for name in ("A00165", "A00125"):
        rhythm, ids = finding_ids(name)
        assert rhythm["rr_cv"] >= 0.10 and rhythm["rr_irregularity"] < 0.05, (name, rhythm)
        assert not af & ids, (name, ids)
    for name in ("A00009", "A00015"):
        rhythm, ids = finding_ids(name)
        assert rhythm["rr_irregularity"] >= 0.08 and af & ids, (name, ids)


def test_very_long_qtc_on_one_lead_is_not_an_emergency(shared_data):
    """Rules 2026.12.4: CinC 2017 A00154 (handheld single lead, labelled normal) measures a QTc ≥ 500 ms whose
    T end agrees beat to beat (``qt_reliable``) but cannot be checked across leads: "QT not reliably
    measurable", not an emergency. The same tracing copied into a second lead (so that the leads agree)
    keeps the emergency, so this can fail."""
    from ecgpilot.io import read_ecg

    rec = read_ecg(data_file("cinc2017-subset", "A00154.hea"))
    doc, r = reading(rec)
    m = doc["measurements"]
    assert m["qtc_ms"] >= 500 and m["qt_reliable"], m
    ids = {s["id"] for s in r["statements"] if s["status"] == "finding"}
    assert "qt_unreliable" in ids and "very_long_qtc" not in ids and r["urgency"]["level"] != "emergency"
    doc2, r2 = reading(two_leads(rec))
    assert doc2["measurements"]["qt_reliable"] and doc2["measurements"]["qtc_ms"] >= 500
    assert "very_long_qtc" in {s["id"] for s in r2["statements"] if s["status"] == "finding"}


def test_noise_beats_on_a_handheld_recording_are_no_pvc(shared_data):
    """Rules 2026.12.5: CinC 2017 A00125 (single lead, labelled normal) has a noise burst whose extra
    detections have another QRS shape (``n_v`` > 0) but split one RR instead of coming early before a pause:
    no PVC without the AI, which refuses a single lead."""
    from ecgpilot.io import read_ecg

    doc, r = reading(read_ecg(data_file("cinc2017-subset", "A00125.hea")), use_ai=True)
    e = doc["measurements"]["ectopy"]
    assert e["n_v"] >= 1 and e["n_v_timed"] == 0, e
    assert "pvc" not in found(r)


def test_one_lead_reads_rhythm_and_rate_only(shared_data):
    """Rules 2026.12.6: CinC 2017 A00002 (handheld single lead, labelled normal) measures a PR of 203 ms from a
    P onset that one lead places 150 ms before the QRS; intervals are measured across simultaneous leads (AHA
    2007 part II), so a one-lead recording gets no first-degree block, IVCD or pre-excitation, no "normal ECG",
    and a statement that says what one lead can read. The same tracing in two leads still gets the block."""
    from ecgpilot.io import read_ecg

    rec = read_ecg(data_file("cinc2017-subset", "A00002.hea"))
    doc, r = reading(rec)
    assert doc["measurements"]["pr_ms"] > 200
    ids = found(r)
    assert "one_lead" in ids and "sinus_rhythm" in ids
    assert not {"first_degree_avb", "ivcd", "possible_preexcitation", "normal_ecg", "long_qtc"} & ids, ids
    _, r2 = reading(two_leads(rec))
    assert "first_degree_avb" in found(r2) and "one_lead" not in found(r2)
    # nothing abnormal in what one lead reads: "no abnormality detected", not "minor findings"
    clean = read_ecg(data_file("cinc2017-subset", "A00001.hea"))
    _, r3 = reading(clean)
    assert found(r3) == {"sinus_rhythm", "one_lead"}, found(r3)
    assert r3["urgency"]["level"] == "normal"
