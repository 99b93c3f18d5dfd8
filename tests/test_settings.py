"""The app's settings (ecgpilot.web.settings): keywords in code, environment and ``serve`` options for ``serve``,
every refused value said in words, and docs/settings.md listing every setting and every variable."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from pydantic import ByteSize

from ecgpilot.cli import build_parser, main
from ecgpilot.errors import ConfigError
from ecgpilot.web.settings import (
    HSTS_DEFAULT_S,
    OTHER_VARIABLES,
    SERVE_OPTIONS,
    OIDCSettings,
    Settings,
    SmtpSettings,
    env_name,
    known_variables,
    load_settings,
    settings_environ,
    unknown_variables,
)

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024

#: the dataclass's defaults before pydantic-settings, written out (they must not move)
OLD_DEFAULTS = {"data_dir": Path("ecgpilot-data"), "database_url": None, "secret_key": None, "max_upload_bytes": 20 * MiB,
                "secure_cookies": False, "hsts_max_age_s": 0, "session_max_age_s": 28800, "session_idle_s": 1800,
                "login_attempts": 5, "login_attempts_per_client": 20, "login_window_s": 900.0, "login_max_delay_s": 60.0,
                "use_ai": True, "oidc": None, "smtp": None, "notice_sender": None, "base_url": None,
                "patient_mssante_domain": "patient.mssante.fr", "outbox_interval_s": 30.0,
                "integrity_check_at_start": True, "audit_key_dir": None, "max_upload_files": 20, "analysis_workers": 2,
                "read_timeout_s": 20.0, "page_size": 50}


def test_keyword_construction_reads_no_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("ECGPILOT_USE_AI", "0")
    monkeypatch.setenv("ECGPILOT_WEB_DATA", "/elsewhere")
    monkeypatch.setenv("ECGPILOT_SESSION_IDLE_S", "600")
    s = Settings()
    assert {k: getattr(s, k) for k in OLD_DEFAULTS} == OLD_DEFAULTS
    assert (s.trusted_proxies, s.log_format) == ((), "text")
    s = Settings(data_dir="d", use_ai=False, max_upload_bytes=1000, page_size=3)
    assert (s.data_dir, s.use_ai, s.max_upload_bytes, s.page_size, s.session_idle_s) == (Path("d"), False, 1000, 3, 1800)
    assert s.db_url() == f"sqlite:///{Path('d').resolve() / 'ecgpilot.db'}"
    assert "test-key" not in repr(Settings(secret_key="test-key"))   # secrets stay out of logs


def test_environment_of_each_kind(tmp_path) -> None:  # noqa: ANN001
    env = {"ECGPILOT_WEB_DATA": str(tmp_path / "data"), "ECGPILOT_AUDIT_KEY_DIR": str(tmp_path / "keys"),   # paths
           "ECGPILOT_USE_AI": "off", "ECGPILOT_INTEGRITY_CHECK_AT_START": "no",                            # yes/no
           "ECGPILOT_SESSION_IDLE_S": "900", "ECGPILOT_READ_TIMEOUT_S": "0", "ECGPILOT_LOGIN_WINDOW_S": "120.5",
           "ECGPILOT_MAX_UPLOAD_BYTES": "50MiB", "ECGPILOT_MAX_UPLOAD_FILES": "7", "ECGPILOT_PAGE_SIZE": "10",
           "ECGPILOT_LOGIN_ATTEMPTS": "3", "ECGPILOT_LOGIN_ATTEMPTS_PER_CLIENT": "9", "ECGPILOT_LOGIN_MAX_DELAY_S": "30",
           "ECGPILOT_SECRET_KEY": "from-the-environment", "ECGPILOT_BASE_URL": "https://ecg.cabinet.example",
           "ECGPILOT_NOTICE_SENDER": "ecgpilot@cabinet.mssante.fr", "ECGPILOT_LOG_FORMAT": "JSON",
           "ECGPILOT_PATIENT_MSSANTE_DOMAIN": "patient.example.fr", "ECGPILOT_OUTBOX_INTERVAL_S": "5",
           "ECGPILOT_ANALYSIS_WORKERS": "4", "ECGPILOT_DATABASE_URL": "", "ECGPILOT_UNRELATED": "x"}
    s = load_settings(environ=env)
    assert (s.data_dir, s.audit_key_dir) == (tmp_path / "data", tmp_path / "keys")
    assert (s.use_ai, s.integrity_check_at_start, s.secure_cookies) == (False, False, False)
    assert (s.session_idle_s, s.session_max_age_s, s.read_timeout_s, s.login_window_s) == (900, 28800, 0.0, 120.5)
    assert (s.max_upload_bytes, s.max_upload_files, s.page_size, s.analysis_workers) == (50 * MiB, 7, 10, 4)
    assert (s.login_attempts, s.login_attempts_per_client, s.login_max_delay_s, s.outbox_interval_s) == (3, 9, 30.0, 5.0)
    assert (s.secret_key, s.base_url, s.notice_sender) == ("from-the-environment", "https://ecg.cabinet.example",
                                                           "ecgpilot@cabinet.mssante.fr")
    assert (s.log_format, s.patient_mssante_domain) == ("json", "patient.example.fr")
    assert s.database_url is None and s.db_url() == f"sqlite:///{tmp_path / 'data' / 'ecgpilot.db'}"   # empty = unset
    assert load_settings(environ={"ECGPILOT_MAX_UPLOAD_BYTES": "1000"}).max_upload_bytes == 1000
    assert load_settings(environ={"ECGPILOT_DATABASE_URL": str(tmp_path / "x.db")}).database_url == \
        f"sqlite:///{tmp_path / 'x.db'}"
    pg = "postgresql+psycopg://ecgpilot:pw@db:5432/ecgpilot"
    assert load_settings(environ={"ECGPILOT_DATABASE_URL": pg}).db_url() == pg
    for text, value in (("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("FALSE", False)):
        assert load_settings(environ={"ECGPILOT_SECURE_COOKIES": text}).secure_cookies is value


def test_https_settings_from_the_environment() -> None:
    s = load_settings(environ={"ECGPILOT_SECURE_COOKIES": "1", "ECGPILOT_HSTS_MAX_AGE": "31536000",
                               "ECGPILOT_SESSION_IDLE_S": "900", "ECGPILOT_SESSION_MAX_AGE_S": "36000",
                               "ECGPILOT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/24,::1"})
    assert (s.secure_cookies, s.hsts_max_age_s, s.session_idle_s, s.session_max_age_s) == (True, 31536000, 900, 36000)
    assert s.proxy_options() == {"proxy_headers": True, "forwarded_allow_ips": ["127.0.0.1", "10.0.0.0/24", "::1"]}
    assert load_settings(environ={}).proxy_options() == {"proxy_headers": False}
    hsts_only = load_settings(environ={"ECGPILOT_HSTS_MAX_AGE": "600"})   # HSTS turns secure cookies on
    assert (hsts_only.secure_cookies, hsts_only.hsts_max_age_s) == (True, 600)
    assert Settings(hsts_max_age_s=600).secure_cookies is True


def test_oidc_from_the_environment() -> None:
    env = {"ECGPILOT_OIDC_ISSUER": "https://psc.example/realms/esante", "ECGPILOT_OIDC_CLIENT_ID": "ecgpilot",
           "ECGPILOT_OIDC_CLIENT_SECRET": "s3cret", "ECGPILOT_OIDC_REDIRECT_URI": "https://ecg.example/auth/callback",
           "ECGPILOT_OIDC_SCOPE": "openid scope_all", "ECGPILOT_OIDC_ACR": "eidas1"}
    cfg = load_settings(environ=env).oidc
    assert cfg is not None and (cfg.issuer, cfg.client_id, cfg.client_secret, cfg.redirect_uri) == (
        "https://psc.example/realms/esante", "ecgpilot", "s3cret", "https://ecg.example/auth/callback")
    assert (cfg.scope, cfg.acr_values, cfg.required_acr) == ("openid scope_all", "eidas1", "eidas1")
    assert load_settings(environ={k: v for k, v in env.items() if k not in ("ECGPILOT_OIDC_SCOPE", "ECGPILOT_OIDC_ACR")}
                         ).oidc.scope == "openid email"
    assert load_settings(environ={}).oidc is None
    assert "s3cret" not in repr(OIDCSettings(issuer=None, client_secret="s3cret"))


def test_smtp_from_the_environment(tmp_path) -> None:  # noqa: ANN001
    from test_mssante import _self_signed

    cert, key = _self_signed(tmp_path)
    env = {"ECGPILOT_SMTP_HOST": "smtp.mssante.fr", "ECGPILOT_SMTP_PORT": "465", "ECGPILOT_SMTP_USER": "gp",
           "ECGPILOT_SMTP_PASSWORD": "pw", "ECGPILOT_SMTP_STARTTLS": "0", "ECGPILOT_SMTP_CAFILE": str(cert),
           "ECGPILOT_SMTP_CERT": str(cert), "ECGPILOT_SMTP_KEY": str(key)}
    cfg = load_settings(environ=env).smtp
    assert cfg is not None and (cfg.host, cfg.port, cfg.username, cfg.password, cfg.starttls) == (
        "smtp.mssante.fr", 465, "gp", "pw", False)
    assert isinstance(cfg.ssl_context, ssl.SSLContext) and cfg.ssl_context.cert_store_stats()["x509"] == 1
    plain = load_settings(environ={"ECGPILOT_SMTP_HOST": "relay"}).smtp
    assert (plain.port, plain.starttls, plain.username, plain.ssl_context) == (587, True, None, None)
    assert load_settings(environ={}).smtp is None
    assert SmtpSettings().host is None   # keyword construction: no environment


def test_serve_options_win_over_the_environment(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """The real ``ecgpilot serve`` down to uvicorn: the app it would run has the options' values, else the
    environment's, else the defaults."""
    import uvicorn

    ran: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    for name in [k for k in __import__("os").environ if k.startswith("ECGPILOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ECGPILOT_WEB_DATA", str(tmp_path / "from-env"))
    monkeypatch.setenv("ECGPILOT_SECURE_COOKIES", "0")
    monkeypatch.setenv("ECGPILOT_SESSION_IDLE_S", "900")
    monkeypatch.setenv("ECGPILOT_LOGIN_ATTEMPTS", "9")
    monkeypatch.setenv("ECGPILOT_TRUSTED_PROXIES", "10.0.0.1")
    monkeypatch.setenv("ECGPILOT_ADMIN_PASSWORD", "correct horse battery")
    monkeypatch.setenv("ECGPILOT_SESSION_MAX_AGE", "60")   # a typo: said, not silently ignored
    rc = main(["serve", "--port", "8123", "--data-dir", str(tmp_path / "from-cli"), "--secure-cookies", "--hsts",
               "--session-idle-s", "600", "--max-upload-bytes", "5MiB", "--login-attempts-per-client", "4",
               "--no-ai", "--trusted-proxies", "127.0.0.1", "--read-timeout-s", "0"])
    assert rc == 0 and ran["port"] == 8123
    s = ran["app"].state.settings
    assert s.data_dir == (tmp_path / "from-cli").resolve() and (tmp_path / "from-cli" / "ecgpilot.db").exists()
    assert (s.secure_cookies, s.hsts_max_age_s, s.session_idle_s) == (True, HSTS_DEFAULT_S, 600)        # options
    assert (s.max_upload_bytes, s.login_attempts_per_client, s.use_ai, s.read_timeout_s) == (5 * MiB, 4, False, 0)
    assert s.login_attempts == 9 and s.session_max_age_s == 28800                                      # env, default
    assert ran["proxy_headers"] is True and ran["forwarded_allow_ips"] == ["127.0.0.1"]
    assert s.secret_key == (tmp_path / "from-cli" / "secret_key").read_text().strip()
    assert ("ecgpilot: warning: ECGPILOT_SESSION_MAX_AGE is not an ecgpilot setting and is ignored; "
            "did you mean ECGPILOT_SESSION_MAX_AGE_S?") in capsys.readouterr().err


def test_unknown_variables_are_named() -> None:
    assert unknown_variables({"ECGPILOT_SECURE_COOKIES": "1", "ECGPILOT_OIDC_ISSUER": "x", "PATH": "/bin"}) == []
    said = unknown_variables({"ECGPILOT_SECURE_COOKIE": "1", "ECGPILOT_ZZZZZZZZZZZZ": "1", "ECGPILOT_DATA_DIR": "d",
                              "ECGPILOT_HSTS_MAX_AGE_S": "60"})
    assert said == ["ECGPILOT_DATA_DIR is not an ecgpilot setting and is ignored; did you mean ECGPILOT_WEB_DATA?",
                    "ECGPILOT_HSTS_MAX_AGE_S is not an ecgpilot setting and is ignored; did you mean ECGPILOT_HSTS_MAX_AGE?",
                    "ECGPILOT_SECURE_COOKIE is not an ecgpilot setting and is ignored; did you mean ECGPILOT_SECURE_COOKIES?",
                    "ECGPILOT_ZZZZZZZZZZZZ is not an ecgpilot setting and is ignored; the settings are listed in "
                    "docs/settings.md."]


@pytest.mark.parametrize(("environ", "argv", "said"), [
    ({"ECGPILOT_SECURE_COOKIES": "maybe"}, [], "ECGPILOT_SECURE_COOKIES 'maybe' is not accepted; give 1 or 0"),
    ({"ECGPILOT_HSTS_MAX_AGE": "-1"}, [], "ECGPILOT_HSTS_MAX_AGE '-1' is not accepted; give a number of at least 0 seconds"),
    ({"ECGPILOT_SESSION_IDLE_S": "5"}, [], "ECGPILOT_SESSION_IDLE_S '5' is not accepted; give a number of at least 60 seconds"),
    ({}, ["--session-max-age-s", "59"], "--session-max-age-s '59' is not accepted; give a number of at least 60 seconds"),
    ({}, ["--session-idle-s", "soon"], "--session-idle-s 'soon' is not accepted; give a whole number"),
    ({"ECGPILOT_SECURE_COOKIES": "0", "ECGPILOT_HSTS_MAX_AGE": "600"}, [], "HSTS is on but secure cookies are off"),
    ({}, ["--no-secure-cookies", "--hsts"], "HSTS is on but secure cookies are off"),
    ({"ECGPILOT_MAX_UPLOAD_BYTES": "lots"}, [], "ECGPILOT_MAX_UPLOAD_BYTES 'lots' is not accepted; give a size in bytes"),
    ({}, ["--max-upload-bytes", "0"], "--max-upload-bytes '0' is not accepted; give a number above 0 bytes"),
    ({}, ["--max-upload-files", "0"], "--max-upload-files '0' is not accepted; give a number of at least 1"),
    ({"ECGPILOT_LOGIN_ATTEMPTS": "0"}, [], "ECGPILOT_LOGIN_ATTEMPTS '0' is not accepted; give a number of at least 1"),
    ({"ECGPILOT_LOGIN_WINDOW_S": "0"}, [], "ECGPILOT_LOGIN_WINDOW_S '0' is not accepted; give a number above 0 seconds"),
    ({"ECGPILOT_LOGIN_MAX_DELAY_S": "0.5"}, [], "ECGPILOT_LOGIN_MAX_DELAY_S '0.5' is not accepted; give a number of at least 1 seconds"),
    ({"ECGPILOT_READ_TIMEOUT_S": "-1"}, [], "ECGPILOT_READ_TIMEOUT_S '-1' is not accepted; give a number of at least 0 seconds"),
    ({"ECGPILOT_ANALYSIS_WORKERS": "two"}, [], "ECGPILOT_ANALYSIS_WORKERS 'two' is not accepted; give a whole number"),
    ({"ECGPILOT_PAGE_SIZE": "0"}, [], "ECGPILOT_PAGE_SIZE '0' is not accepted; give a number of at least 1"),
    ({"ECGPILOT_OUTBOX_INTERVAL_S": "0"}, [], "ECGPILOT_OUTBOX_INTERVAL_S '0' is not accepted; give a number above 0 seconds"),
    ({"ECGPILOT_USE_AI": "sometimes"}, [], "ECGPILOT_USE_AI 'sometimes' is not accepted; give 1 or 0"),
    ({"ECGPILOT_INTEGRITY_CHECK_AT_START": "2"}, [], "ECGPILOT_INTEGRITY_CHECK_AT_START '2' is not accepted; give 1 or 0"),
    ({"ECGPILOT_TRUSTED_PROXIES": "*"}, [], "ECGPILOT_TRUSTED_PROXIES '*' is not accepted: '*' is not an IP address"),
    ({}, ["--trusted-proxies", "10.0.0.1,proxy.local"], "'proxy.local' is not an IP address or network"),
    ({}, ["--trusted-proxies", "10.0.0.0/99"], "--trusted-proxies '10.0.0.0/99' is not accepted"),
    ({"ECGPILOT_BASE_URL": "ecg.cabinet.example"}, [], "ECGPILOT_BASE_URL 'ecg.cabinet.example' is not an absolute http"),
    ({"ECGPILOT_NOTICE_SENDER": "cabinet"}, [], "ECGPILOT_NOTICE_SENDER 'cabinet' is not an e-mail address"),
    ({"ECGPILOT_PATIENT_MSSANTE_DOMAIN": "not a domain"}, [], "ECGPILOT_PATIENT_MSSANTE_DOMAIN 'not a domain' is not accepted; give a domain name"),
    ({"ECGPILOT_LOG_FORMAT": "xml"}, [], "ECGPILOT_LOG_FORMAT 'xml' is not accepted; give one of 'text' or 'json'"),
    ({"ECGPILOT_DATABASE_URL": "postgresql://u@db:port/x"}, [], "ECGPILOT_DATABASE_URL 'postgresql://u@db:port/x' is not a database URL"),
    ({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_PORT": "abc"}, [], "ECGPILOT_SMTP_PORT 'abc' is not accepted; give a whole number"),
    ({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_PORT": "70000"}, [], "ECGPILOT_SMTP_PORT '70000' is not accepted; give a number of at most 65535"),
    ({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_STARTTLS": "maybe"}, [], "ECGPILOT_SMTP_STARTTLS 'maybe' is not accepted"),
    ({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_CAFILE": "/no/such/ca.pem"}, [], "ECGPILOT_SMTP_CAFILE '/no/such/ca.pem' is not a readable file"),
    ({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_KEY": "/no/key.pem"}, [], "ECGPILOT_SMTP_KEY is set without ECGPILOT_SMTP_CERT"),
    ({"ECGPILOT_OIDC_ISSUER": "https://idp.example"}, [], "ECGPILOT_OIDC_ISSUER is set but ECGPILOT_OIDC_CLIENT_ID is missing"),
    ({"ECGPILOT_OIDC_ISSUER": "idp.example", "ECGPILOT_OIDC_CLIENT_ID": "c", "ECGPILOT_OIDC_CLIENT_SECRET": "s",
      "ECGPILOT_OIDC_REDIRECT_URI": "https://ecg.example/auth/callback"}, [], "ECGPILOT_OIDC_ISSUER 'idp.example' is not an absolute http"),
    ({"ECGPILOT_OIDC_ISSUER": "https://idp.example", "ECGPILOT_OIDC_CLIENT_ID": "c", "ECGPILOT_OIDC_CLIENT_SECRET": "s",
      "ECGPILOT_OIDC_REDIRECT_URI": "https://ecg.example/login"}, [], "must be this server's absolute https://<host>/auth/callback"),
])
def test_invalid_values_refused_in_words(environ, argv, said, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """Each bad value is refused before anything starts, naming the variable or option, the value and what is
    accepted: by load_settings, and by ``ecgpilot serve`` as one line on stderr, status 2, no traceback."""
    import uvicorn

    given = {k: v for k, v in vars(build_parser().parse_args(["serve", *argv])).items()
             if k in Settings.model_fields and v is not None}
    with pytest.raises(ConfigError) as err:
        load_settings(given, environ)
    assert said in str(err.value)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("started despite a bad setting"))
    for name in [k for k in __import__("os").environ if k.startswith("ECGPILOT_")]:
        monkeypatch.delenv(name)
    for name, value in (environ | {"ECGPILOT_WEB_DATA": str(tmp_path / "data")}).items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("ecgpilot: error: ") and said in err_text and "Traceback" not in err_text
    assert not (tmp_path / "data").exists()   # refused before the data folder was touched


def test_workers_get_the_same_settings_through_the_environment(tmp_path) -> None:  # noqa: ANN001
    """``serve --workers N``: what the parent had from its command line, a worker rebuilds from the variables."""
    given = {"data_dir": str(tmp_path), "secure_cookies": True, "hsts_max_age_s": 600, "session_idle_s": 600,
             "max_upload_bytes": "3MiB", "use_ai": False, "trusted_proxies": "10.0.0.1, 10.0.1.0/24",
             "login_window_s": 60.5, "database_url": f"sqlite:///{tmp_path / 'x.db'}", "log_format": "json"}
    parent = load_settings(given, environ={})
    env = settings_environ(parent, set(given))
    assert env["ECGPILOT_HSTS_MAX_AGE"] == "600" and env["ECGPILOT_MAX_UPLOAD_BYTES"] == str(3 * MiB)
    worker = load_settings(environ=env)
    assert {k: getattr(worker, k) for k in given} == {k: getattr(parent, k) for k in given}


def test_serve_options_match_the_settings() -> None:
    """Each settings option of ``serve`` stores its field, under the name SERVE_OPTIONS (and the errors) give."""
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]   # noqa: SLF001
    options = {a.dest: a.option_strings[0] for a in serve._actions if a.dest in Settings.model_fields}  # noqa: SLF001
    assert options == SERVE_OPTIONS
    assert int(serve.parse_args(["--hsts"]).hsts_max_age_s) == HSTS_DEFAULT_S == 365 * 86400
    args = serve.parse_args([])
    assert all(getattr(args, f) is None for f in SERVE_OPTIONS)   # not given: the variable or the default decides
    assert isinstance(Settings(max_upload_bytes=5).max_upload_bytes, ByteSize)


# ---- docs/settings.md ---------------------------------------------------------------------------------------

def _doc_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "settings.md").read_text()
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _variables_read_by_the_package() -> set[str]:
    """Every environment variable named in src/ecgpilot (an ``ECGPILOT_*`` name, or one read with
    ``environ.get`` / ``getenv``), plus those pydantic-settings reads for the settings' fields."""
    names: set[str] = set()
    for path in (ROOT / "src" / "ecgpilot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= {n for n in re.findall(r"ECGPILOT_[A-Z0-9_]+", text) if not n.endswith("_")}   # not "ECGPILOT_SMTP_*"
        names |= set(re.findall(r"(?:environ\.get|getenv|env\.get)\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
    for model in (Settings, OIDCSettings, SmtpSettings):
        names |= {env_name(f, model) for f in model.model_fields if f not in ("oidc", "smtp")}
    return names


def test_the_doc_lists_every_setting_and_variable() -> None:
    rows = _doc_rows()
    first = {re.sub(r"`", "", r[0]): r for r in rows}
    for field in Settings.model_fields:
        assert field in first, f"docs/settings.md has no row for Settings.{field}"
        row = first[field]
        if field not in ("oidc", "smtp"):
            assert f"`{env_name(field)}`" == row[1], (field, row[1])
        option = SERVE_OPTIONS.get(field)
        assert (option is None and row[2] == "—") or (option is not None and row[2].startswith(f"`{option}")), row
    for prefix, model in (("oidc", OIDCSettings), ("smtp", SmtpSettings)):
        for field in model.model_fields:
            assert first[f"{prefix}.{field}"][1] == f"`{env_name(field, model)}`"
    documented = {m for r in rows for cell in r[:2] for m in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    missing = _variables_read_by_the_package() - documented
    assert not missing, f"docs/settings.md does not document {sorted(missing)}"
    # and the names serve knows (it warns about the others) are exactly the documented ECGPILOT_* ones
    assert known_variables() == {n for n in documented if n.startswith("ECGPILOT_")} >= set(OTHER_VARIABLES)
    assert _variables_read_by_the_package() - {"RAY_ADDRESS", "XDG_CACHE_HOME"} <= known_variables()
    assert "ECGPILOT_SMTP_PORT" in documented and "RAY_ADDRESS" in documented and "ECGPILOT_AUDIT_KEY" in documented


def test_deploy_doc_links_the_table() -> None:
    assert "settings.md" in (ROOT / "docs" / "deploy.md").read_text()
