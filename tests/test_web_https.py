"""Secure cookies and HSTS, from `ecgpilot serve` options and the environment (HTTPS behind a proxy)."""

from __future__ import annotations

import pytest
from _web import login, make_app
from fastapi.testclient import TestClient

from ecgpilot.cli import build_parser
from ecgpilot.errors import ConfigError
from ecgpilot.web.server import http_security_from_env


def test_defaults_leave_the_settings_alone() -> None:
    assert http_security_from_env({}) == {}


def test_environment() -> None:
    env = {"ECGPILOT_SECURE_COOKIES": "1", "ECGPILOT_HSTS_MAX_AGE": "31536000", "ECGPILOT_SESSION_IDLE_S": "900",
           "ECGPILOT_SESSION_MAX_AGE_S": "36000"}
    assert http_security_from_env(env) == {"secure_cookies": True, "hsts_max_age_s": 31536000, "session_idle_s": 900,
                                           "session_max_age_s": 36000}
    assert http_security_from_env({"ECGPILOT_HSTS_MAX_AGE": "600"}) == {"secure_cookies": True, "hsts_max_age_s": 600}
    assert http_security_from_env({"ECGPILOT_SECURE_COOKIES": "off"}) == {"secure_cookies": False}
    for bad in ({"ECGPILOT_SECURE_COOKIES": "maybe"}, {"ECGPILOT_HSTS_MAX_AGE": "-1"},
                {"ECGPILOT_SESSION_IDLE_S": "5"}, {"ECGPILOT_SECURE_COOKIES": "0", "ECGPILOT_HSTS_MAX_AGE": "600"}):
        with pytest.raises(ConfigError):
            http_security_from_env(bad)


def test_serve_options_win_over_the_environment() -> None:
    args = build_parser().parse_args(["serve", "--secure-cookies", "--hsts", "--session-idle-s", "600"])
    got = http_security_from_env({"ECGPILOT_SECURE_COOKIES": "0", "ECGPILOT_SESSION_IDLE_S": "900"},
                                 secure_cookies=args.secure_cookies, hsts_max_age_s=args.hsts,
                                 session_idle_s=args.session_idle_s, session_max_age_s=args.session_max_age_s)
    assert got == {"secure_cookies": True, "hsts_max_age_s": 365 * 86400, "session_idle_s": 600}
    args = build_parser().parse_args(["serve", "--no-secure-cookies"])
    assert http_security_from_env({"ECGPILOT_SECURE_COOKIES": "1"}, secure_cookies=args.secure_cookies) == {
        "secure_cookies": False}
    args = build_parser().parse_args(["serve"])
    assert (args.secure_cookies, args.hsts, args.session_idle_s, args.session_max_age_s) == (None, None, None, None)


def test_the_app_sends_secure_cookies_and_hsts(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, **http_security_from_env({"ECGPILOT_HSTS_MAX_AGE": "31536000"}))
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
