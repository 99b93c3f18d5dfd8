"""API tokens: they expire, can be listed and revoked (account page and API), every change audited."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from _web import csrf_of, login, make_app, token_for
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.store import migrate, open_database
from ecgpilot.store.models import ApiToken, User, utcnow
from ecgpilot.store.users import MAX_TOKEN_DAYS, add_user, create_api_token, user_for_token


def _api(app, token: str) -> TestClient:  # noqa: ANN001
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def _token_audit(app) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(e["details"]["kind"], e["target"]) for e in audit.entries(app.state.engine, action="settings")
            if e["details"].get("kind", "").endswith("api_token")]


def test_store_tokens_expire_and_are_revoked(tmp_path) -> None:  # noqa: ANN001
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with sessions() as db:
        user = add_user(db, "a@x.fr", "correct horse battery")
        tok = create_api_token(db, user, "pms", days=30)
        db.commit()
        assert user_for_token(db, tok).id == user.id
        assert user_for_token(db, tok, now=utcnow() + timedelta(days=31)) is None   # expired
        assert user_for_token(db, "ecgp_not-a-token") is None
        row = db.scalar(select(ApiToken))
        assert row.last_used_at is not None and len(row.token_sha256) == 64 and row.token_sha256 not in tok
        row.revoked_at = utcnow()
        db.commit()
        assert user_for_token(db, tok) is None
        for bad in (0, MAX_TOKEN_DAYS + 1, -5):
            with pytest.raises(ConfigError):
                create_api_token(db, user, days=bad)


def test_api_lists_creates_and_revokes_tokens(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    first = token_for(app, "a@x.fr")
    api = _api(app, first)
    r = api.post("/api/v1/tokens", json={"label": "logiciel du cabinet", "days": 7})
    assert r.status_code == 201
    new = r.json()
    assert new["token"].startswith("ecgp_") and new["state"] == "active" and new["label"] == "logiciel du cabinet"
    listed = api.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [listed[0]["id"], new["id"]]
    assert all("token" not in t for t in listed)   # never shown again
    assert listed[0]["last_used_at"] is not None
    assert api.post("/api/v1/tokens", json={"days": 366}).status_code == 422
    # B cannot see nor revoke A's tokens
    other = _api(app, token_for(app, "b@x.fr"))
    assert [t["id"] for t in other.get("/api/v1/tokens").json()] != [t["id"] for t in listed]
    assert other.delete(f"/api/v1/tokens/{new['id']}").status_code == 404
    assert _api(app, new["token"]).get("/api/v1/studies").status_code == 200
    # revoked: refused at once
    assert api.delete(f"/api/v1/tokens/{new['id']}").status_code == 204
    r = _api(app, new["token"]).get("/api/v1/studies")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert [t["state"] for t in api.get("/api/v1/tokens").json()] == ["active", "revoked"]
    assert _token_audit(app) == [("create_api_token", f"api_token:{new['id']}"),
                                 ("revoke_api_token", f"api_token:{new['id']}")]


def test_expired_token_is_refused_by_the_api(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    tok = token_for(app, "a@x.fr")
    assert _api(app, tok).get("/api/v1/studies").status_code == 200
    with app.state.sessions() as db:
        db.scalar(select(ApiToken)).expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
    assert _api(app, tok).get("/api/v1/studies").status_code == 401


def test_account_page_creates_lists_and_revokes(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    client = TestClient(app)
    assert login(client, "a@x.fr").status_code == 303
    assert 'href="/account#tokens"' in client.get("/").text
    page = client.get("/account")
    r = client.post("/account/token", data={"csrf": csrf_of(page.text), "label": "Weda", "days": "30"})
    assert r.status_code == 200
    token = re.search(r'<code id="api-token">([^<]+)</code>', r.text).group(1)
    assert _api(app, token).get("/api/v1/studies").status_code == 200
    page = client.get("/account")
    assert token not in page.text and "Weda" in page.text and 'data-state="active"' in page.text
    tid = int(re.search(r'data-token="(\d+)"', page.text).group(1))
    bad = client.post("/account/token", data={"csrf": csrf_of(page.text), "days": "9999"})
    assert bad.status_code == 422 and 'id="token-error"' in bad.text
    # without the CSRF token nothing is revoked
    assert client.post(f"/account/tokens/{tid}/revoke", data={}).status_code == 403
    assert _api(app, token).get("/api/v1/studies").status_code == 200
    r = client.post(f"/account/tokens/{tid}/revoke", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert _api(app, token).get("/api/v1/studies").status_code == 401
    assert 'data-state="revoked"' in client.get("/account").text
    # another account cannot revoke it (404, not someone else's token)
    other = TestClient(app)
    login(other, "b@x.fr")
    assert other.post(f"/account/tokens/{tid}/revoke", data={"csrf": csrf_of(other.get('/account').text)}).status_code == 404
    with app.state.sessions() as db:
        assert db.scalar(select(User).where(User.email == "a@x.fr")).id == db.get(ApiToken, tid).user_id
    assert _token_audit(app) == [("create_api_token", f"api_token:{tid}"), ("revoke_api_token", f"api_token:{tid}")]


def test_migration_gives_old_tokens_an_expiry(tmp_path) -> None:  # noqa: ANN001
    from sqlalchemy import text

    shutil.copy(Path(__file__).parent / "fixtures" / "migrations" / "v7.sqlite", tmp_path / "db.sqlite")
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:   # the old runner's database, back at version 5: a token that never expired
        conn.execute(text("UPDATE schema_version SET version = 5"))
        conn.execute(text("DELETE FROM api_token"))
        for col in ("expires_at", "revoked_at", "last_used_at"):
            conn.execute(text(f"ALTER TABLE api_token DROP COLUMN {col}"))
        conn.execute(text("INSERT INTO api_token (user_id, token_sha256, label, created_at) "
                          "VALUES (1, :h, 'old', '2026-01-01 00:00:00')"), {"h": "0" * 64})
    assert migrate(engine)[0] == 6
    with sessions() as db:
        exp = db.scalar(select(ApiToken)).expires_at
        assert exp is not None
        assert timedelta(days=170) < exp.replace(tzinfo=utcnow().tzinfo) - utcnow() < timedelta(days=190)
