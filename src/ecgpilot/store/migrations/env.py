"""Alembic environment of ecgpilot: the connection comes from :func:`ecgpilot.store.migrate.migrate`
(``config.attributes["connection"]``), or, for the command line, from ``-x url=...``,
``ECGPILOT_DATABASE_URL`` or a temporary in-memory SQLite database upgraded to head.

SQLite runs ALTERs in batch mode (table copy), PostgreSQL directly; both compare types.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import StaticPool

from ecgpilot.store.migrate import target_metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata(), render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("ECGPILOT_DATABASE_URL")
    if url:
        engine = create_engine(url)
    else:   # the command line without a database: an in-memory one at head, for `revision --autogenerate`
        from ecgpilot.store.migrate import migrate

        engine = create_engine("sqlite://", poolclass=StaticPool)
        migrate(engine)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("ecgpilot migrations run online only (give -x url=... or ECGPILOT_DATABASE_URL).")
_main()
