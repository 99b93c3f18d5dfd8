"""Each criterion of the reading on a per-lead matrix built by hand from the guideline's own
numbers (thresholds in µV: 100 µV = 1 mm); the same criteria on real tracings are in
tests/test_rules_tracings.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ecgpilot.interpret import RULES, THRESHOLDS, interpret

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

#: A normal adult matrix: small Q and dominant R laterally, rS in V1-V2, upright T, ST at baseline.
NORMAL: dict[str, dict[str, float]] = {
    "I": dict(r_uv=700, s_uv=-100, q_uv=-50, q_ms=16, t_pos_uv=250),
    "II": dict(r_uv=1000, s_uv=-100, q_uv=-50, q_ms=16, t_pos_uv=300),
    "III": dict(r_uv=400, s_uv=-200, t_pos_uv=100),
    "aVR": dict(r_uv=100, s_uv=-800, t_pos_uv=0, t_neg_uv=-250),
    "aVL": dict(r_uv=300, s_uv=-200, t_pos_uv=100),
    "aVF": dict(r_uv=700, s_uv=-150, t_pos_uv=200),
    "V1": dict(r_uv=200, s_uv=-900, t_pos_uv=100),
    "V2": dict(r_uv=400, s_uv=-1400, t_pos_uv=500),
    "V3": dict(r_uv=800, s_uv=-900, t_pos_uv=500),
    "V4": dict(r_uv=1400, s_uv=-500, t_pos_uv=450),
    "V5": dict(r_uv=1300, s_uv=-200, q_uv=-60, q_ms=16, t_pos_uv=350),
    "V6": dict(r_uv=1000, s_uv=-100, q_uv=-50, q_ms=16, t_pos_uv=300),
}


def matrix(changes: dict[str, dict[str, float]] | None = None, **all_leads: float) -> dict[str, Any]:
    leads = {}
    for name in LEADS:
        e = {"p_pos_uv": 80.0, "p_neg_uv": 0.0, "q_uv": 0.0, "q_ms": 0.0, "r_uv": 0.0, "r_ms": 40.0, "s_uv": 0.0,
             "s_ms": 30.0, "rp_uv": 0.0, "rp_ms": 0.0, "qrs_pp_uv": None, "r_peak_time_ms": 35.0, "r_notched": False,
             "st_j_uv": 0.0, "st_60_uv": 0.0, "st_80_uv": 10.0, "t_pos_uv": 0.0, "t_neg_uv": 0.0, "pr_seg_uv": 0.0}
        e.update(NORMAL[name])
        e.update(all_leads)
        ch = dict((changes or {}).get(name, {}))
        if "st_j_uv" in ch:   # an ST deviation given at J holds through the ST segment unless stated
            ch.setdefault("st_60_uv", ch["st_j_uv"])
            ch.setdefault("st_80_uv", ch["st_j_uv"])
        e.update(ch)
        e["qrs_pp_uv"] = e["r_uv"] - min(e["s_uv"], e["q_uv"])
        leads[name] = e
    return {"baseline": "pr_segment", "points_ms": {"qrs_on": -40.0, "j": 50.0, "j60": 110.0, "j80": 130.0},
            "leads": leads}


def doc(changes: dict[str, dict[str, float]] | None = None, *, sex: str | None = "M", age: float | None = 60.0,
        ai: list[tuple[str, float]] | None = None, rhythm: dict[str, Any] | None = None, **m: Any) -> dict[str, Any]:
    meas = {"heart_rate_bpm": 70.0, "rr_ms": 857.0, "rr_sd_ms": 20.0, "n_beats": 12, "p_duration_ms": 100.0,
            "pr_ms": 160.0, "qrs_ms": 90.0, "qt_ms": 380.0, "qtc_ms": 400.0, "qtc_formula": "fridericia",
            "qrs_axis_deg": 45.0, "pacing_spikes": False, "qt_reliable": True,
            "lead_matrix": matrix(changes), "rhythm": rhythm or {}}
    meas.update(m)
    stmts = [{"code": c, "description": c.lower(), "probability": p, "calibrated_probability": p,
              "present": p >= 0.5, "threshold": 0.5} for c, p in (ai or [("SR", 0.95), ("NORM", 0.9)])]
    return {"record": {"patient": {"sex": sex, "age_years": age}},
            "quality": {"verdict": "good", "interpretable": True, "reasons": [], "critical_leads": []},
            "measurements": meas, "ai": {"statements": stmts}}


def read(d: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    return interpret(d, lang=lang)


def found(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in r["statements"] if s["status"] == "finding"}


def test_normal_matrix_is_a_normal_ecg():
    r = read(doc())
    assert r["urgency"]["level"] == "normal" and "normal_ecg" in found(r)


# --- acute coronary ----------------------------------------------------------------------------
def test_inferior_stemi_with_reciprocal_depression():
    r = read(doc({"II": {"st_j_uv": 150}, "III": {"st_j_uv": 200}, "aVF": {"st_j_uv": 180},
                  "aVL": {"st_j_uv": -120}, "I": {"st_j_uv": -60}}))
    s = found(r)["stemi"]
    assert s["leads"] == ["II", "III", "aVF"] and s["urgency"] == "emergency"
    names = {e["name"] for e in s["evidence"]}
    assert {"lead_matrix.II.st_j_uv", "lead_matrix.aVL.st_j_uv"} <= names
    assert "reciprocal I, aVL" in s["text"]
    assert r["urgency"]["level"] == "emergency" and r["urgency"]["reasons"][0]["statement_id"] == "stemi"


def test_one_lead_or_non_contiguous_leads_are_not_a_stemi():
    assert "stemi" not in found(read(doc({"II": {"st_j_uv": 150}})))
    assert "stemi" not in found(read(doc({"II": {"st_j_uv": 150}, "V1": {"st_j_uv": 150}})))


@pytest.mark.parametrize("sex, age, v2v3, stemi", [
    ("M", 45, 190, False), ("M", 45, 200, True),     # men ≥ 40 y: 2 mm
    ("M", 35, 240, False), ("M", 35, 250, True),     # men < 40 y: 2.5 mm
    ("F", 60, 140, False), ("F", 60, 150, True),     # women: 1.5 mm
    (None, None, 190, False), (None, None, 200, True),   # sex unknown: the men's ≥ 40 y limit (chosen on PTB-XL fold 9)
])
def test_v2_v3_limits_by_sex_and_age(sex, age, v2v3, stemi):
    r = read(doc({"V2": {"st_j_uv": v2v3}, "V3": {"st_j_uv": v2v3}}, sex=sex, age=age))
    assert ("stemi" in found(r)) is stemi


def test_pericarditis_is_named_and_not_an_emergency():
    diffuse = {x: {"st_j_uv": 150, "pr_seg_uv": -80} for x in ("I", "II", "aVF", "V2", "V3", "V4", "V5", "V6")}
    diffuse["aVR"] = {"st_j_uv": -100, "pr_seg_uv": 60}
    r = read(doc(diffuse))
    assert "stemi" not in found(r) and "pericarditis_pattern" in found(r)
    assert r["urgency"]["level"] == "soon"
    assert "PR depression" in found(r)["pericarditis_pattern"]["text"]


def test_lvh_discordant_st_elevation_is_a_mimic():
    lvh = {"V1": {"s_uv": -2500, "st_j_uv": 300}, "V2": {"s_uv": -3000, "st_j_uv": 350}, "V5": {"r_uv": 2600}}
    r = read(doc(lvh))
    assert "stemi" not in found(r) and "st_elevation_mimic" in found(r) and "lvh" in found(r)
    # the same elevation reaching 25 % of the S wave is an infarction (Armstrong 2012)
    big = {"V1": {"s_uv": -1000, "st_j_uv": 300}, "V2": {"s_uv": -1100, "st_j_uv": 350}, "V5": {"r_uv": 2600}}
    assert "stemi" in found(read(doc(big)))


def lbbb(**extra: dict[str, float]) -> dict[str, dict[str, float]]:
    base = {"V1": {"r_uv": 100, "s_uv": -1500, "st_j_uv": 200, "st_60_uv": 220},
            "V2": {"r_uv": 100, "s_uv": -2000, "st_j_uv": 250, "st_60_uv": 260},
            "I": {"q_uv": 0, "q_ms": 0, "r_notched": True, "st_j_uv": -100, "st_60_uv": -100},
            "V5": {"q_uv": 0, "q_ms": 0, "r_peak_time_ms": 80, "st_j_uv": -100, "st_60_uv": -100},
            "V6": {"q_uv": 0, "q_ms": 0, "r_peak_time_ms": 80, "r_notched": True, "st_j_uv": -100, "st_60_uv": -100}}
    for k, v in extra.items():
        base.setdefault(k, {}).update(v)
    return base


def test_lbbb_by_criteria_and_sgarbossa():
    r = read(doc(lbbb(), qrs_ms=150.0, ai=[("SR", 0.9)]))
    assert "lbbb" in found(r) and found(r)["lbbb"]["source"] == "measurement"
    assert "stemi" not in found(r) and "sgarbossa" not in found(r)     # discordant, < 25 % of S
    assert r["urgency"]["level"] == "soon"
    conc = read(doc(lbbb(V5={"st_j_uv": 150, "st_60_uv": 160}, V6={"st_j_uv": 140, "st_60_uv": 150}),
                    qrs_ms=150.0, ai=[("SR", 0.9)]))
    assert found(conc)["sgarbossa"]["leads"] == ["V5", "V6"] and conc["urgency"]["level"] == "emergency"
    disc = read(doc(lbbb(V2={"s_uv": -1000, "st_j_uv": 300, "st_60_uv": 300}), qrs_ms=150.0, ai=[("SR", 0.9)]))
    assert "sgarbossa" in found(disc) and "ST/S V2 0.30" in " ".join(e["text"] for e in found(disc)["sgarbossa"]["evidence"])


def test_posterior_equivalent():
    post = {"V1": {"r_uv": 700, "s_uv": -300, "st_j_uv": -150, "st_80_uv": -150, "t_pos_uv": 300},
            "V2": {"r_uv": 1200, "s_uv": -400, "st_j_uv": -200, "st_80_uv": -190, "t_pos_uv": 400},
            "V3": {"st_j_uv": -100, "st_80_uv": -100}}
    r = read(doc(post))
    assert found(r)["posterior_stemi"]["leads"] == ["V1", "V2", "V3"] and r["urgency"]["level"] == "emergency"


def test_avr_elevation_with_diffuse_depression():
    ch = {x: {"st_j_uv": -120, "st_60_uv": -120} for x in ("I", "II", "aVF", "V3", "V4", "V5", "V6")}
    ch["aVR"] = {"st_j_uv": 150}
    r = read(doc(ch))
    assert "avr_stemi_equivalent" in found(r) and r["urgency"]["level"] == "emergency"
    ch5 = {x: {"st_j_uv": -120} for x in ("I", "II", "V4", "V5", "V6")} | {"aVR": {"st_j_uv": 150}}
    assert "avr_stemi_equivalent" not in found(read(doc(ch5)))    # 5 leads < 6


def test_de_winter():
    ch = {x: {"st_j_uv": -150, "st_60_uv": -50, "st_80_uv": 50, "t_pos_uv": 900} for x in ("V2", "V3", "V4")}
    r = read(doc(ch))
    assert found(r)["de_winter"]["leads"] == ["V2", "V3", "V4"] and r["urgency"]["level"] == "emergency"


def test_wellens_is_soon():
    ch = {"V2": {"t_pos_uv": 0, "t_neg_uv": -400}, "V3": {"t_pos_uv": 0, "t_neg_uv": -350}}
    r = read(doc(ch))
    assert "wellens" in found(r) and r["urgency"]["level"] == "soon"


# --- Q waves and the AI's infarction ------------------------------------------------------------
def test_ai_infarction_without_q_waves_is_ai_only_and_raises_nothing():
    r = read(doc(ai=[("SR", 0.95), ("IMI", 0.9)]))
    inf = next(s for s in r["statements"] if s["id"] == "infarction")
    assert inf["status"] == "ai_only" and inf["urgency"] == "routine" and "AI only" in inf["text"]
    assert r["urgency"]["level"] == "normal"      # the AI alone raises nothing


def test_inferior_q_waves_confirm_the_ai_infarction():
    q = {x: {"q_uv": -300, "q_ms": 40} for x in ("II", "III", "aVF")}
    r = read(doc(q, ai=[("SR", 0.95), ("IMI", 0.9)]))
    inf = found(r)["infarction"]
    assert inf["source"] == "ai+measurement" and inf["leads"] == ["II", "aVF"] and r["urgency"]["level"] == "soon"
    alone = read(doc(q))
    assert "pathological_q" in found(alone) and alone["urgency"]["level"] == "soon"
    # Q in III alone (normal variant) is not a criterion
    assert "pathological_q" not in found(read(doc({"III": {"q_uv": -300, "q_ms": 40}})))


def test_stemi_over_q_waves_says_so():
    ch = {"V2": {"r_uv": 0, "q_uv": -1500, "q_ms": 80, "s_uv": 0, "st_j_uv": 150},
          "V3": {"r_uv": 0, "q_uv": -1200, "q_ms": 80, "s_uv": 0, "st_j_uv": 210},   # ≥ 2 mm (man of 60)
          "V4": {"q_uv": -500, "q_ms": 40, "st_j_uv": 110}}
    r = read(doc(ch))
    s = found(r)["stemi"]
    assert s["urgency"] == "emergency" and {"V3", "V4"} <= set(s["leads"])
    assert "Q waves in the same territory" in s["text"] and any(e["name"].endswith("V3.q_ms") for e in s["evidence"])


# --- voltage and conduction ------------------------------------------------------------------------
def test_lvh_sokolow_and_cornell_by_sex():
    sok = read(doc({"V1": {"s_uv": -1800}, "V5": {"r_uv": 1800}}))        # 3.6 mV > 3.5
    assert "Sokolow-Lyon" in found(sok)["lvh"]["text"]
    corn = {"aVL": {"r_uv": 1000}, "V3": {"s_uv": -1200}}                   # 2.2 mV
    assert "lvh" in found(read(doc(corn, sex="F")))                         # > 2.0 women
    assert "lvh" not in found(read(doc(corn, sex="M")))                     # ≤ 2.8 men
    ai_only = read(doc(ai=[("SR", 0.9), ("LVH", 0.8)]))
    assert next(s for s in ai_only["statements"] if s["id"] == "lvh")["status"] == "ai_only"


def test_complete_vs_incomplete_rbbb_never_together():
    rb = {"V1": {"r_uv": 300, "s_uv": -300, "rp_uv": 800, "rp_ms": 40}, "I": {"s_uv": -300, "s_ms": 50},
          "V6": {"s_uv": -300, "s_ms": 50}}
    r = read(doc(rb, qrs_ms=140.0, ai=[("SR", 0.9), ("CRBBB", 0.9), ("IRBBB", 0.7)]))
    ids = set(found(r))
    assert "rbbb" in ids and "incomplete_rbbb" not in ids
    inc = read(doc(rb, qrs_ms=112.0, ai=[("SR", 0.9), ("CRBBB", 0.9), ("IRBBB", 0.7)]))
    assert "incomplete_rbbb" in found(inc) and "rbbb" not in found(inc)


def test_ai_lbbb_contradicted_by_a_narrow_qrs_is_ai_only():
    r = read(doc(qrs_ms=98.0, ai=[("SR", 0.9), ("CLBBB", 0.8)]))
    lb = next(s for s in r["statements"] if s["id"] == "lbbb")
    assert lb["status"] == "ai_only" and "QRS 98 ms" in lb["text"] and r["urgency"]["level"] == "normal"


def test_low_voltage_and_brugada():
    low = read(doc({x: {"r_uv": 300, "s_uv": -100, "q_uv": 0} for x in ("I", "II", "III", "aVR", "aVL", "aVF")}))
    assert "low_voltage" in found(low)
    br = read(doc({"V1": {"st_j_uv": 300, "st_60_uv": 200, "st_80_uv": 100, "t_pos_uv": 0, "t_neg_uv": -200}}))
    assert "brugada_type1" in found(br) and found(br)["brugada_type1"]["leads"] == ["V1"]


# --- rhythm from the tracing ------------------------------------------------------------------------
def test_flutter_waves_make_the_ai_af_a_flutter():
    r = read(doc(rhythm={"flutter_waves": True, "rhythm_guess": "atrial_flutter", "atrial_cycle_ms": 200.0},
                 rr_sd_ms=30.0, p_duration_ms=None, pr_ms=None, ai=[("AFIB", 0.8)]))
    assert "atrial_flutter" in found(r)
    assert "atrial_fibrillation" not in {s["id"] for s in r["statements"]}    # never together
    fl = found(r)["atrial_flutter"]
    assert any(e.get("code") == "AFIB" for e in fl["evidence"])             # the AI's view kept as evidence


def test_svt_with_a_p_wave_before_each_qrs_is_sinus_tachycardia():
    r = read(doc(rhythm={"p_before_qrs_share": 1.0, "rhythm_guess": "sinus", "av_relation": "1:1"},
                 heart_rate_bpm=125.0, rr_ms=480.0, ai=[("SR", 0.6), ("SVTAC", 0.7)]))
    assert "sinus_tachycardia" in found(r) and "svt" not in found(r)
    assert r["urgency"]["level"] == "routine"


def test_complete_av_block_from_the_p_qrs_relation():
    r = read(doc(rhythm={"rhythm_guess": "complete_av_block", "av_relation": "dissociated", "atrial_rate_bpm": 80.0,
                         "p_before_qrs_share": 0.3}, heart_rate_bpm=38.0, rr_ms=1580.0, ai=[("SR", 0.3)]))
    assert "complete_avb" in found(r) and "sinus_rhythm" not in found(r) and r["urgency"]["level"] == "emergency"


def test_bradycardia_limits_60_and_50():
    assert "sinus_bradycardia" in found(read(doc(heart_rate_bpm=55.0, rr_ms=1090.0)))
    assert "sinus_bradycardia_marked" in found(read(doc(heart_rate_bpm=45.0, rr_ms=1333.0)))
    assert not {"sinus_bradycardia", "sinus_bradycardia_marked"} & set(found(read(doc(heart_rate_bpm=62.0))))


# --- QT, children, also considered -------------------------------------------------------------------
def test_very_long_qtc_needs_a_reliable_t_end():
    sure = read(doc(qtc_ms=520.0))
    assert "very_long_qtc" in found(sure) and sure["urgency"]["level"] == "emergency"
    unsure = read(doc(qtc_ms=520.0, qt_reliable=False))
    assert "qt_unreliable" in found(unsure) and "very_long_qtc" not in found(unsure)
    assert unsure["urgency"]["level"] == "routine"


def test_children_raise_no_urgency_from_adult_limits():
    r = read(doc({"V1": {"s_uv": -2500}, "V5": {"r_uv": 2500}}, age=8.0, heart_rate_bpm=135.0, rr_ms=444.0))
    assert "paediatric" in found(r)
    assert r["urgency"]["level"] == "routine" and r["patient"]["adult_criteria"] is False
    assert all(s["urgency"] in ("normal", "routine") for s in r["statements"])


def test_statements_below_their_operating_point_are_also_considered():
    r = read(doc(ai=[("SR", 0.95), ("NORM", 0.9), ("PAC", 0.35)]))
    assert "pac" not in {s["id"] for s in r["statements"]}
    assert [a["code"] for a in r["also_considered"]] == ["PAC"] and r["also_considered"][0]["probability"] == 0.35


def test_french_text_by_default():
    r = interpret(doc({"II": {"st_j_uv": 150}, "aVF": {"st_j_uv": 150}}))
    assert found(r)["stemi"]["text"].startswith("Sus-décalage du segment ST")
    assert r["urgency"]["text"].startswith("URGENCE")


# --- the registry --------------------------------------------------------------------------------------
def test_every_rule_is_named_cited_and_documented():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.search(r"(19|20)\d\d", rule.citation) or "classifier" in rule.citation, rule.id
        assert f"`{rule.id}`" in docs, f"{rule.id} missing from docs/rules.md"
    assert set(THRESHOLDS) <= set(re.findall(r"`([a-z0-9_]+)`", docs)), "a threshold is missing from docs/rules.md"


def test_paced_rhythm_from_the_ai_when_spikes_cannot_be_seen():
    """At 100 Hz the pacing spikes are invisible (rhythm.pacing_spikes None): the AI's PACE with a wide QRS
    makes the rhythm paced, so intrinsic-conduction criteria and the plain STEMI criteria do not apply."""
    ch = {"II": {"st_j_uv": 150}, "III": {"st_j_uv": 150}, "aVF": {"st_j_uv": 150}}
    r = read(doc(ch, qrs_ms=170.0, rhythm={"pacing_spikes": None}, ai=[("PACE", 0.9)]))
    assert "paced_rhythm" in found(r) and "stemi" not in found(r) and "ivcd" not in found(r)
    seen = read(doc(ch, qrs_ms=170.0, rhythm={"pacing_spikes": False}, ai=[("PACE", 0.9)]))
    assert "paced_rhythm" not in found(seen)      # spikes were looked for and not found


def test_st_emergency_on_a_lead_with_baseline_wander_is_repeat_now():
    d = doc({"II": {"st_j_uv": 150}, "III": {"st_j_uv": 200}, "aVF": {"st_j_uv": 180}})
    d["quality"] = {"verdict": "usable", "interpretable": True, "critical_leads": [], "reasons": [
        {"code": "baseline_wander", "lead": "III", "severity": "warning", "message_fr": "Ligne de base instable en DIII",
         "message_en": "Baseline wander in III"}]}
    r = read(d)
    poor = next(s for s in r["statements"] if s["id"] == "possible_on_poor_tracing")
    assert poor["replaces"] == "stemi" and poor["urgency"] == "repeat_now" and r["urgency"]["level"] == "repeat_now"
    assert any(e["name"] == "st_artefact_leads" and e["value"] == ["III"] for e in poor["evidence"])
    # the same warning on a lead the finding does not rest on changes nothing
    d["quality"]["reasons"][0]["lead"] = "V5"
    assert read(d)["urgency"]["level"] == "emergency"


def test_a_qt_running_into_the_next_p_wave_is_not_an_emergency():
    """RR 723 ms (83/min), PR 160 ms: a T end 576 ms after QRS onset reaches the next P wave."""
    r = read(doc(heart_rate_bpm=83.0, rr_ms=723.0, qt_ms=576.0, qtc_ms=642.0))
    assert "qt_unreliable" in found(r) and "very_long_qtc" not in found(r) and r["urgency"]["level"] != "emergency"
    assert "reaches the next P wave" in found(r)["qt_unreliable"]["text"]
    ok = read(doc(heart_rate_bpm=55.0, rr_ms=1090.0, qt_ms=620.0, qtc_ms=602.0))
    assert "very_long_qtc" in found(ok)


def test_a_j_point_elevation_not_sustained_at_j60_is_not_a_stemi():
    """ST at J above the limit that is gone 60 ms later: a QRS-end (J-point) artefact, not an injury current."""
    ch = {x: {"st_j_uv": 180, "st_60_uv": 40, "st_80_uv": 30} for x in ("II", "III", "aVF")}
    assert "stemi" not in found(read(doc(ch)))
    ch = {x: {"st_j_uv": 180, "st_60_uv": 190, "st_80_uv": 200} for x in ("II", "III", "aVF")}
    assert "stemi" in found(read(doc(ch)))


def test_ai_infarction_with_st_t_changes_in_its_territory_is_proposed():
    """No Q wave, but T inversion in II, III, aVF where the AI sees an inferior infarction: proposed (soon);
    the same AI statement over a normal matrix stays AI only."""
    ch = {x: {"t_pos_uv": 0, "t_neg_uv": -200} for x in ("II", "aVF")}
    r = read(doc(ch, ai=[("SR", 0.95), ("IMI", 0.9)]))
    inf = found(r)["infarction"]
    assert inf["source"] == "ai+measurement" and set(inf["leads"]) == {"II", "aVF"} and r["urgency"]["level"] == "soon"
    assert "no pathological Q wave" in inf["text"]
