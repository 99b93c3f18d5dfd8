"""Alembic environment of ecgpilot: the connection comes from :func:`ecgpilot.store.migrate.migrate`
(``config.attributes["connection"]``), or, for the command line, from ``-x url=...``,
``ECGPILOT_DATABASE_URL`` or a temporary SQLite database upgraded to head (by another Python process:
Alembic's command proxies do not nest).

SQLite runs ALTERs in batch mode (table copy), PostgreSQL directly; both compare types.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import context
from sqlalchemy import Connection, create_engine

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
    with tempfile.TemporaryDirectory() as tmp:
        if not url:   # the command line without a database: a temporary one at head, for `revision --autogenerate`
            url = f"sqlite:///{Path(tmp) / 'head.db'}"
            subprocess.run([sys.executable, "-c", "import sys; from sqlalchemy import create_engine; "
                            "from ecgpilot.store.migrate import migrate; migrate(create_engine(sys.argv[1]))", url],
                           check=True)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                _run(conn)
        finally:
            engine.dispose()


if context.is_offline_mode():
    raise SystemExit("ecgpilot migrations run online only (give -x url=... or ECGPILOT_DATABASE_URL).")
_main()
