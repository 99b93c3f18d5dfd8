"""``ecgpilot serve`` pieces: first-run admin, persistent session key; no patient data in logs."""

from __future__ import annotations

import html
import logging
import stat

from _web import login, make_app
from conftest import data_file
from fastapi.testclient import TestClient

from ecgpilot.store import authenticate
from ecgpilot.web import Settings, create_app
from ecgpilot.web.server import ensure_first_admin, load_secret_key


def test_first_admin_created_once(tmp_path) -> None:  # noqa: ANN001
    app = create_app(Settings(data_dir=tmp_path))
    email, password = ensure_first_admin(app.state.sessions)
    assert email == "admin@ecgpilot.local" and len(password) >= 12
    with app.state.sessions() as db:
        assert authenticate(db, email, password).role == "admin"
    assert ensure_first_admin(app.state.sessions) is None
    assert (tmp_path / "ecgpilot.db").exists()


def test_first_admin_from_env_values(tmp_path) -> None:  # noqa: ANN001
    app = create_app(Settings(data_dir=tmp_path))
    assert ensure_first_admin(app.state.sessions, "chef@cabinet.fr", "un mot de passe long") == ("chef@cabinet.fr", "un mot de passe long")
    assert login(TestClient(app), "chef@cabinet.fr", "un mot de passe long").status_code == 303


def test_secret_key_kept_private(tmp_path) -> None:  # noqa: ANN001
    key = load_secret_key(tmp_path)
    assert load_secret_key(tmp_path) == key and len(key) > 40
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_no_patient_data_in_logs(tmp_path, caplog) -> None:  # noqa: ANN001
    path = data_file("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
    client = TestClient(make_app(tmp_path))
    login(client, "a@x.fr")
    from _web import csrf_of

    with caplog.at_level(logging.DEBUG):
        csrf = csrf_of(client.get("/").text)
        r = client.post("/upload", data={"csrf": csrf}, files=[("files", (path.name, path.read_bytes()))])
        assert r.status_code == 200 and "TESTONE" in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in ("TESTONE", "201700237", "1980-06-10", path.name):
        assert secret not in logged


def test_create_user_for_the_cli(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from ecgpilot.web.server import create_user

    monkeypatch.setenv("ECGPILOT_WEB_DATA", str(tmp_path))
    create_user("dr@cabinet.fr", "un mot de passe long", role="cardiologist", practice="Cabinet B")
    app = create_app(Settings(data_dir=tmp_path))
    with app.state.sessions() as db:
        assert authenticate(db, "dr@cabinet.fr", "un mot de passe long").role == "cardiologist"


def test_tampered_session_cookie_is_refused(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path))
    login(client, "a@x.fr")
    value = client.cookies.get("ecgpilot_session")
    client.cookies.set("ecgpilot_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/", follow_redirects=False).headers.get("location") == "/login"


def test_admin_adds_a_gp_of_the_same_practice(tmp_path) -> None:  # noqa: ANN001
    from _web import csrf_of

    app = create_app(Settings(data_dir=tmp_path))
    email, password = ensure_first_admin(app.state.sessions)
    admin = TestClient(app)
    login(admin, email, password)
    page = admin.get("/admin/users")
    assert page.status_code == 200 and email in page.text
    r = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "gp@cabinet.fr", "name": "Dr G",
                                         "role": "gp", "password": "mot de passe du médecin"})
    assert r.status_code == 200 and "gp@cabinet.fr" in r.text
    gp = TestClient(app)
    assert login(gp, "gp@cabinet.fr", "mot de passe du médecin").status_code == 303
    assert gp.get("/admin/users").status_code == 403
    with app.state.sessions() as db:
        from sqlalchemy import select

        from ecgpilot.store.models import User

        rows = {u.email: u.practice_id for u in db.scalars(select(User))}
    assert rows["gp@cabinet.fr"] == rows[email]
    r = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "x@cabinet.fr", "role": "gp", "password": "short"})
    assert r.status_code == 422 and "x@cabinet.fr" in r.text          # refused in place, in French, the form kept
    assert "mot de passe" in html.unescape(r.text).lower() and "too short" not in r.text


def test_serving_settings_folder_database_and_key(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """What ``serve`` and each worker run on: the data folder made absolute, the database spelt out, the session
    key from ``$ECGPILOT_SECRET_KEY`` else the one kept (0600) in the data folder."""
    from ecgpilot.web.server import serving_settings

    for name in [k for k in __import__("os").environ if k.startswith("ECGPILOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve() / "ecgpilot-data"
    s = serving_settings()
    assert s.data_dir == here and s.database_url == f"sqlite:///{here / 'ecgpilot.db'}"
    assert s.secret_key == (here / "secret_key").read_text().strip() == serving_settings().secret_key
    monkeypatch.setenv("ECGPILOT_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ECGPILOT_WEB_DATA", "elsewhere")
    s = serving_settings({"database_url": "other.db"})
    assert (s.secret_key, s.data_dir, s.database_url) == ("k" * 40, tmp_path.resolve() / "elsewhere",
                                                         f"sqlite:///{tmp_path.resolve() / 'other.db'}")
