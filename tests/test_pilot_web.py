"""The pilot's pages: protocol (admin creates, randomises, registers; evaluator reads), the GP's 30-day
follow-up with its worklist reminder, the evaluator's indicators; role and practice checks."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.store import add_user
from ecgpilot.store.models import User
from ecgpilot.store.pilot import PilotFollowUp, PilotProtocol
from tests._pilot import add_signed_study, utc
from tests._web import PASSWORD, csrf_of, login, make_app


def _future_month(months: int = 2) -> str:
    d = date.today().replace(day=1) + timedelta(days=31 * months)
    return f"{d.year:04d}-{d.month:02d}"


def test_protocol_pages(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    with app.state.sessions() as db:
        add_user(db, "admin@x.fr", PASSWORD, name="Admin", role="admin", practice="A")
        db.commit()
    with TestClient(app) as c:
        login(c, "admin@x.fr")
        page = c.get("/pilot")
        assert page.status_code == 200 and 'id="protocol-form"' in page.text
        bad = c.post("/pilot/protocol", data={"csrf": csrf_of(page.text), "name": "P", "design": "stepped_wedge",
                                               "start_month": "2027-13", "period_months": "1", "n_periods": "3",
                                               "baseline_months": "0"})
        assert bad.status_code == 400 and "2027-13" in bad.text
        r = c.post("/pilot/protocol", data={"csrf": csrf_of(page.text), "name": "P", "design": "stepped_wedge",
                                             "start_month": _future_month(), "period_months": "1", "n_periods": "3",
                                             "baseline_months": "0"}, follow_redirects=False)
        assert r.status_code == 303
        with app.state.sessions() as db:
            pid = db.scalar(select(PilotProtocol.id))
        page = c.get("/pilot")
        assert c.post(f"/pilot/{pid}/randomise", data={"csrf": csrf_of(page.text), "seed": "12"},
                      follow_redirects=False).status_code == 303
        page = c.get("/pilot")
        assert "<svg" in page.text                               # the stepped-wedge diagram, inline
        assert c.post(f"/pilot/{pid}/register", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
        page = c.get("/pilot")
        with app.state.sessions() as db:
            row = db.get(PilotProtocol, pid)
        assert row.status == "registered" and row.registration_sha256 in page.text
        assert f"/pilot/{pid}/randomise" not in page.text        # frozen: no more buttons
        assert c.post(f"/pilot/{pid}/randomise", data={"csrf": csrf_of(page.text), "seed": "13"}).status_code == 400
        assert c.post(f"/pilot/{pid}/register", data={"csrf": "nope"}).status_code == 403   # CSRF
    with TestClient(app) as c:
        login(c, "e@x.fr")
        assert c.get("/pilot").status_code == 200
        assert c.post("/pilot/protocol", data={"csrf": csrf_of(c.get("/pilot").text), "name": "Q"}).status_code == 403
        ind = c.get(f"/pilot/{pid}/indicators")
        assert ind.status_code == 200 and "P" in ind.text
    with TestClient(app) as c:
        login(c, "a@x.fr")
        assert c.get("/pilot").status_code == 403 and c.get(f"/pilot/{pid}/indicators").status_code == 403
    kinds = [e["details"].get("pilot") for e in audit.entries(app.state.engine, action="settings")]
    assert kinds == ["protocol_saved", "randomised", "registered"]


def test_followup_reminder_and_form(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    today = date.today()
    with app.state.sessions() as db:
        gp = db.scalar(select(User).where(User.email == "a@x.fr"))
        old = add_signed_study(db, gp, utc(today.year, today.month, 1) - timedelta(days=40))
        add_signed_study(db, gp, utc(today.year, today.month, 1) + timedelta(hours=1))  # too recent
        db.commit()
        sid = old.id
    with TestClient(app) as c:
        login(c, "a@x.fr")
        home = c.get("/")
        assert 'id="pilot-reminder"' in home.text and re.search(r">1 suivi", home.text)
        due = c.get("/pilot/followups")
        assert f"/pilot/followup/{sid}" in due.text
        form = c.get(f"/pilot/followup/{sid}")
        assert form.status_code == 200
        bad = c.post(f"/pilot/followup/{sid}", data={"csrf": csrf_of(form.text), "diagnosis": "flu"})
        assert bad.status_code == 400 and "flu" in bad.text
        ok = c.post(f"/pilot/followup/{sid}", data={"csrf": csrf_of(form.text), "referred": "yes",
                                                    "referral_kind": "tele_expertise", "diagnosis": "af_flutter",
                                                    "new_diagnosis": "yes"})
        assert ok.status_code == 200 and 'id="followup-saved"' in ok.text
        assert 'id="pilot-reminder"' not in c.get("/").text
    with app.state.sessions() as db:
        f = db.scalar(select(PilotFollowUp))
        assert (f.referred, f.referral_kind, f.diagnosis, f.new_diagnosis, f.emergency) == (
            True, "tele_expertise", "af_flutter", True, None)
    with TestClient(app) as c:                       # a GP of another practice: the study does not exist for them
        login(c, "b@x.fr")
        assert c.get(f"/pilot/followup/{sid}").status_code == 404
        assert 'id="pilot-reminder"' not in c.get("/").text
    with TestClient(app) as c:
        login(c, "e@x.fr")
        assert c.get("/pilot/followups").status_code == 403
    assert any(e["details"].get("pilot") == "followup" for e in audit.entries(app.state.engine, action="change"))


def test_ai_allowed_for_follows_the_registered_allocation(tmp_path) -> None:  # noqa: ANN001
    from starlette.requests import Request

    from ecgpilot.pilot import protocol as proto
    from ecgpilot.pilot import service
    from ecgpilot.web.deps import ai_allowed_for

    app = make_app(tmp_path, use_ai=True)
    request = Request({"type": "http", "app": app, "headers": []})
    actor = service.Actor("t", "admin")
    with app.state.sessions() as db:
        a = db.scalar(select(User).where(User.email == "a@x.fr"))
        b = db.scalar(select(User).where(User.email == "b@x.fr"))
        p = proto.Protocol(name="sw", start_month="2030-01", period_months=1, n_periods=3, baseline_months=0)
        service.save_protocol(db, p, actor)
        al = service.randomise_practices(db, "sw", 3, {a.practice_id: "x", b.practice_id: "x"}, actor)
        service.register_protocol(db, "sw", actor, today=date(2029, 12, 1))
        db.commit()
    first_on = {pid: date(2030, 1 + c, 1) for pid, c in al.items()}
    for u in (a, b):
        assert ai_allowed_for(request, u, date(2029, 6, 1)) is True                    # before the pilot: instance
        assert ai_allowed_for(request, u, first_on[u.practice_id] - timedelta(days=1)) is False  # control arm: off
        assert ai_allowed_for(request, u, first_on[u.practice_id]) is True
    audit.set_ai_enabled(app.state.engine, False, actor_id="t", actor_role="admin", practice_id=b.practice_id)
    assert ai_allowed_for(request, b, first_on[b.practice_id]) is False                  # the practice's switch wins
    assert ai_allowed_for(request, a, first_on[a.practice_id]) is True
    audit.set_ai_enabled(app.state.engine, False, actor_id="t", actor_role="admin")     # the instance's too
    assert ai_allowed_for(request, a, first_on[a.practice_id]) is False


def test_pilot_pages_in_both_languages_from_the_catalogue(tmp_path, caplog) -> None:  # noqa: ANN001
    """The pilot's texts are the catalogue's ``web.pilot`` section: the pages speak French or English, and
    an unknown key shows itself (with a logged warning) rather than failing the page."""
    import logging

    from ecgpilot.web.routes import pilot

    app = make_app(tmp_path)
    today = date.today()
    with app.state.sessions() as db:
        gp = db.scalar(select(User).where(User.email == "a@x.fr"))
        sid = add_signed_study(db, gp, utc(today.year, today.month, 1) - timedelta(days=40)).id
        db.commit()
    with TestClient(app) as c:
        login(c, "e@x.fr")
        assert "<h1>Protocoles d'évaluation</h1>" in c.get("/pilot").text.replace("&#39;", "'")
        c.cookies.set("lang", "en")
        assert "Evaluation protocols" in c.get("/pilot").text and "No protocol yet." in c.get("/pilot").text
    with TestClient(app) as c:
        c.cookies.set("lang", "en")
        login(c, "a@x.fr")
        form = c.get(f"/pilot/followup/{sid}").text
        assert "Referred to a cardiologist?" in form and "Emergency transfer?" in form and "tele-expertise" in form
    assert pilot.pt("saved", "fr") == "Suivi enregistré." and pilot.pt("saved", "en") == "Follow-up saved."
    with caplog.at_level(logging.WARNING, logger="ecgpilot.web.i18n"):
        assert pilot.pt("no_such_text", "en") == "pilot.no_such_text"
    assert "'web.pilot.no_such_text'" in caplog.records[0].getMessage()
