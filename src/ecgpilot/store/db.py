"""Engine and session factory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["open_database"]


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Create the engine for ``url`` (creating a SQLite file's folder) and a session factory.

    SQLite connections get foreign keys on and a 30 s busy timeout.
    """
    parsed = make_url(url)
    name = parsed.database or ""
    # a plain file path: make its folder; ":memory:" and URI names ("file:...?mode=ro&uri=true") are
    # left to SQLite (creating their "folder" would make a "file:" directory in the working directory)
    if parsed.get_backend_name() == "sqlite" and name and name != ":memory:" and not name.startswith("file:"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine, sessionmaker(engine, expire_on_commit=False)
