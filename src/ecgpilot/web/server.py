"""``ecgpilot serve``: run the web app on embedded defaults.

Data in ``./ecgpilot-data/`` (SQLite database, original files, session key), schema
migrated on start. On first run, when no user exists, an admin account is created
from ``ECGPILOT_ADMIN_EMAIL`` / ``ECGPILOT_ADMIN_PASSWORD`` or with a generated
password printed once. The URL to open is printed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import func, select

from ecgpilot.store import add_user
from ecgpilot.store.models import User
from ecgpilot.web.app import Settings, create_app

__all__ = ["serve", "ensure_first_admin", "load_secret_key", "create_user"]


def load_secret_key(data_dir: Path) -> str:
    """The session-signing key kept in ``data_dir/secret_key`` (created, mode 0600, if absent)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
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
    if db and "://" not in db:
        return f"sqlite:///{Path(db).resolve()}"
    return db or f"sqlite:///{data_dir / 'ecgpilot.db'}"


def create_user(email: str, password: str, *, name: str = "", role: str = "gp", practice: str = "Cabinet",
                db: str | None = None) -> None:
    """Add an account to the app's database (migrated first); for ``ecgpilot user add``."""
    from ecgpilot.store import migrate, open_database

    data_dir = Path(os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data")).resolve()
    engine, sessions = open_database(_database_url(db, data_dir))
    migrate(engine)
    with sessions() as s:
        add_user(s, email, password, name=name, role=role, practice=practice)
        s.commit()
    engine.dispose()


def serve(host: str = "127.0.0.1", port: int = 8000, db: str | None = None) -> int:
    """Start the web app (blocking); ``db`` is a SQLAlchemy URL (default SQLite under ./ecgpilot-data)."""
    import uvicorn

    data_dir = Path(os.environ.get("ECGPILOT_WEB_DATA", "ecgpilot-data")).resolve()
    settings = Settings(data_dir=data_dir, database_url=_database_url(db, data_dir), secret_key=load_secret_key(data_dir))
    app = create_app(settings)
    created = ensure_first_admin(app.state.sessions, os.environ.get("ECGPILOT_ADMIN_EMAIL"),
                                 os.environ.get("ECGPILOT_ADMIN_PASSWORD"))
    if created:
        shown = created[1] if not os.environ.get("ECGPILOT_ADMIN_PASSWORD") else "(from ECGPILOT_ADMIN_PASSWORD)"
        print(f"First run: admin account {created[0]} created, password: {shown}", flush=True)
        print("Log in with it, then add the doctors (role gp or cardiologist) under /admin/users.", flush=True)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    print(f"ecgpilot is running: open http://{shown_host}:{port}/ in your browser (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0
