"""Web OIDC login (/login/oidc, /auth/callback) against the local provider of test_oidc.py."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from _web import login, make_app
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_oidc import Provider

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.security.oidc import AuthRequest, OIDCConfig
from ecgpilot.store.models import User
from ecgpilot.web.routes import oidc as oidc_routes
from ecgpilot.web.routes.oidc import PENDING_COOKIE, PendingLogins
from ecgpilot.web.settings import oidc_config_from_env

CALLBACK = "http://testserver/auth/callback"


@pytest.fixture(scope="module")
def provider():  # noqa: ANN201
    with Provider() as p:
        yield p


@pytest.fixture()
def cfg(provider) -> OIDCConfig:  # noqa: ANN001
    provider.claims_override = {}
    provider.sign_key = provider.key
    return OIDCConfig(issuer=provider.issuer, client_id="ecgpilot", client_secret="client-secret", redirect_uri=CALLBACK,
                      scope="openid scope_all", acr_values="eidas1", required_acr="eidas1")


@pytest.fixture()
def app(tmp_path, cfg):  # noqa: ANN001, ANN201
    return make_app(tmp_path, oidc=cfg)


def _to_provider(client: TestClient) -> dict[str, str]:
    """GET /login/oidc, follow the provider's authorize redirect like a browser; the callback's query."""
    r = client.get("/login/oidc", follow_redirects=False)
    assert r.status_code == 303, r.text
    p = httpx.get(r.headers["location"], follow_redirects=False)
    assert p.status_code == 302
    loc = urlparse(p.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(loc.query).items()}


def _oidc_login(client: TestClient) -> httpx.Response:
    return client.get("/auth/callback", params=_to_provider(client), follow_redirects=False)


def _user(app, email: str) -> User:  # noqa: ANN001
    with app.state.sessions() as db:
        return db.scalar(select(User).where(User.email == email))


def _failures(app) -> list[dict]:  # noqa: ANN001
    return [e for e in audit.entries(app.state.engine, action="login_failed") if e["details"].get("method") == "oidc"]


def test_start_redirects_with_pkce_and_lax_cookie(app, provider) -> None:  # noqa: ANN001
    r = TestClient(app).get("/login/oidc", follow_redirects=False)
    assert r.status_code == 303
    url = urlparse(r.headers["location"])
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert r.headers["location"].startswith(provider.issuer + "/authorize?")
    assert q["redirect_uri"] == CALLBACK and q["code_challenge_method"] == "S256" and q["acr_values"] == "eidas1"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(PENDING_COOKIE) and "path=/auth/callback" in cookie and "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "code_verifier" not in cookie and q["state"] not in r.headers["set-cookie"]  # kept server-side
    assert app.state.oidc_metadata["issuer"] == provider.issuer  # discovered once, cached


def test_first_login_links_by_email_then_by_subject(app, provider) -> None:  # noqa: ANN001
    provider.claims_override = {"email": "A@x.fr"}
    client = TestClient(app)
    r = _oidc_login(client)
    assert r.status_code == 200 and 'content="0;url=/"' in r.text  # same-site hop to the worklist
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 200 and "Dr A" in page.text
    user = _user(app, "a@x.fr")
    assert user.oidc_subject == "u1"
    links = audit.entries(app.state.engine, action="admin")
    assert [(e["target"], e["details"]) for e in links] == [(f"user:{user.id}", {"operation": "link_oidc_subject", "method": "oidc"})]
    logins = audit.entries(app.state.engine, action="login")
    assert logins[-1]["actor_id"] == str(user.id) and logins[-1]["details"] == {"method": "oidc"}

    provider.claims_override = {}  # no e-mail this time: found by subject
    other = TestClient(app)
    assert _oidc_login(other).status_code == 200
    assert other.get("/", follow_redirects=False).status_code == 200
    assert len(audit.entries(app.state.engine, action="login")) == 2
    assert len(audit.entries(app.state.engine, action="admin")) == 1  # linked once only


def test_email_from_userinfo_when_not_in_id_token(app, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(oidc_routes, "fetch_userinfo", lambda cfg, meta, at: {"sub": "u1", "email": "b@x.fr"})
    client = TestClient(app)
    assert _oidc_login(client).status_code == 200
    assert _user(app, "b@x.fr").oidc_subject == "u1"


def test_userinfo_of_another_subject_ignored(app, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(oidc_routes, "fetch_userinfo", lambda cfg, meta, at: {"sub": "someone", "email": "b@x.fr"})
    assert _oidc_login(TestClient(app)).status_code == 403
    assert _user(app, "b@x.fr").oidc_subject is None


def test_unknown_identity_refused_no_account_created(app, provider) -> None:  # noqa: ANN001
    provider.claims_override = {"sub": "u-new", "email": "nobody@x.fr"}
    with app.state.sessions() as db:
        before = db.scalar(select(func.count()).select_from(User))
    client = TestClient(app)
    r = _oidc_login(client)
    assert r.status_code == 403 and "administra" in r.text
    with app.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(User)) == before
        assert db.scalar(select(User).where(User.oidc_subject == "u-new")) is None
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    (fail,) = _failures(app)
    assert fail["details"]["reason"] == "unknown_identity" and "nobody" not in str(fail)


def test_unverified_email_not_linked(app, provider) -> None:  # noqa: ANN001
    provider.claims_override = {"email": "a@x.fr", "email_verified": False}
    assert _oidc_login(TestClient(app)).status_code == 403
    assert _user(app, "a@x.fr").oidc_subject is None


def test_account_linked_to_another_identity_refused(app, provider) -> None:  # noqa: ANN001
    with app.state.sessions() as db:
        db.scalar(select(User).where(User.email == "a@x.fr")).oidc_subject = "someone-else"
        db.commit()
    provider.claims_override = {"email": "a@x.fr"}
    r = _oidc_login(TestClient(app))
    assert r.status_code == 403 and "déjà lié" in r.text  # French by default
    assert _user(app, "a@x.fr").oidc_subject == "someone-else"
    assert _failures(app)[-1]["details"]["reason"] == "linked_to_other_identity"


def test_wrong_state_refused_and_request_used_up(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    params = _to_provider(client)
    r = client.get("/auth/callback", params=params | {"state": "forged"})
    assert r.status_code == 401 and "state" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303  # not logged in
    again = client.get("/auth/callback", params=params)  # the pending request is gone (one use)
    assert again.status_code == 401
    assert [f["details"]["reason"] for f in _failures(app)] == ["invalid_response", "no_pending_login"]


def test_callback_from_another_browser_refused(app) -> None:  # noqa: ANN001
    params = _to_provider(TestClient(app))
    r = TestClient(app).get("/auth/callback", params=params)  # login CSRF: the code lands in a browser that did not start
    assert r.status_code == 401
    assert _failures(app)[-1]["details"]["reason"] == "no_pending_login"


def test_provider_error_access_denied(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    params = _to_provider(client)
    r = client.get("/auth/callback", params={"error": "access_denied", "error_description": "user cancelled",
                                             "state": params["state"]})
    assert r.status_code == 401 and "access_denied" in r.text and "user cancelled" in r.text
    assert _failures(app)[-1]["details"] | {"client": None} == {"method": "oidc", "reason": "provider_error",
                                                               "error": "access_denied", "client": None}


def test_invalid_id_token_refused(app, provider) -> None:  # noqa: ANN001
    provider.claims_override = {"aud": "someone-else", "email": "a@x.fr"}
    r = _oidc_login(TestClient(app))
    assert r.status_code == 401 and "InvalidAudience" in r.text
    assert _user(app, "a@x.fr").oidc_subject is None
    assert audit.entries(app.state.engine, action="login") == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_provider_unreachable_at_start(tmp_path) -> None:  # noqa: ANN001
    down = OIDCConfig(issuer=f"http://127.0.0.1:{_closed_port()}", client_id="ecgpilot", client_secret="s",
                      redirect_uri=CALLBACK, timeout=2.0)
    app = make_app(tmp_path, oidc=down)
    r = TestClient(app).get("/login/oidc", follow_redirects=False)
    assert r.status_code == 502 and "discovery" in r.text and "mot de passe" in r.text
    assert getattr(app.state, "oidc_metadata", None) is None  # not cached: retried next time
    assert _failures(app)[-1]["details"]["reason"] == "provider_unreachable"


def test_provider_down_at_callback(tmp_path) -> None:  # noqa: ANN001
    with Provider() as prov:
        cfg = OIDCConfig(issuer=prov.issuer, client_id="ecgpilot", client_secret="client-secret", redirect_uri=CALLBACK,
                         timeout=2.0)
        app = make_app(tmp_path, oidc=cfg)
        client = TestClient(app)
        params = _to_provider(client)
    r = client.get("/auth/callback", params=params)  # the provider has stopped: the token endpoint is unreachable
    assert r.status_code == 502 and "unreachable" in r.text
    assert _failures(app)[-1]["details"]["reason"] == "provider_unreachable"


def test_password_login_still_works(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    assert login(client, "a@x.fr").status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    assert audit.entries(app.state.engine, action="login")[-1]["details"] == {}


def test_login_page_shows_psc_button_only_when_configured(tmp_path, app) -> None:  # noqa: ANN001
    page = TestClient(app).get("/login?lang=fr")
    assert 'href="/login/oidc"' in page.text and "Se connecter avec Pro Santé Connect" in page.text
    assert "Log in with Pro Santé Connect" in TestClient(app).get("/login?lang=en").text
    plain = make_app(tmp_path / "plain")
    client = TestClient(plain)
    assert "/login/oidc" not in client.get("/login").text
    assert client.get("/login/oidc", follow_redirects=False).status_code == 404
    assert client.get("/auth/callback?code=x&state=y").status_code == 404
    assert audit.entries(plain.state.engine, action="login_failed") == []


def test_pending_logins_expire_and_are_used_once() -> None:
    store = PendingLogins(ttl_s=10)
    req = AuthRequest("https://idp/authorize", "s", "n", "v")
    h = store.put(req, now=0)
    assert store.pop(h, now=5) == req and store.pop(h, now=5) is None
    assert store.pop(store.put(req, now=0), now=11) is None
    assert store.pop(None) is None and store.pop("unknown") is None


_ENV = {"ECGPILOT_OIDC_ISSUER": "https://psc-sandbox.example/auth/realms/esante-wallet",
        "ECGPILOT_OIDC_CLIENT_ID": "ecgpilot", "ECGPILOT_OIDC_CLIENT_SECRET": "secret",
        "ECGPILOT_OIDC_REDIRECT_URI": "https://cabinet.example/auth/callback"}


def test_oidc_config_from_env() -> None:
    assert oidc_config_from_env({}) is None
    cfg = oidc_config_from_env(_ENV)
    assert cfg.issuer == _ENV["ECGPILOT_OIDC_ISSUER"] and cfg.client_secret == "secret"
    assert cfg.scope == "openid email" and cfg.acr_values is None and cfg.required_acr is None
    psc = oidc_config_from_env(_ENV | {"ECGPILOT_OIDC_SCOPE": "openid scope_all", "ECGPILOT_OIDC_ACR": "eidas1"})
    assert psc.scope == "openid scope_all" and psc.acr_values == psc.required_acr == "eidas1"


@pytest.mark.parametrize("missing", ["ECGPILOT_OIDC_CLIENT_ID", "ECGPILOT_OIDC_CLIENT_SECRET", "ECGPILOT_OIDC_REDIRECT_URI"])
def test_oidc_config_missing_variable_named(missing: str) -> None:
    env = {k: v for k, v in _ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        oidc_config_from_env(env)


def test_oidc_config_bad_redirect_uri() -> None:
    with pytest.raises(ConfigError, match="auth/callback"):
        oidc_config_from_env(_ENV | {"ECGPILOT_OIDC_REDIRECT_URI": "cabinet.example/cb"})
