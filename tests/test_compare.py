"""The cart's reading beside ecgpilot's and the serial comparison (ecgpilot.compare), on a real GE
MUSE file (12SL measurements and statements) and on changes added to its own lead matrix."""

from __future__ import annotations

import copy
import functools

import pytest
from conftest import data_file

from ecgpilot import compare, ins
from ecgpilot.errors import RecordError
from ecgpilot.web.services.practice import check_rpps, rpps_key

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


@functools.cache
def _muse() -> tuple[dict, dict]:
    from ecgpilot.analysis import analyze_record
    from ecgpilot.interpret import interpret
    from ecgpilot.io import read_ecg

    analysis = analyze_record(read_ecg(data_file(*MUSE)), use_ai=False)
    return analysis, interpret(analysis)


def test_device_reading_beside_ours_on_a_real_muse_file() -> None:
    analysis, _ = _muse()
    cart = compare.device_comparison(analysis)
    assert cart["manufacturer"] == "GE Healthcare" and cart["device"] == "MAC55"
    assert cart["statements"][:3] == ["Sinus bradycardia", "with sinus arrhythmia", "with 1st degree A-V block"]
    rows = {r["key"]: r for r in cart["rows"]}
    # 12SL: PR 330, QRS 94, QT 434 ms; ecgpilot measures the same tracing
    assert rows["pr_ms"]["device"] == 330 and rows["qrs_ms"]["device"] == 94 and rows["qt_ms"]["device"] == 434
    assert abs(rows["pr_ms"]["delta"]) <= 10 and not rows["pr_ms"]["beyond"]          # IEC: PR 10 ms
    assert abs(rows["qt_ms"]["delta"]) <= 30 and not rows["qt_ms"]["beyond"]          # IEC: QT 30 ms
    qrs = rows["qrs_ms"]
    assert qrs["beyond"] == (abs(qrs["delta"]) > 10) and qrs["tolerance"] == 10
    assert cart["n_beyond"] == sum(r["beyond"] for r in cart["rows"])
    assert compare.device_comparison({"record": {"source": {}}, "measurements": {}}) is None
    lines = compare.device_lines(analysis)
    assert lines[0].startswith("Lecture de l'appareil (GE Healthcare MAC55) : Sinus bradycardia; with sinus arrhythmia")
    assert ("QRS" in lines[1]) == qrs["beyond"] if len(lines) > 1 else not qrs["beyond"]
    assert compare.device_lines(None) == []


def test_axis_difference_wraps_around() -> None:
    doc = {"record": {"source": {"device_measurements": {"qrs_axis_deg": 175.0}}}, "measurements": {"qrs_axis_deg": -175.0}}
    (row,) = compare.device_comparison(doc)["rows"]
    assert row["delta"] == 10 and not row["beyond"]


def test_same_ecg_has_no_notable_change() -> None:
    analysis, reading = _muse()
    changes = compare.serial_changes(analysis, reading, analysis, reading)
    assert [c for c in changes if c["notable"]] == []
    assert compare.raised_urgency("routine", changes) == ("routine", [])


def test_new_st_elevation_in_contiguous_leads_raises_to_emergency() -> None:
    before, reading = _muse()
    after = copy.deepcopy(before)
    leads = after["measurements"]["lead_matrix"]["leads"]
    for lead in ("II", "III", "aVF"):
        leads[lead]["st_j_uv"] += 150.0
    leads["V5"]["st_j_uv"] += 150.0  # a lone lead without a contiguous partner above the limit stays out
    changes = compare.serial_changes(before, reading, after, reading, lang="en")
    (st,) = [c for c in changes if c["kind"] == "st_elevation"]
    assert st["leads"] == ["II", "III", "aVF"] and st["raise_to"] == "emergency"
    level, reasons = compare.raised_urgency("routine", changes)
    assert level == "emergency" and "contiguous" in reasons[0]


def test_new_lbbb_and_new_q_waves_and_deltas() -> None:
    before, reading = _muse()
    after = copy.deepcopy(before)
    after["measurements"]["qrs_ms"] = before["measurements"]["qrs_ms"] + 50
    q = after["measurements"]["lead_matrix"]["leads"]["III"]
    q.update(q_uv=-300.0, q_ms=40.0)
    q2 = after["measurements"]["lead_matrix"]["leads"]["aVF"]
    q2.update(q_uv=-200.0, q_ms=36.0)
    now = copy.deepcopy(reading)
    now["statements"].append({"id": "lbbb", "status": "finding"})
    changes = compare.serial_changes(before, reading, after, now)
    kinds = {c["kind"] for c in changes if c["notable"]}
    assert {"new", "delta", "q_waves"} <= kinds
    (lbbb,) = [c for c in changes if c.get("statement") == "lbbb"]
    assert lbbb["text"] == "Nouveau : Bloc de branche gauche complet"
    assert lbbb["raise_to"] == "emergency" and "ESC 2023" in lbbb["reason"]
    (qw,) = [c for c in changes if c["kind"] == "q_waves"]
    assert qw["leads"] == ["III", "aVF"]
    (qrs,) = [c for c in changes if c.get("key") == "qrs_ms"]
    assert qrs["delta"] == 50 and qrs["notable"]
    # the previous reading as a signed report: only what the doctor kept counts
    report = {"decisions": [{"id": "lbbb", "decision": "rejected"}, {"id": "first_degree_avb", "decision": "confirmed"}]}
    assert compare.reading_ids(report) == {"first_degree_avb"}


def test_ins_typed_as_printed_and_a_bad_key_explained_in_french() -> None:
    assert ins.normalize_ins("1 44 05 75 123 456 45") == "144057512345645"
    assert ins.normalize_ins("1.44.05.75.123.456.45") == "144057512345645"
    assert ins.normalize_ins("1\u00a044 05 75 123 456 45") == "144057512345645"
    with pytest.raises(ins.InsError) as err:
        ins.normalize_ins("1 44 05 75 123 456 46")
    assert err.value.code == "key" and "45 attendu" in err.value.message("fr") and "expected 45" in str(err.value)
    with pytest.raises(ins.InsError) as err:
        ins.normalize_ins("1 44 05 75 123")
    assert "il en faut 15" in err.value.message("fr")
    assert ins.status_label("qualifiee") == "Qualifiée" and ins.status_label("recuperee", "en") == "Retrieved"
    assert ins.status_from_checks("cni", "practice_software") == "qualifiee"
    assert ins.status_from_checks("passeport", None) == "validee"
    assert ins.status_from_checks(None, "teleservice") == "recuperee"
    with pytest.raises(ins.InsiUnavailable):
        ins.OfflineInsi().lookup("144057512345645", {})


def test_rpps_luhn_key() -> None:
    assert rpps_key("1000123456") == 5
    assert check_rpps("1000 123 456 5") == "10001234565"
    with pytest.raises(RecordError, match="clé de contrôle fausse"):
        check_rpps("10001234567")
    with pytest.raises(RecordError, match="11 chiffres"):
        check_rpps("123")
    assert check_rpps("  ") is None


def test_v2_v3_limit_follows_sex_and_age() -> None:
    before, reading = _muse()  # a man of 40: V2-V3 limit 2 mm
    after = copy.deepcopy(before)
    leads = after["measurements"]["lead_matrix"]["leads"]
    for lead in ("V2", "V3"):
        leads[lead]["st_j_uv"] = 180.0
    assert not [c for c in compare.serial_changes(before, reading, after, reading) if c["kind"] == "st_elevation"]
    woman = copy.deepcopy(after)
    woman["record"]["patient"]["sex"] = "F"   # 1.5 mm for women
    (st,) = [c for c in compare.serial_changes(before, reading, woman, reading) if c["kind"] == "st_elevation"]
    assert st["leads"] == ["V2", "V3"]
