"""The app's settings: one pydantic-settings object (docs/settings.md lists every field).

``Settings(data_dir=..., use_ai=False)`` is built from its keywords only and never reads the process
environment (code, tests, benchmarks). :func:`load_settings` is what ``ecgpilot serve`` and its workers
use: the given values (the ``serve`` options) first, then the ``ECGPILOT_*`` environment variables, then
the defaults. A value that is not accepted is a :class:`~ecgpilot.errors.ConfigError` naming the variable
or the option, the value and what is accepted.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    ByteSize,
    Field,
    HttpUrl,
    InstanceOf,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from ecgpilot.errors import ConfigError
from ecgpilot.export.mssante import SmtpConfig
from ecgpilot.security.oidc import OIDCConfig

__all__ = ["Settings", "OIDCSettings", "SmtpSettings", "load_settings", "env_name", "settings_environ",
           "oidc_config_from_env", "smtp_config_from_env", "unknown_variables", "known_variables", "SERVE_OPTIONS",
           "OTHER_VARIABLES", "HSTS_DEFAULT_S"]

HSTS_DEFAULT_S = 365 * 86400   # `serve --hsts` without a value: one year

#: The ``ecgpilot serve`` option of each setting that has one (the others are set by their variable only).
SERVE_OPTIONS: dict[str, str] = {
    "data_dir": "--data-dir", "database_url": "--db", "max_upload_bytes": "--max-upload-bytes",
    "max_upload_files": "--max-upload-files", "secure_cookies": "--secure-cookies", "hsts_max_age_s": "--hsts",
    "session_max_age_s": "--session-max-age-s", "session_idle_s": "--session-idle-s",
    "login_attempts": "--login-attempts", "login_attempts_per_client": "--login-attempts-per-client",
    "login_window_s": "--login-window-s", "login_max_delay_s": "--login-max-delay-s", "use_ai": "--ai",
    "base_url": "--base-url", "analysis_workers": "--analysis-workers", "read_timeout_s": "--read-timeout-s",
    "trusted_proxies": "--trusted-proxies", "log_format": "--log-format",
}

#: ``ECGPILOT_*`` variables read outside :class:`Settings`: at first start, by the CLI and by the lower layers
#: (docs/settings.md, "Variables read elsewhere").
OTHER_VARIABLES = ("ECGPILOT_ADMIN_EMAIL", "ECGPILOT_ADMIN_PASSWORD", "ECGPILOT_NEW_PASSWORD", "ECGPILOT_AUDIT_KEY",
                   "ECGPILOT_AUDIT_KEY_FILE", "ECGPILOT_AUDIT_ANCHOR", "ECGPILOT_DATA", "ECGPILOT_CACHE")

# the environment load_settings() reads; None (the default) for a Settings(...) built by code: no environment
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("ecgpilot_settings_environ", default=None)


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source, over the mapping :func:`load_settings` reads (none otherwise)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            return {}
        return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _EnvSettings(BaseSettings):
    """Keywords first, then the environment of :func:`load_settings` (an empty value counts as unset)."""

    model_config = SettingsConfigDict(case_sensitive=False, env_ignore_empty=True, extra="forbid",
                                      validate_by_name=True, str_strip_whitespace=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _EnvironSource(settings_cls)


# ---- field types: each refuses with the words that end "<NAME> '<value>' ..." ------------------------------

def _http_url(value: str) -> str:
    try:
        url = HttpUrl(value)
    except ValidationError:
        raise ValueError("is not an absolute http:// or https:// URL") from None
    if not url.host:
        raise ValueError("is not an absolute http:// or https:// URL")
    return value


def _readable_file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError("is not a readable file")
    return value


def _database_url(value: str) -> str:
    """A SQLAlchemy URL; a plain file name is a SQLite database (as ``serve --db FILE``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in value:
        return f"sqlite:///{Path(value).resolve()}"
    try:
        make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError("is not a database URL (e.g. postgresql+psycopg://user@host/ecgpilot) "
                         "or a SQLite file") from None
    return value


def _comma_list(value: Any) -> Any:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _networks(value: tuple[str, ...]) -> tuple[str, ...]:
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"is not accepted: {entry!r} is not an IP address or network (give comma-separated "
                             "addresses or networks, e.g. 127.0.0.1, 10.0.0.0/24; '*' is not accepted)") from None
    return value


def _email(value: str) -> str:
    from email.utils import parseaddr

    _, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError("is not an e-mail address (e.g. ecgpilot@cabinet.mssante.fr)")
    return value


HttpUrlStr = Annotated[str, AfterValidator(_http_url)]
ReadableFile = Annotated[Path, AfterValidator(_readable_file)]
Minutes = Annotated[int, Field(ge=60)]   # seconds, at least a minute


class Settings(_EnvSettings):
    """Where the app keeps its data and how strict it is.

    ``database_url`` defaults to ``sqlite:///<data_dir>/ecgpilot.db``; ``secret_key`` signs
    the session cookie (random per process when ``None``: sessions end at restart; ``serve`` keeps one in
    ``<data_dir>/secret_key``). Login sessions are also kept server-side
    (:class:`ecgpilot.store.models.LoginSession`): logout and a password change end them, as do
    ``session_idle_s`` without use and ``session_max_age_s`` after login. HSTS turns secure cookies on
    (refused when they are turned off explicitly).
    """

    model_config = SettingsConfigDict(env_prefix="ECGPILOT_")

    data_dir: Path = Field(default_factory=lambda: Path("ecgpilot-data"),
                           validation_alias=AliasChoices("ECGPILOT_WEB_DATA"))
    database_url: Annotated[str, AfterValidator(_database_url)] | None = None
    secret_key: str | None = Field(default=None, repr=False)
    max_upload_bytes: Annotated[ByteSize, Field(gt=0)] = ByteSize(20 * 1024 * 1024)
    secure_cookies: bool = False   # cookies sent over HTTPS only (behind an HTTPS proxy)
    # Strict-Transport-Security max-age; 0 = no HSTS header
    hsts_max_age_s: int = Field(default=0, ge=0, validation_alias=AliasChoices("ECGPILOT_HSTS_MAX_AGE"))
    session_max_age_s: Minutes = 8 * 3600   # absolute lifetime of a login session (and of its cookie)
    session_idle_s: Minutes = 30 * 60       # a login session unused this long is ended
    # failed logins slow the next ones down (never a lockout): free failures per account and per
    # client within the window, then 1, 2, 4 ... s up to login_max_delay_s (security.ratelimit.LoginThrottle)
    login_attempts: int = Field(default=5, ge=1)
    login_attempts_per_client: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=900.0, gt=0)
    login_max_delay_s: float = Field(default=60.0, ge=1)
    use_ai: bool = True
    # optional OpenID Connect login (e.g. Pro Santé Connect); from ECGPILOT_OIDC_* (OIDCSettings)
    oidc: InstanceOf[OIDCConfig] | None = None
    # MSSanté sending and notice mails: the outbox is always kept; a worker sends it when smtp is set
    smtp: InstanceOf[SmtpConfig] | None = None   # from ECGPILOT_SMTP_* (SmtpSettings)
    notice_sender: Annotated[str, AfterValidator(_email)] | None = None  # From: of the notice mails (no patient data)
    base_url: HttpUrlStr | None = None  # public URL of the app, for links in notice mails
    patient_mssante_domain: str = Field(default="patient.mssante.fr", pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
    outbox_interval_s: float = Field(default=30.0, gt=0)
    integrity_check_at_start: bool = True   # SQLite PRAGMA integrity_check before serving (ecgpilot.store.health)
    audit_key_dir: Path | None = None   # where audit_key is kept (default: data_dir; $ECGPILOT_AUDIT_KEY(_FILE) first)
    # bounded uploads: bytes per request (and so per file), files per request, analyses at once, seconds each
    max_upload_files: int = Field(default=20, ge=1)
    analysis_workers: int = Field(default=2, ge=1)
    read_timeout_s: float = Field(default=20.0, ge=0)   # per uploaded file, read in a worker process (web.reader_pool); 0 = in-thread
    page_size: int = Field(default=50, ge=1)
    # read by `ecgpilot serve` (uvicorn and logging), not by the app
    trusted_proxies: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list), AfterValidator(_networks)] = ()
    log_format: Annotated[Literal["text", "json"], BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)] = "text"

    @model_validator(mode="after")
    def _hsts_needs_secure_cookies(self) -> Settings:
        if self.hsts_max_age_s and not self.secure_cookies:
            if "secure_cookies" in self.model_fields_set:
                raise ValueError("HSTS is on but secure cookies are off; turn secure cookies on (--secure-cookies, "
                                 "ECGPILOT_SECURE_COOKIES=1) or HSTS off.")
            self.secure_cookies = True   # a site sent only over HTTPS never sends its session cookie over HTTP
        return self

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(Path(self.data_dir) / 'ecgpilot.db').resolve()}"

    def proxy_options(self) -> dict[str, Any]:
        """uvicorn's proxy settings: ``X-Forwarded-For``/``-Proto`` believed only from ``trusted_proxies``, never by
        default (uvicorn would otherwise believe them from loopback, letting any local client pose as many clients
        to the login limiter)."""
        if not self.trusted_proxies:
            return {"proxy_headers": False}
        return {"proxy_headers": True, "forwarded_allow_ips": list(self.trusted_proxies)}


class OIDCSettings(_EnvSettings):
    """OpenID Connect login from ``ECGPILOT_OIDC_*``: off without an issuer; with one, the client id and secret
    and the redirect URI (``https://<host>/auth/callback``) are required. Pro Santé Connect: scope
    ``openid scope_all``, acr ``eidas1`` (sent as ``acr_values`` and required in the ID token)."""

    model_config = SettingsConfigDict(env_prefix="ECGPILOT_OIDC_")

    issuer: HttpUrlStr | None = None
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    redirect_uri: str | None = None
    scope: str = "openid email"
    acr: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> OIDCSettings:
        if self.issuer is None:
            return self
        for name in ("client_id", "client_secret", "redirect_uri"):
            if not getattr(self, name):
                var = f"ECGPILOT_OIDC_{name.upper()}"
                raise ValueError(f"ECGPILOT_OIDC_ISSUER is set but {var} is missing; set {var} "
                                 "(or unset ECGPILOT_OIDC_ISSUER to turn OIDC login off).")
        uri = str(self.redirect_uri)
        if not uri.startswith(("https://", "http://")) or not uri.rstrip("/").endswith("/auth/callback"):
            raise ValueError(f"ECGPILOT_OIDC_REDIRECT_URI {uri!r} must be this server's absolute "
                             "https://<host>/auth/callback URL (as registered with the identity provider).")
        return self

    def config(self) -> OIDCConfig | None:
        """The login client's configuration, ``None`` when OIDC is off."""
        if self.issuer is None:
            return None
        return OIDCConfig(issuer=self.issuer, client_id=str(self.client_id), client_secret=str(self.client_secret),
                          redirect_uri=str(self.redirect_uri), scope=self.scope, acr_values=self.acr,
                          required_acr=self.acr)


class SmtpSettings(_EnvSettings):
    """MSSanté / notice mail sending from ``ECGPILOT_SMTP_*``: off without a host (the outbox keeps every
    message until one is set). ``CAFILE``: the operator's CA (e.g. IGC-Santé); ``CERT`` and ``KEY``: a client
    certificate for mutual TLS; ``STARTTLS=0`` only for a local relay."""

    model_config = SettingsConfigDict(env_prefix="ECGPILOT_SMTP_")

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    user: str | None = None
    password: str | None = Field(default=None, repr=False)
    cafile: ReadableFile | None = None
    cert: ReadableFile | None = None
    key: ReadableFile | None = None
    starttls: bool = True

    @model_validator(mode="before")
    @classmethod
    def _key_needs_cert(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("key") and not data.get("cert"):
            raise ValueError("ECGPILOT_SMTP_KEY is set without ECGPILOT_SMTP_CERT; give the client certificate too "
                             "(or unset the key).")
        return data

    def config(self) -> SmtpConfig | None:
        """The sender's configuration (TLS context with the CA and client certificate), ``None`` when off."""
        if not self.host:
            return None
        ctx = None
        if self.cafile or self.cert:
            try:
                ctx = ssl.create_default_context(cafile=self.cafile)
                if self.cert:
                    ctx.load_cert_chain(self.cert, self.key)
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"ECGPILOT_SMTP_CAFILE / _CERT / _KEY cannot be loaded ({exc}); give PEM files "
                                  "(the CA, the client certificate and its key).") from None
        return SmtpConfig(host=self.host, port=self.port, starttls=self.starttls, username=self.user or None,
                          password=self.password or None, ssl_context=ctx)


# ---- names and errors -----------------------------------------------------------------------------------

def env_name(field: str, model: type[_EnvSettings] = Settings) -> str:
    """The environment variable of ``model``'s ``field`` (``ECGPILOT_<FIELD>`` unless it keeps an older name)."""
    alias = model.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    prefix = model.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


_ACCEPTED = {
    "bool_parsing": "1 or 0 (also true/false, yes/no, on/off)", "bool_type": "1 or 0",
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "finite_number": "a number",
    "byte_size": "a size in bytes, e.g. 20971520 or 20MiB", "byte_size_unit": "a size in bytes, e.g. 20971520 or 20MiB",
    "string_pattern_mismatch": "a domain name, e.g. patient.mssante.fr",   # the one pattern: patient_mssante_domain
    "string_type": "text",
}


def _accepted(error: Mapping[str, Any], field: str) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    unit = " seconds" if field.endswith("_s") else (" bytes" if field.endswith("_bytes") else "")
    if kind == "greater_than_equal":
        return f"a number of at least {ctx['ge']:g}{unit}"
    if kind == "greater_than":
        return f"a number above {ctx['gt']:g}{unit}"
    if kind == "less_than_equal":
        return f"a number of at most {ctx['le']:g}{unit}"
    if kind == "literal_error":
        return f"one of {ctx['expected']}"
    return _ACCEPTED.get(kind, str(error["msg"]))


def _config_error(exc: ValidationError, model: type[_EnvSettings], given: Mapping[str, Any]) -> ConfigError:
    """The first problem of ``exc`` in words: the variable (or, for a value in ``given``, the ``serve`` option),
    the value, what is accepted."""
    error = exc.errors()[0]
    fields = {name: name for name in model.model_fields}
    for name, info in model.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            fields.update({str(choice): name for choice in info.validation_alias.choices})
    loc = error["loc"]
    field = fields.get(str(loc[0])) if loc else None
    if field is None:   # a rule between settings: its message says it all
        reason = error.get("ctx", {}).get("error")
        return ConfigError(str(reason) if reason is not None else str(error["msg"]))
    name = SERVE_OPTIONS.get(field, field) if field in given else env_name(field, model)
    value = error["input"]
    if error["type"] == "value_error":
        return ConfigError(f"{name} {value!r} {error['ctx']['error']}.")
    return ConfigError(f"{name} {value!r} is not accepted; give {_accepted(error, field)}.")


_Model = TypeVar("_Model", bound=_EnvSettings)


def _load(model: type[_Model], given: Mapping[str, Any], environ: Mapping[str, str]) -> _Model:
    with _reading(environ):
        try:
            return model(**given)
        except ValidationError as exc:
            raise _config_error(exc, model, given) from None


def oidc_config_from_env(environ: Mapping[str, str] | None = None) -> OIDCConfig | None:
    """The OIDC login settings from ``ECGPILOT_OIDC_*`` (:class:`OIDCSettings`); ``None`` when off."""
    return _load(OIDCSettings, {}, os.environ if environ is None else environ).config()


def smtp_config_from_env(environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
    """The MSSanté / notice mail settings from ``ECGPILOT_SMTP_*`` (:class:`SmtpSettings`); ``None`` when off."""
    return _load(SmtpSettings, {}, os.environ if environ is None else environ).config()


def load_settings(given: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as ``ecgpilot serve`` makes them: ``given`` (field → value, e.g. the ``serve`` options; ``None``
    values are ignored) first, then the ``ECGPILOT_*`` variables of ``environ`` (default: the process's), then
    the defaults. Raises :class:`ConfigError` naming the option or variable, the value and what is accepted."""
    env = os.environ if environ is None else environ
    values = {k: v for k, v in (given or {}).items() if v is not None}
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; the settings are those of docs/settings.md.")
    if "oidc" not in values:
        values["oidc"] = oidc_config_from_env(env)
    if "smtp" not in values:
        values["smtp"] = smtp_config_from_env(env)
    return _load(Settings, values, env)


def known_variables() -> set[str]:
    """Every ``ECGPILOT_*`` variable the package reads (those of the settings and :data:`OTHER_VARIABLES`)."""
    names = set(OTHER_VARIABLES)
    for model in (Settings, OIDCSettings, SmtpSettings):
        names |= {env_name(field, model) for field in model.model_fields if field not in ("oidc", "smtp")}
    return names


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One sentence per ``ECGPILOT_*`` variable of ``environ`` that nothing reads (a typo is ignored otherwise),
    with the closest known name (also found from a field's name: the prefix and ``data_dir`` → ``ECGPILOT_WEB_DATA``)."""
    import difflib

    env = os.environ if environ is None else environ
    known = known_variables()
    spelt = {name: name for name in known} | {f"ECGPILOT_{f.upper()}": env_name(f) for f in Settings.model_fields}
    out = []
    for name in sorted(n for n in env if n.upper().startswith("ECGPILOT_") and n.upper() not in known):
        close = difflib.get_close_matches(name.upper(), sorted(spelt), n=1)
        hint = f"; did you mean {spelt[close[0]]}?" if close else "; the settings are listed in docs/settings.md."
        out.append(f"{name} is not an ecgpilot setting and is ignored{hint}")
    return out


def settings_environ(settings: Settings, fields: Iterable[str]) -> dict[str, str]:
    """The ``ECGPILOT_*`` variables that give ``fields`` of ``settings`` to another process's
    :func:`load_settings` (``serve --workers N`` hands the command line's settings to its workers this way)."""
    out = {}
    for field in fields:
        value = getattr(settings, field)
        if value is None or field in ("oidc", "smtp"):   # these two are read from their own variables
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(int(value)) if isinstance(value, ByteSize) else str(value)
        out[env_name(field)] = text
    return out
