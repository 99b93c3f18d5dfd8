"""Login limiting on the web app: per account and per client, delays rather than a lockout of the
real owner, and X-Forwarded-For believed only from declared proxies."""

from __future__ import annotations

import pytest
from _web import login, make_app
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ecgpilot.errors import ConfigError
from ecgpilot.web.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _with_clock(app):  # noqa: ANN001, ANN202
    clock = Clock()
    app.state.limiter._clock = clock
    return clock


def test_the_owner_waits_but_is_not_locked_out(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, login_attempts=3)
    clock = _with_clock(app)
    attacker, owner = TestClient(app), TestClient(app)
    for _ in range(3):
        assert login(attacker, "a@x.fr", "guess guess guess").status_code == 401
    r = login(attacker, "a@x.fr", "another guess!!")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"   # not even checked
    clock.t += 1
    assert login(attacker, "a@x.fr", "another guess!!").status_code == 401
    r = login(owner, "a@x.fr")
    assert r.status_code == 429 and r.headers["retry-after"] == "2"   # the delay doubles...
    clock.t += 2
    assert login(owner, "a@x.fr").status_code == 303   # ... and the owner gets in after it
    assert login(TestClient(app), "a@x.fr", "guess guess guess").status_code == 401   # success cleared the account


def test_many_emails_from_one_client_are_slowed(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, login_attempts_per_client=4)
    _with_clock(app)
    client = TestClient(app)
    assert [login(client, f"user{i}@x.fr", "guess guess guess").status_code for i in range(4)] == [401] * 4
    r = login(client, "user99@x.fr", "guess guess guess")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # another client is not slowed by it
    assert login(TestClient(app, client=("10.1.2.3", 5000)), "b@x.fr").status_code == 303


def proxy_options(trusted: str | None, environ: dict[str, str]) -> dict[str, object]:
    """uvicorn's proxy settings for ``serve --trusted-proxies`` over ``environ`` (as ``serve`` builds them)."""
    return load_settings({"trusted_proxies": trusted}, environ).proxy_options()


def _behind(app, trusted: str | None, peer: str) -> TestClient:  # noqa: ANN001
    """The app as ``ecgpilot serve`` runs it under uvicorn (its proxy-headers middleware, as configured)."""
    opts = proxy_options(trusted, environ={})
    asgi = ProxyHeadersMiddleware(app, trusted_hosts=opts["forwarded_allow_ips"]) if opts["proxy_headers"] else app
    return TestClient(asgi, client=(peer, 40000))


def test_rotating_x_forwarded_for_does_not_escape_the_limit(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, login_attempts_per_client=3)
    _with_clock(app)
    client = _behind(app, None, "127.0.0.1")   # default: no proxy believed, even from loopback
    codes = []
    for i in range(5):
        client.headers["X-Forwarded-For"] = f"203.0.113.{i}"
        codes.append(login(client, f"user{i}@x.fr", "guess guess guess").status_code)
    assert codes == [401, 401, 401, 429, 429]


def test_declared_proxy_is_believed(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, login_attempts_per_client=2)
    _with_clock(app)
    proxy = _behind(app, "10.0.0.5", "10.0.0.5")
    proxy.headers["X-Forwarded-For"] = "203.0.113.7"
    assert [login(proxy, f"u{i}@x.fr", "guess guess guess").status_code for i in range(3)] == [401, 401, 429]
    proxy.headers["X-Forwarded-For"] = "198.51.100.2"   # another real client behind the same proxy
    assert login(proxy, "a@x.fr").status_code == 303
    # a peer that is not the declared proxy cannot pose as that client
    stranger = _behind(app, "10.0.0.5", "10.0.0.9")
    for i in range(3):
        stranger.headers["X-Forwarded-For"] = f"192.0.2.{i}"
        login(stranger, f"v{i}@x.fr", "guess guess guess")
    stranger.headers["X-Forwarded-For"] = "192.0.2.200"
    assert login(stranger, "w@x.fr", "guess guess guess").status_code == 429


def test_proxy_options() -> None:
    assert proxy_options(None, environ={}) == {"proxy_headers": False}
    assert proxy_options(None, environ={"ECGPILOT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24"}) == {
        "proxy_headers": True, "forwarded_allow_ips": ["127.0.0.1", "10.0.0.0/24"]}
    assert proxy_options("::1", environ={"ECGPILOT_TRUSTED_PROXIES": "10.0.0.1"})["forwarded_allow_ips"] == ["::1"]
    for bad in ("*", "proxy.local", "10.0.0.0/99"):
        with pytest.raises(ConfigError):
            proxy_options(bad, environ={})


def test_serve_hands_uvicorn_no_proxy_trust_by_default(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import uvicorn

    from ecgpilot.web.server import serve

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setenv("ECGPILOT_WEB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ECGPILOT_ADMIN_PASSWORD", "a long admin password")
    monkeypatch.delenv("ECGPILOT_TRUSTED_PROXIES", raising=False)
    assert serve(port=8999) == 0
    assert seen["proxy_headers"] is False
    monkeypatch.setenv("ECGPILOT_TRUSTED_PROXIES", "127.0.0.1")
    serve(port=8999)
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == ["127.0.0.1"]
