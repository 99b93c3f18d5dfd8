"""A lock that serialises the start of several app processes on one database.

Several workers (``uvicorn --workers N``, or several containers) starting at once on a fresh
PostgreSQL database would each run the schema creation: PostgreSQL refuses the second
``CREATE TABLE IF NOT EXISTS`` of a table being created by another session
(``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``) and that
worker dies. :func:`schema_lock` makes them take turns (a session-level advisory lock, held on
its own connection); on SQLite it does nothing (one host, and SQLite serialises writers itself).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["schema_lock", "SCHEMA_LOCK_KEY"]

SCHEMA_LOCK_KEY = 724012   # pg_advisory_lock key; the audit chain uses 724011 (transaction-level)


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold the instance's start-up lock while the body runs (PostgreSQL; a no-op elsewhere)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
            conn.commit()
