"""Secure cookies and HSTS, from `ecgpilot serve` options and the environment (HTTPS behind a proxy)."""

from __future__ import annotations

import pytest
from _web import login, make_app
from fastapi.testclient import TestClient

from ecgpilot.cli import build_parser
from ecgpilot.errors import ConfigError
from ecgpilot.web.settings import load_settings

_HTTPS_FIELDS = ("secure_cookies", "hsts_max_age_s", "session_idle_s", "session_max_age_s")


def _https(given: dict | None = None, environ: dict | None = None) -> tuple:
    s = load_settings(given, environ or {})
    return tuple(getattr(s, f) for f in _HTTPS_FIELDS)


def test_defaults() -> None:
    assert _https() == (False, 0, 1800, 28800)


def test_environment() -> None:
    env = {"ECGPILOT_SECURE_COOKIES": "1", "ECGPILOT_HSTS_MAX_AGE": "31536000", "ECGPILOT_SESSION_IDLE_S": "900",
           "ECGPILOT_SESSION_MAX_AGE_S": "36000"}
    assert _https(environ=env) == (True, 31536000, 900, 36000)
    assert _https(environ={"ECGPILOT_HSTS_MAX_AGE": "600"}) == (True, 600, 1800, 28800)
    assert _https(environ={"ECGPILOT_SECURE_COOKIES": "off"}) == (False, 0, 1800, 28800)
    for bad in ({"ECGPILOT_SECURE_COOKIES": "maybe"}, {"ECGPILOT_HSTS_MAX_AGE": "-1"},
                {"ECGPILOT_SESSION_IDLE_S": "5"}, {"ECGPILOT_SECURE_COOKIES": "0", "ECGPILOT_HSTS_MAX_AGE": "600"}):
        with pytest.raises(ConfigError):
            _https(environ=bad)


def _serve_given(*argv: str) -> dict:
    args = build_parser().parse_args(["serve", *argv])
    return {f: getattr(args, f) for f in _HTTPS_FIELDS}


def test_serve_options_win_over_the_environment() -> None:
    got = _https(_serve_given("--secure-cookies", "--hsts", "--session-idle-s", "600"),
                 {"ECGPILOT_SECURE_COOKIES": "0", "ECGPILOT_SESSION_IDLE_S": "900"})
    assert got == (True, 365 * 86400, 600, 28800)
    assert _https(_serve_given("--no-secure-cookies"), {"ECGPILOT_SECURE_COOKIES": "1"})[0] is False
    assert _serve_given() == dict.fromkeys(_HTTPS_FIELDS)   # nothing given: the environment decides


def test_the_app_sends_secure_cookies_and_hsts(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, hsts_max_age_s=31536000)   # HSTS turns secure cookies on
    client = TestClient(app, base_url="https://testserver")
    r = client.get("/login?lang=en")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert all("secure" in c.lower() for c in r.headers.get_list("set-cookie"))
    r = login(client, "a@x.fr")
    assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()


def test_plain_http_by_default(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path))
    r = login(client, "a@x.fr")
    assert "secure" not in r.headers["set-cookie"].lower()
    assert "strict-transport-security" not in client.get("/login").headers
