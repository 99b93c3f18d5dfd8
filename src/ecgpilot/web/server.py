"""``ecgpilot serve``: run the web app on embedded defaults.

Data in ``./ecgpilot-data/`` (SQLite database, original files, session key), schema
migrated on start. On first run, when no user exists, an admin account is created
from ``ECGPILOT_ADMIN_EMAIL`` / ``ECGPILOT_ADMIN_PASSWORD`` or with a generated
password printed once. The URL to open is printed.

Every setting (command line > ``ECGPILOT_*`` environment > default) is a field of
:class:`ecgpilot.web.settings.Settings`, listed in docs/settings.md; OpenID Connect login (e.g. Pro Santé
Connect) is turned on by ``ECGPILOT_OIDC_ISSUER``, MSSanté sending by ``ECGPILOT_SMTP_HOST``.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ecgpilot.errors import ConfigError
from ecgpilot.store import add_user
from ecgpilot.store.models import User
from ecgpilot.web.app import create_app
from ecgpilot.web.settings import Settings, load_settings, settings_environ, unknown_variables

__all__ = ["serve", "ensure_first_admin", "load_secret_key", "create_user", "change_password", "serving_settings",
           "worker_app"]


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


def _database_url(db: str | None) -> str:
    """``db`` (a URL or a SQLite file), else ``$ECGPILOT_DATABASE_URL`` (keeps a password out of the process's
    arguments), else SQLite in the data folder (``$ECGPILOT_WEB_DATA``)."""
    settings = load_settings({"database_url": db})
    return settings.model_copy(update={"data_dir": Path(settings.data_dir).resolve()}).db_url()


def change_password(email: str, password: str, *, db: str | None = None, actor: str = "cli-admin") -> int:
    """Set an account's password and end all its login sessions (audited); for ``ecgpilot user passwd``.

    Returns the number of sessions ended. Raises :class:`ConfigError` for an unknown account or a short password.
    """
    from sqlalchemy import select

    from ecgpilot import audit
    from ecgpilot.store import migrate, open_database
    from ecgpilot.store.models import User
    from ecgpilot.store.users import end_user_sessions, set_password

    engine, sessions = open_database(_database_url(db))
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

    engine, sessions = open_database(_database_url(db))
    migrate(engine)
    with sessions() as s:
        user = add_user(s, email, password, name=name, role=role, practice=practice)
        if rpps is not None:
            if not (rpps.isdigit() and len(rpps) == 11):
                raise ConfigError(f"RPPS {rpps!r} is not valid: 11 digits expected.")
            user.rpps = rpps
        s.commit()
    engine.dispose()


def serving_settings(given: Mapping[str, Any] | None = None) -> Settings:
    """The settings ``serve`` and each of its workers run on: :func:`load_settings` (``given`` first, then the
    environment), the data folder made absolute, the database URL spelt out and the session key
    (``$ECGPILOT_SECRET_KEY``, else the one kept in the data folder)."""
    settings = load_settings(given)
    data_dir = Path(settings.data_dir).resolve()
    settings = settings.model_copy(update={"data_dir": data_dir})
    return settings.model_copy(update={"database_url": settings.db_url(),
                                       "secret_key": settings.secret_key or load_secret_key(data_dir)})


def worker_app() -> Any:
    """One worker's app when ``serve --workers N`` runs several processes (uvicorn calls it in each):
    the same settings as the parent, passed through the environment."""
    from ecgpilot.web.access_log import configure_logging

    settings = serving_settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def serve(host: str = "127.0.0.1", port: int = 8000, db: str | None = None, *, workers: int = 1,
          **settings_given: Any) -> int:
    """Start the web app (blocking). ``db`` is a SQLAlchemy URL or a SQLite file (default ``$ECGPILOT_DATABASE_URL``,
    else SQLite under ./ecgpilot-data); ``settings_given`` are :class:`Settings` fields (e.g. ``secure_cookies``,
    ``hsts_max_age_s``, ``session_idle_s``, ``trusted_proxies``; ``None`` = not given), which win over the
    ``ECGPILOT_*`` variables (docs/settings.md). ``workers`` > 1 runs that many processes on the same database
    and data folder (PostgreSQL advised)."""
    import uvicorn

    if workers < 1:
        raise ConfigError(f"--workers {workers} is not accepted; give 1 or more.")
    from ecgpilot.web.access_log import configure_logging

    given = {k: v for k, v in ({"database_url": db} | settings_given).items() if v is not None}
    settings = serving_settings(given)
    for warning in unknown_variables():
        print(f"ecgpilot: warning: {warning}", file=sys.stderr, flush=True)
    configure_logging(settings.log_format)   # JSON lines with ECGPILOT_LOG_FORMAT=json
    proxies = settings.proxy_options()
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
    os.environ.update(settings_environ(settings, {"data_dir", "database_url"} | set(given)))
    if settings.db_url().startswith("sqlite"):
        print(f"{workers} workers on SQLite: they take turns to write; PostgreSQL is advised for several workers.",
              flush=True)
    uvicorn.run("ecgpilot.web.server:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", access_log=False, **proxies)
    return 0
