"""Schema migrations with Alembic; the revisions ship in :mod:`ecgpilot.store.migrations`.

:func:`migrate` (called at every start of the app and by the CLI) runs ``upgrade head`` in one transaction,
configuring Alembic in code (no ``alembic.ini`` at run time). Revisions are numbered ``0007``, ``0008``…
after the versions of the hand-written runner they replace: ``0007`` is that runner's version 7 written out
table by table (the baseline), so :func:`current_version` stays a number that only grows.

A database made by the old runner (table ``schema_version``, any version 1..7, with the audit, outbox and
pilot tables made on the side) is adopted: revision 0007 keeps every existing table and row, creates the
missing tables and indexes and adds the columns an older runner had not yet added; API tokens without an
expiry (versions < 6) get one; ``schema_version`` is dropped and ``alembic_version`` says ``0007``; then
the later revisions run. A database at a revision this code does not know (a newer ecgpilot) is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from ecgpilot.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "BASELINE", "migrate", "current_version", "current_revision", "head_revision",
           "current_revision_of", "alembic_config", "target_metadata", "upgrade_to", "downgrade", "history"]

SCHEMA_VERSION = 9          # the head revision as a number (tests check it equals the scripts' head)
BASELINE = "0007"           # the old runner's last version, written out as the first Alembic revision
_LEGACY_TABLE = "schema_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration of the package's migrations (``connection``: the one :mod:`env` uses)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this code knows (e.g. ``"0009"``)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None   # the package always ships revisions
    return head


def history() -> list[str]:
    """One line per revision, oldest first: ``"0008  drop the duplicate unique index ..."``."""
    script = ScriptDirectory.from_config(alembic_config())
    revs = list(script.walk_revisions())[::-1]
    return [f"{r.revision}  {(r.doc or '').strip().splitlines()[0] if r.doc else ''}" for r in revs]


def target_metadata() -> MetaData:
    """One :class:`MetaData` holding every table of the package: models (incl. pilot and login attempts),
    audit trail, outbox. What the migrations at head must equal (autogenerate compares against it)."""
    from ecgpilot import audit
    from ecgpilot.export import mssante
    from ecgpilot.store import login_attempts, models, pilot  # noqa: F401  (pilot, login_attempts: their tables)

    union = MetaData()
    for md in (models.Base.metadata, audit.metadata, mssante.metadata):
        for table in md.tables.values():
            table.to_metadata(union)
    return union


def current_revision_of(conn: Connection) -> str | None:
    """The Alembic revision seen through ``conn`` (``None``: none), inside the caller's transaction."""
    return MigrationContext.configure(conn).get_current_revision()


_revision = current_revision_of


def _legacy_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(_LEGACY_TABLE):
        return None
    return int(conn.execute(text(f"SELECT version FROM {_LEGACY_TABLE}")).scalar() or 0)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision of the database (``None``: empty, or made by the old runner)."""
    with engine.connect() as conn:
        return _revision(conn)


def current_version(engine: Engine) -> int:
    """Schema version of the database as a number: its revision (``9`` for ``"0009"``), the old runner's
    version for a database not yet adopted, ``0`` for an empty one."""
    with engine.connect() as conn:
        rev = _revision(conn)
        if rev is not None:
            return int(rev)
        return _legacy_version(conn) or 0


@contextlib.contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that holds the DDL too: on SQLite, Python's driver would run each
    ``CREATE``/``ALTER`` outside any transaction, so a failed upgrade would leave half its tables; here the
    transaction is begun explicitly (``BEGIN IMMEDIATE``: other processes starting at once wait their turn)."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        saved = getattr(raw, "isolation_level", None)
        if raw is not None:
            raw.isolation_level = None   # the driver's own implicit BEGIN off: ours below holds everything
        try:
            with conn.begin():
                if raw is not None:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
        finally:
            if raw is not None:
                raw.isolation_level = saved


def _refuse_newer(have: str, known: set[str], what: str = "database") -> None:
    if have not in known:
        raise ConfigError(f"{what} schema revision {have} is newer than this ecgpilot (which knows up to "
                          f"revision {head_revision()}); upgrade ecgpilot or use a different database URL.")


def migrate(engine: Engine) -> list[int]:
    """Bring the schema to the head revision in one transaction; returns the versions applied (numbers).

    An empty database gets ``[7, 8, …]``; one of the old runner at version ``v`` gets ``[v+1, …]`` (adopted, see
    the module's text). Raises :class:`ConfigError` naming both revisions for a database newer than this code.
    """
    from ecgpilot.store.users import DEFAULT_TOKEN_DAYS

    script = ScriptDirectory.from_config(alembic_config())
    known = {s.revision for s in script.walk_revisions()}
    if current_revision(engine) == script.get_current_head():
        return []   # already current: nothing written, no lock taken
    with _schema_transaction(engine) as conn:
        rev = _revision(conn)
        if rev is not None:
            _refuse_newer(rev, known)
        applied: list[int] = []
        if rev is None:
            legacy = _legacy_version(conn)
            if legacy is not None and legacy > int(BASELINE):
                raise ConfigError(f"database schema version {legacy} (of the old runner) is newer than this "
                                  f"ecgpilot (revision {head_revision()}); upgrade ecgpilot or use a different database URL.")
            cfg = alembic_config(conn)
            cfg.attributes["ecgpilot_adopt"] = True   # keep what exists: tables side-made, or the old runner's
            command.upgrade(cfg, BASELINE)
            if legacy is not None:
                if legacy < 6:   # the old step 6: tokens made before expiry existed get one
                    from ecgpilot.store.models import utcnow

                    conn.execute(text("UPDATE api_token SET expires_at = :e WHERE expires_at IS NULL"),
                                 {"e": utcnow() + timedelta(days=DEFAULT_TOKEN_DAYS)})
                conn.execute(text(f"DROP TABLE {_LEGACY_TABLE}"))
            applied = list(range((legacy or 0) + 1 if legacy else int(BASELINE), int(BASELINE) + 1))
            rev = BASELINE
        command.upgrade(alembic_config(conn), "head")
        new = _revision(conn)
    assert new is not None
    return applied + list(range(int(rev) + 1, int(new) + 1))


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate an empty database, or one at an older revision, to ``revision`` (not further), in one transaction;
    for restoring a backup made at that revision. Refuses a revision this code does not know."""
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    _refuse_newer(revision, known, "the requested")
    with _schema_transaction(engine) as conn:
        rev = _revision(conn)
        if rev is not None:
            _refuse_newer(rev, known)
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``"base"``: no table left) in one transaction; for tests and
    ``ecgpilot db downgrade``. Data in dropped tables and columns is lost: back up first."""
    with _schema_transaction(engine) as conn:
        rev = _revision(conn)
        if rev is not None:
            _refuse_newer(rev, {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()})
        command.downgrade(alembic_config(conn), revision)
