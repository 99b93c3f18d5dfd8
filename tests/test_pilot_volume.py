"""The insurer's activity extract (every bad-row case refused, nothing half-imported) and the GP × month panel."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.pilot import protocol as proto
from ecgpilot.pilot import service
from ecgpilot.pilot.volume import ActivityImportError, build_panel, parse_activity_csv, rpps_is_valid
from ecgpilot.store.pilot import PilotActivity
from tests._pilot import KEY, make_db

RPPS = "10003456786"     # Luhn key by hand: 1000345678 → 6
HEAD = "doctor,month,ecg_acts,ccam_code\n"


def test_rpps_luhn_key() -> None:
    assert rpps_is_valid(RPPS)
    assert not rpps_is_valid("10003456783") and not rpps_is_valid("1000345678") and not rpps_is_valid("1000345678a")


def test_good_file_comma_and_semicolon() -> None:
    rows = parse_activity_csv((HEAD + f"{RPPS},2026-01,14,DEQP003\nPS-abc123,2026-02,0,deqp003\n").encode())
    assert [(r.doctor, r.month, r.ecg_acts, r.ccam_code) for r in rows] == [
        (RPPS, "2026-01", 14, "DEQP003"), ("PS-abc123", "2026-02", 0, "DEQP003")]
    semi = parse_activity_csv("\ufeffdoctor;month;ecg_acts;ccam_code\r\nPS-abc123;2026-02;3;DEQP003\r\n")
    assert semi[0].ecg_acts == 3


@pytest.mark.parametrize("line, column, value, accepted", [
    ("10003456783,2026-01,4,DEQP003", "doctor", "10003456783", "Luhn"),
    ("Dupont,2026-01,4,DEQP003", "doctor", "Dupont", "pseudonym PS-"),
    (f"{RPPS},2026-13,4,DEQP003", "month", "2026-13", "YYYY-MM"),
    (f"{RPPS},01/2026,4,DEQP003", "month", "01/2026", "YYYY-MM"),
    (f"{RPPS},2026-01,-2,DEQP003", "ecg_acts", "-2", "whole number from 0 to 10000"),
    (f"{RPPS},2026-01,4.5,DEQP003", "ecg_acts", "4.5", "whole number"),
    (f"{RPPS},2026-01,99999,DEQP003", "ecg_acts", "99999", "0 to 10000"),
    (f"{RPPS},2026-01,4,DEQP001", "ccam_code", "DEQP001", "DEQP003"),
    (f"{RPPS},2026-01,4", "(row)", f"{RPPS},2026-01,4", "4 cells"),
])
def test_each_bad_cell_is_named(line, column, value, accepted) -> None:  # noqa: ANN001
    data = HEAD + "PS-abc123,2026-01,2,DEQP003\n" + line + "\n"
    with pytest.raises(ActivityImportError) as e:
        parse_activity_csv(data)
    err = e.value.errors
    assert len(err) == 1 and err[0]["row"] == 3 and err[0]["column"] == column and err[0]["value"] == value
    assert accepted in str(err[0]["accepted"])
    assert "row 3" in str(e.value) and column in str(e.value) and "nothing imported" in str(e.value)


def test_duplicate_header_empty_and_all_errors_listed() -> None:
    with pytest.raises(ActivityImportError, match="already on row 2"):
        parse_activity_csv(HEAD + f"{RPPS},2026-01,2,DEQP003\n{RPPS},2026-01,3,DEQP003\n")
    with pytest.raises(ActivityImportError, match=r"row 1 \(header\)"):
        parse_activity_csv("rpps,mois,nb,code\n1,2,3,4\n")
    with pytest.raises(ActivityImportError, match="empty"):
        parse_activity_csv(b"")
    with pytest.raises(ActivityImportError, match="no rows"):
        parse_activity_csv(HEAD)
    with pytest.raises(ActivityImportError, match="not UTF-8"):
        parse_activity_csv(HEAD.encode() + b"PS-\xe9\xe9\xe9abc,2026-01,1,DEQP003\n")
    with pytest.raises(ActivityImportError) as e:
        parse_activity_csv(HEAD + "x,2026-01,1,DEQP003\nPS-abc123,2026-99,z,ECG\n")
    assert [(x["row"], x["column"]) for x in e.value.errors] == [(2, "doctor"), (3, "month"), (3, "ecg_acts"), (3, "ccam_code")]
    with pytest.raises(ActivityImportError, match="2025-01 to"):
        parse_activity_csv(HEAD + "PS-abc123,2024-12,1,DEQP003\n", first_month="2025-01")


def test_import_all_or_nothing_pseudonymised_and_audited(tmp_path) -> None:  # noqa: ANN001
    engine, factory = make_db(tmp_path)
    actor = service.Actor("tester", "evaluator")
    good = (HEAD + f"{RPPS},2026-01,14,DEQP003\nPS-abc123,2026-01,9,DEQP003\n").encode()
    with factory() as db:
        with pytest.raises(ActivityImportError):
            service.import_activity(db, good + b"PS-abc123,2026-02,x,DEQP003\n", KEY, actor)
        db.rollback()
        assert db.scalar(select(func.count()).select_from(PilotActivity)) == 0
        summary = service.import_activity(db, good, KEY, actor)
        db.commit()
        assert summary["rows"] == 2 and summary["acts"] == 23
        keys = set(db.scalars(select(PilotActivity.doctor_key)))
        assert RPPS not in keys and "PS-abc123" in keys and any(k.startswith("R-") for k in keys)
        with pytest.raises(ConfigError, match=r"already imported .*row 2 \(2026-01\), row 3 \(2026-01\)"):
            service.import_activity(db, good, KEY, actor)
        db.rollback()
        assert db.scalar(select(func.count()).select_from(PilotActivity)) == 2
    e = [x for x in audit.entries(engine, action="admin") if x["details"].get("pilot") == "activity_import"]
    assert len(e) == 1 and e[0]["details"]["rows"] == 2 and RPPS not in str(e[0])


def test_panel_hand_counted() -> None:
    p = proto.Protocol(name="v", start_month="2027-01", period_months=1, n_periods=3, baseline_months=2)
    al = {1: 1, 2: 2}
    gp_practice = {"g1": 1, "g2": 2, "g3": 9}   # g3's practice is not allocated
    app = [("g1", datetime(2027, 1, 5)), ("g1", datetime(2027, 1, 20)), ("g1", datetime(2027, 3, 2)),
           ("g2", datetime(2027, 2, 1)), ("g3", datetime(2027, 1, 1)), ("g1", datetime(2030, 1, 1))]
    insurer = [("g1", "2026-11", 7), ("g2", "2026-12", 5), ("g2", "2027-01", 6), ("g1", "2020-01", 99)]
    df = build_panel(p, al, gp_practice, app, insurer).set_index(["gp", "month"])
    assert set(df.index.get_level_values(0)) == {"g1", "g2"}
    # g1: insurer in Nov, nothing in Dec (0), app 2 in Jan, 0 in Feb, 1 in Mar; AI on from period 1 (Feb)
    assert df.loc[("g1", "2026-11"), ["n_ecg", "source", "period", "ai_on"]].tolist() == [7, "insurer", -1, 0]
    assert df.loc[("g1", "2026-12"), "n_ecg"] == 0
    assert df.loc[("g1", "2027-01"), ["n_ecg", "n_app", "source", "ai_on"]].tolist() == [2, 2, "app", 0]
    assert df.loc[("g1", "2027-02"), ["n_ecg", "ai_on"]].tolist() == [0, 1]
    assert df.loc[("g1", "2027-03"), ["n_ecg", "period", "ai_on"]].tolist() == [1, 2, 1]
    # g2: insurer wins over the app where both exist; AI on from period 2 (Mar) — no data in Mar
    assert df.loc[("g2", "2027-01"), ["n_ecg", "source"]].tolist() == [6, "insurer"]
    assert df.loc[("g2", "2027-02"), ["n_ecg", "ai_on"]].tolist() == [1, 0]
    assert len(df) == 5 + 3


def test_practice_funnel_by_hand() -> None:
    import pandas as pd

    from ecgpilot.pilot.volume import practice_funnel

    rows = [{"practice": 1, "period": 0, "n_ecg": 10}] * 4 + [{"practice": 2, "period": 1, "n_ecg": 30}] * 4 \
        + [{"practice": 3, "period": 1, "n_ecg": 20}] * 100 + [{"practice": 3, "period": -1, "n_ecg": 99}]
    f = {x["practice"]: x for x in practice_funnel(pd.DataFrame(rows))}
    lam = (40 + 120 + 2000) / 108                                     # baseline month left out
    assert f[1]["centre"] == pytest.approx(lam) and f[1]["n"] == 4 and f[3]["n"] == 100
    assert f[1]["hi95"] == pytest.approx(lam + 1.96 * (lam / 4) ** 0.5)
    assert [f[k]["outside"] for k in (1, 2, 3)] == [True, True, False]   # 10 and 30 are > 3.09·√(20/4) ≈ 6.9 from 20
