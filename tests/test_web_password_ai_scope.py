"""Issue 23 §3 leftovers: a user changes their own password on a page (their other sessions end, this
one stays), and the AI stop switch is scoped (a practice's admin stops it for their practice only; the
whole instance is the operator's, ``ecgpilot ai off``)."""

from __future__ import annotations

from _web import PASSWORD, csrf_of, login, make_app
from conftest import data_file
from fastapi.testclient import TestClient

from ecgpilot import audit
from sqlalchemy import select

from ecgpilot.store import add_user, authenticate
from ecgpilot.store.models import User

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


def test_own_password_change_ends_the_other_sessions(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    here, elsewhere = TestClient(app), TestClient(app)
    login(here, "a@x.fr")
    login(elsewhere, "a@x.fr")
    assert elsewhere.get("/", follow_redirects=False).status_code == 200
    page = here.get("/account/password")
    assert page.status_code == 200 and 'id="password-form"' in page.text
    assert 'href="/account/password"' in here.get("/account").text
    csrf = csrf_of(page.text)
    # refusals said on the page, nothing changed
    r = here.post("/account/password", data={"csrf": csrf, "current": "wrong password", "new": "n" * 12, "again": "n" * 12})
    assert r.status_code == 422 and "mot de passe actuel est faux" in r.text
    r = here.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "n" * 12, "again": "m" * 12})
    assert r.status_code == 422 and "diffèrent" in r.text
    r = here.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "short", "again": "short"})
    assert r.status_code == 422 and "trop court" in r.text
    r = here.post("/account/password", data={"csrf": "bad", "current": PASSWORD, "new": "n" * 12, "again": "n" * 12})
    assert r.status_code == 403
    assert elsewhere.get("/", follow_redirects=False).status_code == 200   # nothing ended yet
    r = here.post("/account/password", data={"csrf": csrf, "current": PASSWORD, "new": "new password 23",
                                             "again": "new password 23"})
    assert r.status_code == 200 and 'id="password-changed"' in r.text and "1 session(s)" in r.text
    assert here.get("/", follow_redirects=False).status_code == 200          # this session stays
    r = elsewhere.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"       # the other one is over
    with app.state.sessions() as db:
        assert authenticate(db, "a@x.fr", PASSWORD) is None
        assert authenticate(db, "a@x.fr", "new password 23") is not None
    entry = audit.entries(app.state.engine, action="admin")[-1]
    assert entry["details"] == {"operation": "own_password_changed", "sessions_ended": 1}
    assert "new password" not in str(audit.entries(app.state.engine))


def test_a_practice_admin_stops_the_ai_for_their_practice_only(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    app.state.settings.use_ai = True
    with app.state.sessions() as db:
        add_user(db, "adm@x.fr", PASSWORD, name="Admin A", role="admin", practice="A")
        db.commit()
        pid = {u.email: u.practice_id for u in db.scalars(select(User))}
    admin = TestClient(app)
    login(admin, "adm@x.fr")
    csrf = csrf_of(admin.get("/admin/practice").text)
    r = admin.post("/admin/ai", data={"csrf": csrf, "state": "off", "reason": "test"}, follow_redirects=False)
    assert r.status_code == 303
    engine = app.state.engine
    assert audit.ai_enabled(engine) is True                                   # the instance: untouched
    assert audit.ai_enabled(engine, pid["a@x.fr"]) is False                   # practice A: off
    assert audit.ai_enabled(engine, pid["b@x.fr"]) is True                    # practice B: still on
    entry = audit.entries(engine, action="settings")[-1]
    assert entry["details"]["scope"] == "practice" and entry["target"] == f"practice:{pid['a@x.fr']}"
    # the uploads obey it: A's without the AI, B's with it
    path = data_file(*MUSE)
    results = {}
    for email in ("a@x.fr", "b@x.fr"):
        c = TestClient(app)
        login(c, email)
        r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)}, files=[("files", (path.name, path.read_bytes()))],
                   follow_redirects=False)
        sid = int(r.headers["location"].split("/")[2].split("?")[0])
        results[email] = audit.entries(engine, target=f"study:{sid}", action="analysis")[0]["details"]["ai"]
    assert results == {"a@x.fr": False, "b@x.fr": True}
    # the operator's instance switch stops it everywhere
    audit.set_ai_enabled(engine, False, actor_id="cli-admin", actor_role="admin", reason="model recall")
    assert audit.ai_enabled(engine, pid["b@x.fr"]) is False
