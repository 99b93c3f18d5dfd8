"""Interpretation rules and urgency triage on synthetic analysis documents (thresholds from
the rules' clinical definitions: PR > 200 ms, QRS ≥ 120 ms, rate > 130 or < 40, QTc ≥ 500 ms...)."""

from __future__ import annotations

from typing import Any

import pytest

from ecgpilot.errors import ConfigError
from ecgpilot.interpret import LEVELS, RULES_VERSION, interpret


def measurements(**kw: Any) -> dict[str, Any]:
    m = {"heart_rate_bpm": 70.0, "rr_ms": 857.0, "rr_sd_ms": 20.0, "n_beats": 12, "beats_s": [],
         "p_duration_ms": 100.0, "pr_ms": 160.0, "qrs_ms": 90.0, "qt_ms": 380.0,
         "qtc_bazett_ms": 410.0, "qtc_fridericia_ms": 400.0, "qtc_ms": 400.0, "qtc_formula": "fridericia",
         "p_axis_deg": 50.0, "qrs_axis_deg": 45.0, "t_axis_deg": 40.0, "pacing_spikes": False}
    m.update(kw)
    return m


def ai(*codes: str, prob: float = 0.9, below: dict[str, float] | None = None) -> dict[str, Any]:
    sts = [{"code": c, "task": "x", "description": c.lower(), "probability": prob,
            "calibrated_probability": prob, "present": True, "threshold": 0.5} for c in codes]
    for c, p in (below or {}).items():
        sts.append({"code": c, "task": "x", "description": c.lower(), "probability": p,
                    "calibrated_probability": p, "present": False, "threshold": 0.9})
    return {"model_version": "test", "statements": sts}


def doc(m: dict[str, Any] | None = None, a: dict[str, Any] | None = None, *, verdict: str = "good",
        reasons: list[dict[str, Any]] | None = None, sex: str | None = None) -> dict[str, Any]:
    return {"schema": "ecgpilot.analysis/1", "record": {"patient": {"sex": sex}},
            "quality": {"verdict": verdict, "interpretable": verdict != "not_interpretable",
                        "reasons": reasons or []},
            "measurements": m, "ai": a}


def ids(reading: dict[str, Any]) -> set[str]:
    return {s["id"] for s in reading["statements"]}


def get(reading: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in reading["statements"] if s["id"] == sid)


def test_normal_ecg_is_normal_in_french():
    r = interpret(doc(measurements(), ai("NORM", "SR")))
    assert r["rules_version"] == RULES_VERSION and r["lang"] == "fr"
    assert r["urgency"]["level"] == "normal"
    texts = [s["text"] for s in r["statements"]]
    assert "Rythme sinusal" in texts and "ECG normal" in texts
    assert get(r, "sinus_rhythm")["source"] == "ai+measurement"
    assert r["summary"].startswith("ECG sans anomalie")


def test_structure_of_statements():
    r = interpret(doc(measurements(pr_ms=240.0), ai("SR")))
    for s in r["statements"]:
        assert set(s) == {"id", "category", "text", "confidence", "source", "evidence", "leads", "urgency",
                          "rule", "citation", "status"}
        assert s["status"] in ("finding", "ai_only") and s["citation"]
        assert s["category"] in ("rhythm", "rate", "conduction", "axis", "hypertrophy", "ischaemia", "qt",
                                 "quality", "other")
        assert s["source"] in ("ai", "measurement", "ai+measurement")
        assert s["urgency"] in LEVELS
        assert s["confidence"] is None or 0 <= s["confidence"] <= 1
    avb = get(r, "first_degree_avb")
    assert avb["evidence"][0] == {"kind": "measurement", "name": "pr_ms", "value": 240.0, "text": "PR 240 ms"}
    assert r["urgency"]["level"] == "routine"


@pytest.mark.parametrize("hr, level, sid", [(160.0, "emergency", "very_fast_rate"), (131.0, "emergency", "very_fast_rate"),
                                            (130.0, "routine", "sinus_tachycardia"),
                                            (35.0, "emergency", "very_slow_rate"), (55.0, "normal", "sinus_bradycardia"),
                                            (45.0, "routine", "sinus_bradycardia_marked"),
                                            (40.0, "routine", "sinus_bradycardia_marked")])
def test_rate_thresholds(hr, level, sid):
    r = interpret(doc(measurements(heart_rate_bpm=hr, rr_ms=60000 / hr), ai("SR")))
    assert sid in ids(r)
    assert r["urgency"]["level"] == level


def test_af_from_ai_confirmed_by_irregular_rr():
    r = interpret(doc(measurements(rr_sd_ms=200.0, p_duration_ms=None, pr_ms=None), ai("AFIB", prob=0.8)))
    af = get(r, "atrial_fibrillation")
    assert af["text"] == "Fibrillation atriale" and af["source"] == "ai+measurement"
    assert af["confidence"] == pytest.approx(0.8)
    assert {e["kind"] for e in af["evidence"]} == {"ai", "measurement"}
    assert "sinus_rhythm" not in ids(r)
    assert r["urgency"]["level"] == "soon"


def test_irregular_rhythm_without_p_from_measurements_alone():
    r = interpret(doc(measurements(rr_sd_ms=180.0, p_duration_ms=None, pr_ms=None), None))
    assert "irregular_rhythm_no_p" in ids(r) and r["urgency"]["level"] == "soon"
    assert "Lecture IA indisponible" in r["summary"]


def test_lbbb_needs_ai_and_is_confirmed_by_wide_qrs_english():
    r = interpret(doc(measurements(qrs_ms=150.0), ai("SR", "CLBBB")), lang="en")
    lb = get(r, "lbbb")
    assert lb["text"] == "Complete left bundle branch block" and lb["source"] == "ai+measurement"
    assert r["urgency"]["level"] == "soon"
    assert "wide_qrs" not in ids(r)
    fr = interpret(doc(measurements(qrs_ms=150.0), ai("SR", "CLBBB")))
    assert get(fr, "lbbb")["text"] == "Bloc de branche gauche complet"


def test_wide_qrs_without_ai_label_and_wide_fast_rhythm():
    r = interpret(doc(measurements(qrs_ms=130.0), None))   # > 110 ms without a block shape: IVCD (AHA 2009)
    assert "ivcd" in ids(r) and r["urgency"]["level"] == "routine"
    vt = interpret(doc(measurements(qrs_ms=160.0, heart_rate_bpm=140.0, rr_ms=430.0, p_duration_ms=None, pr_ms=None), None))
    assert "wide_complex_tachycardia" in ids(vt) and vt["urgency"]["level"] == "emergency"


@pytest.mark.parametrize("axis, sid", [(45.0, "axis_normal"), (-30.0, "axis_normal"), (-60.0, "left_axis_deviation"),
                                       (120.0, "right_axis_deviation"), (-120.0, "extreme_axis")])
def test_axis(axis, sid):
    assert sid in ids(interpret(doc(measurements(qrs_axis_deg=axis), ai("SR"))))


@pytest.mark.parametrize("qtc, sex, sid, level", [(455.0, "M", "long_qtc", "soon"), (455.0, "F", None, "normal"),
                                                  (465.0, None, None, "normal"), (475.0, None, "long_qtc", "soon"),
                                                  (510.0, "F", "very_long_qtc", "emergency")])
def test_qtc_limits_by_sex(qtc, sex, sid, level):
    r = interpret(doc(measurements(qtc_ms=qtc), ai("NORM", "SR"), sex=sex))
    assert r["urgency"]["level"] == level
    if sid:
        assert sid in ids(r) and "Fridericia" in get(r, sid)["text"]
    else:
        assert not {"long_qtc", "very_long_qtc"} & ids(r)


def test_injury_code_is_emergency_even_under_the_f1_threshold():
    r = interpret(doc(measurements(), ai("SR", below={"INJAS": 0.6})))
    st = get(r, "acute_st_elevation")
    assert st["urgency"] == "emergency" and st["leads"] == ["V1", "V2", "V3", "V4"]
    assert r["urgency"]["level"] == "emergency"
    assert r["urgency"]["reasons"][0]["statement_id"] == "acute_st_elevation"
    low = interpret(doc(measurements(), ai("SR", below={"INJAS": 0.2})))
    assert "acute_st_elevation" not in ids(low)
    # a degenerate model threshold (rare code) does not make a low probability an emergency
    degenerate = interpret(doc(measurements(), ai("SR", "NORM") | {"statements": ai("SR", "NORM")["statements"] + [
        {"code": "STE", "probability": 0.002, "calibrated_probability": 0.002, "present": True, "threshold": 0.001}]}))
    assert "acute_st_elevation" not in ids(degenerate) and degenerate["urgency"]["level"] == "normal"


def test_old_infarction_and_lvh_are_soon():
    r = interpret(doc(measurements(), ai("SR", "IMI", "LVH")))   # no per-lead matrix: nothing checks the AI
    assert {"infarction", "lvh"} <= ids(r)
    assert get(r, "lvh")["text"] == "Hypertrophie ventriculaire gauche" and get(r, "lvh")["urgency"] == "routine"
    assert r["urgency"]["level"] == "soon"


def test_unspecified_av_block_with_slow_rate_is_high_degree():
    r = interpret(doc(measurements(heart_rate_bpm=38.0, rr_ms=1580.0, pr_ms=None), ai("AVB")))
    assert "high_degree_avb" in ids(r) and r["urgency"]["level"] == "emergency"
    r2 = interpret(doc(measurements(pr_ms=240.0), ai("SR", "AVB")))
    assert get(r2, "first_degree_avb")["source"] == "ai+measurement"
    assert r2["urgency"]["level"] == "routine"


def test_rbbb_with_fascicular_block_is_bifascicular():
    r = interpret(doc(measurements(qrs_ms=140.0, qrs_axis_deg=-60.0), ai("SR", "CRBBB", "LAFB/LPFB")))
    assert "bifascicular_block" in ids(r) and r["urgency"]["level"] == "soon"


def test_poor_quality_turns_an_emergency_into_repeat_now_and_keeps_it_visible():
    reasons = [{"code": "muscle_noise", "lead": "V2", "severity": "critical",
                "message_fr": "Bruit musculaire en V2", "message_en": "Muscle noise in V2"}]
    r = interpret(doc(measurements(heart_rate_bpm=170.0, rr_ms=353.0), ai("SR", below={"INJAL": 0.7}),
                      verdict="usable", reasons=reasons) | {"quality": {
        "verdict": "usable", "interpretable": True, "reasons": reasons, "critical_leads": ["V2"]}})
    # the rate rests on the whole tracing, V2 included: possible, repeat now (its own level)
    poor = get(r, "possible_on_poor_tracing")
    assert poor["urgency"] == "repeat_now" and poor["replaces"] == "very_fast_rate"
    assert poor["text"].startswith("Fréquence très rapide possible : tracé de mauvaise qualité")
    assert "very_fast_rate" not in ids(r)
    # the AI injury statement rests on I, aVL, V3-V6 (not V2): still an emergency, with the caveat
    st = get(r, "acute_st_elevation")
    assert st["urgency"] == "emergency" and "qualité du signal limitée" in st["text"]
    assert r["urgency"]["level"] == "emergency"
    q = [s for s in r["statements"] if s["category"] == "quality" and s["id"].startswith("quality_")]
    assert q and q[0]["leads"] == ["V2"] and q[0]["text"] == "Bruit musculaire en V2"
    alone = interpret(doc(measurements(heart_rate_bpm=170.0, rr_ms=353.0), ai("SR"), verdict="usable",
                          reasons=reasons) | {"quality": {"verdict": "usable", "interpretable": True,
                                                          "reasons": reasons, "critical_leads": ["V2"]}})
    assert alone["urgency"]["level"] == "repeat_now"
    assert alone["urgency"]["reasons"][0]["statement_id"] == "possible_on_poor_tracing"
    # not interpretable, yet an AI injury statement from elsewhere: still an emergency
    r2 = interpret(doc(None, ai(below={"INJIN": 0.8}), verdict="not_interpretable", reasons=reasons))
    assert r2["urgency"]["level"] == "emergency" and "repeat_recording" in ids(r2)


def test_not_interpretable_without_critical_finding_is_routine_repeat():
    reasons = [{"code": "flat", "lead": None, "severity": "critical",
                "message_fr": "Tracé plat", "message_en": "Flat tracing"}]
    r = interpret(doc(None, None, verdict="not_interpretable", reasons=reasons), lang="en")
    assert r["urgency"]["level"] == "routine"
    assert get(r, "repeat_recording")["text"] == "Tracing not interpretable: repeat the recording"
    assert r["urgency"]["reasons"] == [{"statement_id": "repeat_recording",
                                        "text": "Tracing not interpretable: repeat the recording"}]


def test_paced_rhythm_from_spikes():
    r = interpret(doc(measurements(pacing_spikes=True, qrs_ms=160.0, p_duration_ms=None), None))
    assert "paced_rhythm" in ids(r) and "wide_qrs" not in ids(r) and "sinus_rhythm" not in ids(r)


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="'de'.*fr, en"):
        interpret(doc(measurements(), None), lang="de")


def test_no_measurement_on_an_interpretable_tracing_says_so():
    r = interpret(doc(measurements(heart_rate_bpm=None, rr_ms=None), None))
    assert r["urgency"]["level"] == "routine"
    assert [x["statement_id"] for x in r["urgency"]["reasons"]] == ["not_measured"]
    assert "aucune anomalie" not in r["summary"] and "Mesures automatiques impossibles" in r["summary"]


