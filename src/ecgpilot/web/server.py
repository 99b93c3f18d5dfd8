"""``ecgpilot serve``: run the web app on embedded defaults.

Data in ``./ecgpilot-data/`` (SQLite database, original files, session key), schema
migrated on start. On first run, when no user exists, an admin account is created
from ``ECGPILOT_ADMIN_EMAIL`` / ``ECGPILOT_ADMIN_PASSWORD`` or with a generated
password printed once. The URL to open is printed.

OpenID Connect login (e.g. Pro Santé Connect) is turned on by ``ECGPILOT_OIDC_ISSUER``, see
:func:`oidc_config_from_env`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ecgpilot.errors import ConfigError
from ecgpilot.export.mssante import SmtpConfig
from ecgpilot.security.oidc import OIDCConfig
from ecgpilot.store import add_user
from ecgpilot.store.models import User
from ecgpilot.web.app import create_app
from ecgpilot.web.settings import Settings

__all__ = ["serve", "ensure_first_admin", "load_secret_key", "create_user", "oidc_config_from_env", "smtp_config_from_env",
           "http_security_from_env", "change_password", "HSTS_DEFAULT_S", "proxy_options"]

HSTS_DEFAULT_S = 365 * 86400   # `--hsts` without a value: one year


def load_secret_key(data_dir: Path) -> str:
    """The session-signing key kept in ``data_dir/secret_key`` (created, mode 0600, if absent)."""
    path = data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")   # written whole, then linked in place:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # workers starting at once
        with os.fdopen(fd, "w") as f:                                    # share the first one's key
            f.write(key)
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink()
    except OSError as exc:   # a read-only or full disk, a missing permission: said, not a traceback
        from ecgpilot.store.health import storage_fault

        fault = storage_fault(exc)
        where = f"the data folder {data_dir} (its session key {path.name})"
        if fault is not None:
            raise type(fault)(f"{where} cannot be written ({exc.strerror}): {fault}", fr=fault.fr) from None
        raise ConfigError(f"{where} cannot be used ({exc.strerror}); check the folder and its permissions.") from None
    return key


def ensure_first_admin(sessions, email: str | None = None, password: str | None = None) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """Create the first account (role ``admin``, practice "Cabinet") when there is no user.

    Returns ``(email, password)`` when created (the password generated if not given), else ``None``.
    """
    with sessions() as db:
        if db.scalar(select(func.count()).select_from(User)):
            return None
        email = email or "admin@ecgpilot.local"
        password = password or secrets.token_urlsafe(12)
        add_user(db, email, password, name="Administrateur", role="admin", practice="Cabinet")
        db.commit()
    return email, password


def _database_url(db: str | None, data_dir: Path) -> str:
    """``db`` (a URL or a SQLite file), else ``$ECGPILOT_DATABASE_URL`` (keeps a password out of the process's
    arguments), else SQLite in the data folder."""
    db = db or os.environ.get("ECGPILOT_DATABASE_URL") or None
    if db and "://" not in db:
        return f"sqlite:///{Path(db).resolve()}"
    return db or f"sqlite:///{data_dir / 'ecgpilot.db'}"


def change_password(email: str, password: str, *, db: str | None = None, actor: str = "cli-admin") -> int:
    """Set an account's password and end all its login sessions (audited); for ``ecgpilot user passwd``.

    Returns the number of sessions ended. Raises :class:`ConfigError` for an unknown account or a short password.
    """
    from sqlalchemy import select

    from ecgpilot import audit
    from ecgpilot.store import migrate, open_database
    from ecgpilot.store.models import User
    from ecgpilot.store.users import end_user_sessions, set_password

    data_dir = Path(os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data")).resolve()
    engine, sessions = open_database(_database_url(db, data_dir))
    migrate(engine)
    audit.open_audit(engine)
    try:
        with sessions() as s:
            user = s.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                raise ConfigError(f"no account with e-mail {email.strip().lower()!r}.")
            live = end_user_sessions(s, user.id, "password_changed")
            set_password(s, user, password)
            audit.append(s.connection(), actor_id=actor, actor_role="admin", action="admin", target=f"user:{user.id}",
                         details={"operation": "set_password", "sessions_ended": live})
            s.commit()
    finally:
        engine.dispose()
    return live


def create_user(email: str, password: str, *, name: str = "", role: str = "gp", practice: str = "Cabinet",
                db: str | None = None, rpps: str | None = None) -> None:
    """Add an account to the app's database (migrated first); for ``ecgpilot user add``."""
    from ecgpilot.store import migrate, open_database

    data_dir = Path(os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data")).resolve()
    engine, sessions = open_database(_database_url(db, data_dir))
    migrate(engine)
    with sessions() as s:
        user = add_user(s, email, password, name=name, role=role, practice=practice)
        if rpps is not None:
            if not (rpps.isdigit() and len(rpps) == 11):
                raise ConfigError(f"RPPS {rpps!r} is not valid: 11 digits expected.")
            user.rpps = rpps
        s.commit()
    engine.dispose()


def oidc_config_from_env(environ: Mapping[str, str] | None = None) -> OIDCConfig | None:
    """The OIDC login settings from ``ECGPILOT_OIDC_*`` variables; ``None`` when ``ECGPILOT_OIDC_ISSUER`` is unset.

    Required with the issuer: ``ECGPILOT_OIDC_CLIENT_ID``, ``ECGPILOT_OIDC_CLIENT_SECRET``,
    ``ECGPILOT_OIDC_REDIRECT_URI`` (``https://<host>/auth/callback``). Optional: ``ECGPILOT_OIDC_SCOPE``
    (default ``openid email``; Pro Santé Connect: ``openid scope_all``) and ``ECGPILOT_OIDC_ACR``
    (sent as ``acr_values`` and required in the ID token; Pro Santé Connect: ``eidas1``).
    """
    env = os.environ if environ is None else environ
    issuer = env.get("ECGPILOT_OIDC_ISSUER", "").strip()
    if not issuer:
        return None
    values = {}
    for name in ("ECGPILOT_OIDC_CLIENT_ID", "ECGPILOT_OIDC_CLIENT_SECRET", "ECGPILOT_OIDC_REDIRECT_URI"):
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(f"ECGPILOT_OIDC_ISSUER is set but {name} is missing; set {name} "
                              "(or unset ECGPILOT_OIDC_ISSUER to turn OIDC login off).")
        values[name] = value
    redirect_uri = values["ECGPILOT_OIDC_REDIRECT_URI"]
    if not redirect_uri.startswith(("https://", "http://")) or not redirect_uri.rstrip("/").endswith("/auth/callback"):
        raise ConfigError(f"ECGPILOT_OIDC_REDIRECT_URI {redirect_uri!r} must be this server's absolute "
                          "https://<host>/auth/callback URL (as registered with the identity provider).")
    if not issuer.startswith(("https://", "http://")):
        raise ConfigError(f"ECGPILOT_OIDC_ISSUER {issuer!r} must be the provider's https:// issuer URL.")
    acr = env.get("ECGPILOT_OIDC_ACR", "").strip() or None
    return OIDCConfig(issuer=issuer, client_id=values["ECGPILOT_OIDC_CLIENT_ID"],
                      client_secret=values["ECGPILOT_OIDC_CLIENT_SECRET"], redirect_uri=redirect_uri,
                      scope=env.get("ECGPILOT_OIDC_SCOPE", "").strip() or "openid email", acr_values=acr, required_acr=acr)


def smtp_config_from_env(environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
    """The MSSanté / notice mail settings from ``ECGPILOT_SMTP_*``; ``None`` when ``ECGPILOT_SMTP_HOST`` is unset.

    ``ECGPILOT_SMTP_PORT`` (default 587), ``ECGPILOT_SMTP_USER`` / ``ECGPILOT_SMTP_PASSWORD``,
    ``ECGPILOT_SMTP_CAFILE`` (the operator's CA, e.g. IGC-Santé), ``ECGPILOT_SMTP_CERT`` and
    ``ECGPILOT_SMTP_KEY`` (client certificate for mutual TLS), ``ECGPILOT_SMTP_STARTTLS=0`` only for
    a local relay. Without it the outbox keeps every message until a server is configured.
    """
    import ssl

    env = os.environ if environ is None else environ
    host = env.get("ECGPILOT_SMTP_HOST", "").strip()
    if not host:
        return None
    raw_port = env.get("ECGPILOT_SMTP_PORT", "587").strip()
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError(f"ECGPILOT_SMTP_PORT {raw_port!r} is not a port number (1-65535; MSSanté uses 587).")
    starttls = env.get("ECGPILOT_SMTP_STARTTLS", "1").strip().lower() not in ("0", "false", "no")
    ctx = None
    cafile, cert, key = (env.get(f"ECGPILOT_SMTP_{k}", "").strip() or None for k in ("CAFILE", "CERT", "KEY"))
    if key and not cert:
        raise ConfigError("ECGPILOT_SMTP_KEY is set without ECGPILOT_SMTP_CERT; give the client certificate too "
                          "(or unset the key).")
    if cafile or cert:
        for name, value in (("ECGPILOT_SMTP_CAFILE", cafile), ("ECGPILOT_SMTP_CERT", cert), ("ECGPILOT_SMTP_KEY", key)):
            if value and not Path(value).is_file():
                raise ConfigError(f"{name} {value!r} is not a readable file.")
        ctx = ssl.create_default_context(cafile=cafile)
        if cert:
            ctx.load_cert_chain(cert, key)
    return SmtpConfig(host=host, port=int(raw_port), starttls=starttls, username=env.get("ECGPILOT_SMTP_USER") or None,
                      password=env.get("ECGPILOT_SMTP_PASSWORD") or None, ssl_context=ctx)


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; give 1 or 0.")


def _env_seconds(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds (at least {minimum}).")
    return int(raw)


def http_security_from_env(environ: Mapping[str, str] | None = None, *, secure_cookies: bool | None = None,
                           hsts_max_age_s: int | None = None, session_idle_s: int | None = None,
                           session_max_age_s: int | None = None) -> dict[str, Any]:
    """Cookie, HSTS and session-timeout settings: the ``serve`` options when given, else
    ``ECGPILOT_SECURE_COOKIES`` (1/0), ``ECGPILOT_HSTS_MAX_AGE`` (seconds, 0 = off),
    ``ECGPILOT_SESSION_IDLE_S`` and ``ECGPILOT_SESSION_MAX_AGE_S``, else the defaults of :class:`Settings`.
    Returns the :class:`Settings` fields to set. HSTS without secure cookies is refused (a site sent
    only over HTTPS must not send its session cookie over HTTP)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    secure = secure_cookies if secure_cookies is not None else _env_bool(env, "ECGPILOT_SECURE_COOKIES")
    hsts = hsts_max_age_s if hsts_max_age_s is not None else _env_seconds(env, "ECGPILOT_HSTS_MAX_AGE", 0)
    idle = session_idle_s if session_idle_s is not None else _env_seconds(env, "ECGPILOT_SESSION_IDLE_S", 60)
    age = session_max_age_s if session_max_age_s is not None else _env_seconds(env, "ECGPILOT_SESSION_MAX_AGE_S", 60)
    for name, value, minimum in (("session idle timeout", idle, 60), ("session lifetime", age, 60), ("HSTS max-age", hsts, 0)):
        if value is not None and value < minimum:
            raise ConfigError(f"{name} {value} s is too short; give at least {minimum} s.")
    if hsts and secure is False:
        raise ConfigError("HSTS is on but secure cookies are off; turn secure cookies on (--secure-cookies, "
                          "ECGPILOT_SECURE_COOKIES=1) or HSTS off.")
    if hsts:
        secure = True
    for key, value in (("secure_cookies", secure), ("hsts_max_age_s", hsts), ("session_idle_s", idle),
                       ("session_max_age_s", age)):
        if value is not None:
            out[key] = value
    return out


def proxy_options(trusted: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """uvicorn's proxy settings: ``X-Forwarded-For``/``-Proto`` are believed only from the declared
    proxies (``--trusted-proxies`` or ``ECGPILOT_TRUSTED_PROXIES``: comma-separated IPs or networks),
    never by default (uvicorn would otherwise believe them from loopback, letting any local client
    pose as many clients to the login limiter)."""
    import ipaddress

    env = os.environ if environ is None else environ
    raw = trusted if trusted is not None else env.get("ECGPILOT_TRUSTED_PROXIES", "")
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"trusted proxy {entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/24); "
                              "'*' is not accepted.") from None
    if not entries:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": entries}


def _settings_from_env(db: str | None = None, **security_options: Any) -> Settings:
    """The app's settings as ``serve`` makes them: the data folder ``$ECGPILOT_WEB_DATA``, the database, the
    session key, OIDC, SMTP and the HTTP security options (arguments first, then the environment)."""
    data_dir = Path(os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data")).resolve()
    security = http_security_from_env(**security_options)
    return Settings(data_dir=data_dir, database_url=_database_url(db, data_dir), secret_key=load_secret_key(data_dir),
                    oidc=oidc_config_from_env(), smtp=smtp_config_from_env(),
                    notice_sender=os.environ.get("ECGPILOT_NOTICE_SENDER") or None,
                    base_url=os.environ.get("ECGPILOT_BASE_URL") or None, **security)


def worker_app() -> Any:
    """One worker's app when ``serve --workers N`` runs several processes (uvicorn calls it in each):
    the same settings as the parent, passed through the environment."""
    from ecgpilot.web.access_log import configure_logging

    configure_logging(os.environ.get("ECGPILOT_LOG_FORMAT"))
    return create_app(_settings_from_env())


def serve(host: str = "127.0.0.1", port: int = 8000, db: str | None = None, *, secure_cookies: bool | None = None,
          hsts_max_age_s: int | None = None, session_idle_s: int | None = None,
          session_max_age_s: int | None = None, trusted_proxies: str | None = None, workers: int = 1) -> int:
    """Start the web app (blocking); ``db`` is a SQLAlchemy URL (default ``$ECGPILOT_DATABASE_URL``, else
    SQLite under ./ecgpilot-data); the HTTP security options as :func:`http_security_from_env`.
    ``workers`` > 1 runs that many processes on the same database and data folder (PostgreSQL advised)."""
    import uvicorn

    if workers < 1:
        raise ConfigError(f"--workers {workers} is not accepted; give 1 or more.")
    from ecgpilot.web.access_log import configure_logging

    configure_logging(os.environ.get("ECGPILOT_LOG_FORMAT"))   # JSON lines with ECGPILOT_LOG_FORMAT=json
    proxies = proxy_options(trusted_proxies)
    options = dict(secure_cookies=secure_cookies, hsts_max_age_s=hsts_max_age_s,
                   session_idle_s=session_idle_s, session_max_age_s=session_max_age_s)
    settings = _settings_from_env(db, **options)
    app = create_app(settings)
    created = ensure_first_admin(app.state.sessions, os.environ.get("ECGPILOT_ADMIN_EMAIL"),
                                 os.environ.get("ECGPILOT_ADMIN_PASSWORD"))
    if created:
        shown = created[1] if not os.environ.get("ECGPILOT_ADMIN_PASSWORD") else "(from ECGPILOT_ADMIN_PASSWORD)"
        print(f"First run: admin account {created[0]} created, password: {shown}", flush=True)
        print("Log in with it, then add the doctors (role gp or cardiologist) under /admin/users.", flush=True)
    if settings.smtp is not None:
        print(f"MSSanté sending on: {settings.smtp.host}:{settings.smtp.port} (outbox every {settings.outbox_interval_s:.0f} s)",
              flush=True)
    else:
        print("MSSanté sending off (set ECGPILOT_SMTP_HOST): reports to send are kept in the outbox.", flush=True)
    if settings.oidc is not None:
        print(f"OIDC login on: issuer {settings.oidc.issuer}, callback {settings.oidc.redirect_uri}", flush=True)
    if settings.secure_cookies:
        print(f"Secure cookies on (HTTPS only){f', HSTS max-age {settings.hsts_max_age_s} s' if settings.hsts_max_age_s else ''}: "
              "serve it behind an HTTPS proxy.", flush=True)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    print(f"ecgpilot is running: open http://{shown_host}:{port}/ in your browser (Ctrl+C to stop)", flush=True)
    if proxies["proxy_headers"]:
        print(f"X-Forwarded-For believed from: {', '.join(proxies['forwarded_allow_ips'])}", flush=True)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **proxies)
        return 0
    # several processes: each builds its app from the environment (the first start above made the schema,
    # the keys and the first admin; the workers open the same instance)
    app.state.engine.dispose()
    os.environ["ECGPILOT_WEB_DATA"] = str(settings.data_dir)
    os.environ["ECGPILOT_DATABASE_URL"] = settings.db_url()
    env_names = {"secure_cookies": "ECGPILOT_SECURE_COOKIES", "hsts_max_age_s": "ECGPILOT_HSTS_MAX_AGE",
                 "session_idle_s": "ECGPILOT_SESSION_IDLE_S", "session_max_age_s": "ECGPILOT_SESSION_MAX_AGE_S"}
    for key, value in options.items():
        if value is not None:
            os.environ[env_names[key]] = str(int(value)) if not isinstance(value, bool) else ("1" if value else "0")
    if settings.db_url().startswith("sqlite"):
        print(f"{workers} workers on SQLite: they take turns to write; PostgreSQL is advised for several workers.",
              flush=True)
    uvicorn.run("ecgpilot.web.server:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", access_log=False, **proxies)
    return 0
