"""Server-side login sessions: logout, a password change and the timeouts end them; a replayed
cookie of an ended session gets the login page and its CSRF token no longer works."""

from __future__ import annotations

from datetime import timedelta

from _web import csrf_of, login, make_app
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.store.models import LoginSession, User, utcnow
from ecgpilot.store.users import authenticate, set_password


def _logged_in(app, email: str = "a@x.fr") -> tuple[TestClient, str]:  # noqa: ANN001
    client = TestClient(app)
    assert login(client, email).status_code == 303
    return client, client.cookies["ecgpilot_session"]


def _replay(app, cookie: str) -> TestClient:  # noqa: ANN001
    other = TestClient(app)
    other.cookies.set("ecgpilot_session", cookie)
    return other


def test_logout_ends_the_session_and_the_old_cookie_is_refused(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    client, cookie = _logged_in(app)
    page = client.get("/")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    # the stolen cookie works before logout ...
    assert _replay(app, cookie).get("/", follow_redirects=False).status_code == 200
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # ... and not after: the page asks for a login, the CSRF token of that session changes nothing
    replay = _replay(app, cookie)
    assert replay.get("/", follow_redirects=False).headers["location"] == "/login"
    replay = _replay(app, cookie)
    r = replay.post("/account/token", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code in (303, 403) and r.headers.get("location", "/login") == "/login"
    with app.state.sessions() as db:
        row = db.scalar(select(LoginSession))
        assert row.ended_at is not None and row.end_reason == "logout"
        assert len(row.sid_sha256) == 64 and row.sid_sha256 not in cookie   # only the hash is stored
    assert "logout" in [e["action"] for e in audit.entries(app.state.engine)]


def test_password_change_ends_every_session_of_the_account(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    c1, k1 = _logged_in(app)
    c2, k2 = _logged_in(app)
    cb, kb = _logged_in(app, "b@x.fr")
    with app.state.sessions() as db:
        user = db.scalar(select(User).where(User.email == "a@x.fr"))
        set_password(db, user, "a brand new password")
        db.commit()
        assert authenticate(db, "a@x.fr", "a brand new password") is not None
    for k in (k1, k2):
        assert _replay(app, k).get("/", follow_redirects=False).headers["location"] == "/login"
    assert _replay(app, kb).get("/", follow_redirects=False).status_code == 200   # another account keeps its own
    assert login(TestClient(app), "a@x.fr", "a brand new password").status_code == 303


def test_idle_and_absolute_timeouts(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, session_idle_s=600, session_max_age_s=3600)
    client, cookie = _logged_in(app)
    assert client.get("/", follow_redirects=False).status_code == 200
    with app.state.sessions() as db:   # unused for 11 minutes
        row = db.scalar(select(LoginSession))
        row.last_seen_at = utcnow() - timedelta(seconds=660)
        db.commit()
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    with app.state.sessions() as db:
        assert db.scalar(select(LoginSession)).end_reason == "idle_timeout"

    client, cookie = _logged_in(app)
    with app.state.sessions() as db:   # in use all along, but logged in more than an hour ago
        row = db.scalar(select(LoginSession).where(LoginSession.ended_at.is_(None)))
        row.created_at = utcnow() - timedelta(seconds=3700)
        db.commit()
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    with app.state.sessions() as db:
        reasons = sorted(r.end_reason for r in db.scalars(select(LoginSession)))
        assert reasons == ["absolute_timeout", "idle_timeout"]


def test_use_keeps_the_session_alive(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, session_idle_s=600)
    client, _ = _logged_in(app)
    with app.state.sessions() as db:   # last used 5 minutes ago: still live, and the use is recorded
        row = db.scalar(select(LoginSession))
        row.last_seen_at = utcnow() - timedelta(seconds=300)
        db.commit()
    assert client.get("/", follow_redirects=False).status_code == 200
    with app.state.sessions() as db:
        seen = db.scalar(select(LoginSession)).last_seen_at
        assert (utcnow() - seen.replace(tzinfo=utcnow().tzinfo)).total_seconds() < 60


def test_a_cookie_without_a_server_session_is_refused(tmp_path) -> None:  # noqa: ANN001
    """A cookie signed with the right key but naming no stored session (e.g. made before this
    version, or forged with a leaked key and a guessed id) is not a login."""
    import base64
    import json

    import itsdangerous

    app = make_app(tmp_path)
    data = base64.b64encode(json.dumps({"user_id": 1, "sid": "made-up", "csrf": "x"}).encode())
    forged = itsdangerous.TimestampSigner("test-key").sign(data).decode()
    assert _replay(app, forged).get("/", follow_redirects=False).headers["location"] == "/login"
    old = itsdangerous.TimestampSigner("test-key").sign(base64.b64encode(b'{"user_id": 1}')).decode()
    assert _replay(app, old).get("/", follow_redirects=False).headers["location"] == "/login"


def test_cli_passwd_ends_the_sessions_and_is_audited(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from ecgpilot.cli import main

    app = make_app(tmp_path)
    _, cookie = _logged_in(app)
    db_file = tmp_path / "data" / "ecgpilot.db"
    monkeypatch.setenv("ECGPILOT_NEW_PASSWORD", "another long password")
    assert main(["user", "passwd", "A@x.fr", "--db", str(db_file)]) == 0
    assert "1 login session(s) ended" in capsys.readouterr().out
    assert _replay(app, cookie).get("/", follow_redirects=False).headers["location"] == "/login"
    assert login(TestClient(app), "a@x.fr", "another long password").status_code == 303
    last = [e for e in audit.entries(app.state.engine) if e["action"] == "admin"][-1]
    assert last["details"]["operation"] == "set_password"
