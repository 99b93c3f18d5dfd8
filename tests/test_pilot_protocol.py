"""Pilot protocol: validation, hash, seeded stratified randomisation, AI-on resolution, freeze in the database, audit."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.pilot import protocol as proto
from ecgpilot.pilot import service
from ecgpilot.store.pilot import PilotAllocation, PilotProtocol
from tests._pilot import add_practices, make_db

ACTOR = service.Actor("tester", "evaluator")


def _p(**kw) -> proto.Protocol:  # noqa: ANN003
    return proto.Protocol(**({"name": "p1", "start_month": "2027-01", "period_months": 3, "n_periods": 5} | kw))


@pytest.mark.parametrize("kw, words", [
    ({"design": "crossover"}, ["crossover", "stepped_wedge, parallel"]),
    ({"start_month": "2027-13"}, ["2027-13", "YYYY-MM"]),
    ({"n_periods": 2}, ["n_periods 2", "3 to 24"]),
    ({"unit": "doctor"}, ["doctor", "practice"]),
    ({"period_months": 0}, ["period_months 0", "1 to 24"]),
])
def test_protocol_refuses_bad_values_naming_them(kw, words) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as e:
        _p(**kw)
    for w in words:
        assert w in str(e.value)


def test_protocol_round_trip_and_hash() -> None:
    p = _p()
    q = proto.Protocol.from_dict(p.to_dict())
    assert q == p and proto.protocol_sha256(q) == proto.protocol_sha256(p)
    assert proto.protocol_sha256(_p(period_months=2)) != proto.protocol_sha256(p)
    assert p.end_month == "2028-03"   # 5 periods × 3 months from 2027-01
    with pytest.raises(ConfigError, match="unknown|not known"):
        proto.Protocol.from_dict({**p.to_dict(), "colour": "blue"})


def test_periods_and_ai_on() -> None:
    p = _p()
    al = {1: 1, 2: 4}
    assert proto.period_of(p, "2026-12") == -1
    assert proto.period_of(p, "2027-01") == 0 and proto.period_of(p, "2027-04") == 1
    assert proto.period_of(p, date(2028, 3, 31)) == 4 and proto.period_of(p, "2028-04") is None
    assert proto.ai_on(p, al, 1, "2027-03") is False and proto.ai_on(p, al, 1, "2027-04") is True
    assert proto.ai_on(p, al, 2, "2027-12") is False and proto.ai_on(p, al, 2, "2028-01") is True
    assert proto.ai_on(p, al, 2, "2026-06") is False          # baseline: off
    assert proto.ai_on(p, al, 2, "2029-01") is True           # after the end: the last period's state
    assert proto.ai_on(p, al, 3, "2027-06") is None           # not in the pilot: the instance decides
    par = _p(design="parallel", n_periods=2)
    assert proto.ai_on(par, {1: 0, 2: None}, 1, "2027-01") is True
    assert proto.ai_on(par, {1: 0, 2: None}, 2, "2027-06") is False


def test_randomisation_reproducible_and_balanced_within_strata() -> None:
    p = _p()
    practices = [proto.Practice(i, ("small", "large", "rural")[i % 3]) for i in range(1, 38)]
    a = proto.randomise(p, practices, 2027)
    assert a == proto.randomise(p, list(reversed(practices)), 2027)   # order of input does not matter
    b = proto.randomise(p, practices, 2028)
    assert a != b
    assert set(a.values()) == {1, 2, 3, 4}
    for stratum in ("small", "large", "rural"):
        counts = Counter(a[pr.id] for pr in practices if pr.stratum == stratum)
        assert max(counts.values()) - min(counts.get(s, 0) for s in (1, 2, 3, 4)) <= 1, (stratum, counts)
    tot = Counter(a.values())
    assert max(tot.values()) - min(tot.values()) <= 1
    with pytest.raises(ConfigError, match="cannot fill the 4 sequences"):
        proto.randomise(p, practices[:3], 1)
    with pytest.raises(ConfigError, match=r"more than once"):
        proto.randomise(p, practices + practices[:1], 1)


def test_register_freezes_protocol_and_allocation(tmp_path) -> None:  # noqa: ANN001
    engine, factory = make_db(tmp_path)
    with factory() as db:
        ps = add_practices(db, 8)
        row = service.save_protocol(db, _p(), ACTOR)
        with pytest.raises(ConfigError, match="randomise it"):
            service.register_protocol(db, "p1", ACTOR, today=date(2026, 12, 1))
        strata = {p.id: ("a" if p.id % 2 else "b") for p in ps}
        al = service.randomise_practices(db, "p1", 7, strata, ACTOR)
        assert al == proto.randomise(_p(), [proto.Practice(k, v) for k, v in strata.items()], 7)
        with pytest.raises(ConfigError, match="must be registered before"):
            service.register_protocol(db, "p1", ACTOR, today=date(2027, 1, 1))
        h = service.register_protocol(db, "p1", ACTOR, today=date(2026, 12, 31))
        db.commit()
        assert h == proto.registration_sha256(proto.protocol_sha256(_p()), row.allocation_sha256)
        # later changes refused: through the service, through the ORM, on the allocation
        with pytest.raises(RecordError, match="frozen"):
            service.save_protocol(db, _p(period_months=2), ACTOR)
        db.rollback()
        with pytest.raises(RecordError, match="registered"):
            service.randomise_practices(db, "p1", 8, strata, ACTOR)
        db.rollback()
        r = db.scalar(select(PilotProtocol))
        r.content = {**r.content, "period_months": 1}
        with pytest.raises(RecordError, match="frozen"):
            db.commit()
        db.rollback()
        a = db.scalar(select(PilotAllocation))
        a.crossover_period = 1 if a.crossover_period != 1 else 2
        with pytest.raises(RecordError, match="frozen"):
            db.commit()
        db.rollback()
        assert service.ai_on_for_practice(db, ps[0].id, date(2026, 6, 1)) is None   # before the start: instance decides
        c = al[ps[0].id]
        y, m = proto.month_str(proto.month_index("2027-01") + 3 * c).split("-")
        first_on = date(int(y), int(m), 1)
        assert service.ai_on_for_practice(db, ps[0].id, date(first_on.year - (first_on.month == 1),
                                                             (first_on.month - 2) % 12 + 1, 28)) is False
        assert service.ai_on_for_practice(db, ps[0].id, first_on) is True
        assert service.ai_on_for_practice(db, 999, first_on) is None
    kinds = [e["details"].get("pilot") for e in audit.entries(engine, action="settings")]
    assert kinds == ["protocol_saved", "randomised", "registered"]
    assert audit.verify(engine).ok
