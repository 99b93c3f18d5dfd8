"""30-day follow-up: form validation, storage with audit, worklist reminder, indicators against hand counts."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.pilot import followup as fu
from ecgpilot.pilot import service
from ecgpilot.store.models import User
from tests._pilot import add_practices, add_signed_study, make_db, utc


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return c - h, c + h


def test_proportion_is_wilson() -> None:
    for k, n in ((8, 10), (0, 7), (3, 3), (41, 250)):
        p = fu.proportion(k, n)
        lo, hi = _wilson(k, n)
        assert p.p == k / n and p.ci_low == pytest.approx(max(0, lo), abs=1e-12) and p.ci_high == pytest.approx(min(1, hi), abs=1e-12)
    assert fu.proportion(0, 0).p is None
    with pytest.raises(ConfigError, match="k=3, n=2"):
        fu.proportion(3, 2)


def test_validate_followup() -> None:
    d0, today = date(2027, 1, 10), date(2027, 2, 12)
    clean = fu.validate_followup({"referral_kind": "consultation", "seen_on": "2027-01-20", "diagnosis": "af_flutter",
                                  "new_diagnosis": "oui", "treatment_changed": ""}, ecg_date=d0, today=today)
    assert clean["referred"] is True and clean["seen_on"] == date(2027, 1, 20) and clean["new_diagnosis"] is True
    assert clean["treatment_changed"] is None and clean["emergency"] is None       # optional stays unknown
    assert fu.validate_followup({}, ecg_date=d0, today=today)["referred"] is None
    for form, words in (({"diagnosis": "flu"}, ["'flu'", "af_flutter"]),
                        ({"referral_kind": "phone"}, ["'phone'", "tele_expertise"]),
                        ({"seen_on": "2027-01-01"}, ["2027-01-01", "between the ECG (2027-01-10)"]),
                        ({"seen_on": "20/01/2027"}, ["20/01/2027", "YYYY-MM-DD"]),
                        ({"emergency": "maybe"}, ["'maybe'", "yes/no"]),
                        ({"referred": "no", "referral_kind": "consultation"}, ["referred is 'no'"]),
                        ({"patient_name": "X"}, ["patient_name"])):
        with pytest.raises(ConfigError) as e:
            fu.validate_followup(form, ecg_date=d0, today=today)
        for w in words:
            assert w in str(e.value)


def test_arm_indicators_hand_counted() -> None:
    rows = [
        {"arm": "ai_on", "followed_up": True, "referred": True, "emergency": False, "new_diagnosis": True,
         "days_to_cardiology": 10, "tele_expertise": True, "te_turnaround_h": 5.0, "decision": "accepted", "model_version": "m1"},
        {"arm": "ai_on", "followed_up": True, "referred": False, "emergency": None, "new_diagnosis": False,
         "tele_expertise": False, "decision": "modified", "model_version": "m1"},
        {"arm": "ai_on", "followed_up": False, "tele_expertise": True, "te_turnaround_h": 9.0},
        {"arm": "ai_off", "followed_up": True, "referred": True, "emergency": True, "new_diagnosis": None,
         "days_to_cardiology": 30, "tele_expertise": False},
        {"arm": "ai_off", "followed_up": True, "referred": True, "days_to_cardiology": 20, "tele_expertise": False},
    ]
    ind = fu.arm_indicators(rows)
    on, off = ind["ai_on"], ind["ai_off"]
    assert (on["n_ecg"], on["followup_completion"].k, on["followup_completion"].n) == (3, 2, 3)
    assert (on["referral"].k, on["referral"].n) == (1, 2)
    assert (on["emergency"].k, on["emergency"].n) == (0, 1)          # unknown is not "no"
    assert (on["tele_expertise"].k, on["tele_expertise"].n) == (2, 3) and on["te_turnaround_h_median"] == 7.0
    assert on["decisions"] == {"accepted": 1, "modified": 1} and on["model_versions"] == {"m1": 2}
    assert (off["referral"].k, off["referral"].n) == (2, 2) and off["days_to_cardiology_median"] == 25.0
    assert off["new_diagnosis"].n == 0 and off["new_diagnosis"].p is None


def test_urgency_performance_and_p_chart_hand_counted() -> None:
    pairs = [("emergency", "emergency"), ("emergency", "normal"), ("soon", "emergency"), ("normal", "normal"),
             ("routine", "soon"), ("soon", "soon"), (None, "soon"), ("bogus", "normal")]
    perf = fu.urgency_performance(pairs)
    e = perf["emergency"]                      # AI emergency vs reference emergency
    assert (e["sensitivity"].k, e["sensitivity"].n) == (1, 2) and (e["ppv"].k, e["ppv"].n) == (1, 2)
    s = perf["soon"]                           # "at least soon": ref {E,E,S,S}=4; AI {E,E,S,S}=4; both: 3
    assert (s["sensitivity"].k, s["sensitivity"].n) == (3, 4) and (s["ppv"].k, s["ppv"].n) == (3, 4)
    assert "normal" not in perf
    chart = fu.p_chart({"2027-01": (44, 50), "2027-02": (40, 50), "2027-03": (20, 50), "2027-04": (0, 0)})
    pbar = 104 / 150
    half = 3 * math.sqrt(pbar * (1 - pbar) / 50)
    assert [c["month"] for c in chart] == ["2027-01", "2027-02", "2027-03"]
    assert chart[0]["centre"] == pytest.approx(pbar) and chart[0]["ucl"] == pytest.approx(pbar + half)
    assert [c["out_of_control"] for c in chart] == [False, False, True]   # 0.88 < 0.889; 0.40 < 0.693 − 0.196


def test_followup_stored_audited_and_reminded(tmp_path) -> None:  # noqa: ANN001
    engine, factory = make_db(tmp_path)
    with factory() as db:
        add_practices(db, 2, gps=1)
        gp1, gp2 = db.scalars(select(User).order_by(User.id)).all()
        s_old = add_signed_study(db, gp1, utc(2027, 1, 5))
        s_new = add_signed_study(db, gp1, utc(2027, 2, 1))
        db.commit()
        today = date(2027, 2, 10)
        due = service.due_followups(db, gp1, today)
        assert [d["study_id"] for d in due] == [s_old.id] and due[0]["days"] == 36
        assert service.due_followups(db, gp2, today) == []
        with pytest.raises(RecordError, match="not one of your practice"):
            service.save_followup(db, s_old.id, gp2, {"referred": "yes"}, today)
        f = service.save_followup(db, s_old.id, gp1, {"referred": "yes", "seen_on": "2027-01-20",
                                                     "diagnosis": "other", "diagnosis_text": "extrasystoles"}, today)
        db.commit()
        assert f.referred is True and f.seen_on == date(2027, 1, 20)
        assert service.due_followups(db, gp1, today + timedelta(days=30)) == [
            {"study_id": s_new.id, "signed_at": s_new.created_at, "days": 39}]
        service.save_followup(db, s_old.id, gp1, {"referred": "yes", "treatment_changed": "yes"}, today)
        db.commit()
    entries = [e for e in audit.entries(engine, action="change") if e["details"].get("pilot", "").startswith("followup")]
    assert [e["details"]["pilot"] for e in entries] == ["followup", "followup_corrected"]
    assert entries[0]["target"] == f"study:{s_old.id}" and "extrasystoles" not in str(entries)
    assert entries[1]["details"]["before"]["diagnosis"] == "other" and entries[1]["details"]["after"]["diagnosis"] is None
    assert audit.verify(engine).ok
