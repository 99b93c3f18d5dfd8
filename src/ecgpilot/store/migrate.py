"""A small explicit, versioned schema migration runner.

The database holds one row in ``schema_version``. :data:`MIGRATIONS` lists numbered
steps; :func:`migrate` runs, in one transaction each, the steps above the stored version.
A new schema change = a new numbered function appended here (never edit an old one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from ecgpilot.errors import ConfigError
from ecgpilot.store import models

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "current_version"]


def _create(conn: Connection, *mapped: Any) -> None:
    """Create the tables of the ``mapped`` ORM classes that do not exist yet."""
    tables: list[Any] = [m.__table__ for m in mapped]
    models.Base.metadata.create_all(conn, tables=tables)


def _v1_initial(conn: Connection) -> None:
    """Tables of schema version 1."""
    _create(conn, models.Practice, models.User, models.ApiToken, models.Study, models.StudyEvent, models.Report)


def _add_columns(conn: Connection, table: str, columns: dict[str, str]) -> None:
    have = {c["name"] for c in inspect(conn).get_columns(table)}
    for name, ddl in columns.items():
        if name not in have:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))


def _v2_care_pathway(conn: Connection) -> None:
    """Identities for export and login (RPPS, MSSanté addresses, OIDC subject, organisation ids);
    tele-expertise requests, notifications and dispatches."""
    _add_columns(conn, "practice", {"org_id": "VARCHAR(40)", "org_id_prefix": "VARCHAR(2)",
                                    "patient_id_root": "VARCHAR(128)", "mssante_address": "VARCHAR(254)"})
    _add_columns(conn, "user_account", {"rpps": "VARCHAR(11)", "mssante_address": "VARCHAR(254)",
                                        "oidc_subject": "VARCHAR(255)"})
    conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS ix_user_oidc_subject ON user_account (oidc_subject)"))
    _create(conn, models.OpinionRequest, models.Notification, models.Dispatch)


def _v3_practice_fit(conn: Connection) -> None:
    """Study: age from the file, the identity verification record, archiving."""
    _create(conn, models.Study, models.StudyEvent, models.Report)   # absent only from a partial early schema
    _add_columns(conn, "study", {"age_years": "FLOAT", "identity_check": "JSON", "archived_at": "TIMESTAMP WITH TIME ZONE",
                                 "archive_reason": "TEXT"})
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_study_archived_at ON study (archived_at)"))


def _v4_signed_documents(conn: Connection) -> None:
    """The signed documents (PDF, CDA, FHIR) frozen at signing: their SHA-256 and where they are stored."""
    _create(conn, models.ReportDocument)


def _v5_login_sessions(conn: Connection) -> None:
    """Server-side login sessions, so that logout, a password change and the timeouts end them."""
    _create(conn, models.LoginSession)


def _v6_token_expiry(conn: Connection) -> None:
    """API tokens: expiry, revocation, last use. Tokens made before this version expire
    :data:`ecgpilot.store.users.DEFAULT_TOKEN_DAYS` days after the upgrade (none is left without an end)."""
    from datetime import timedelta

    from ecgpilot.store.users import DEFAULT_TOKEN_DAYS

    _create(conn, models.ApiToken)   # partial early schema
    ts = "TIMESTAMP WITH TIME ZONE"
    _add_columns(conn, "api_token", {"expires_at": ts, "revoked_at": ts, "last_used_at": ts})
    conn.execute(text("UPDATE api_token SET expires_at = :e WHERE expires_at IS NULL"),
                 {"e": models.utcnow() + timedelta(days=DEFAULT_TOKEN_DAYS)})


def _v7_study_row_version(conn: Connection) -> None:
    """Study: the optimistic-concurrency counter (two simultaneous changes of a draft: none is lost)."""
    _add_columns(conn, "study", {"row_version": "INTEGER NOT NULL DEFAULT 1"})


MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _v1_initial), (2, _v2_care_pathway), (3, _v3_practice_fit), (4, _v4_signed_documents),
    (5, _v5_login_sessions),
    (6, _v6_token_expiry),
    (7, _v7_study_row_version))
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    """Schema version stored in the database (0 for an empty database)."""
    if not inspect(engine).has_table("schema_version"):
        return 0
    with engine.connect() as conn:
        v = conn.execute(text("SELECT version FROM schema_version")).scalar()
    return int(v or 0)


def migrate(engine: Engine) -> list[int]:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the versions applied."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
        if conn.execute(text("SELECT COUNT(*) FROM schema_version")).scalar() == 0:
            conn.execute(text("INSERT INTO schema_version (version) VALUES (0)"))
    have = current_version(engine)
    if have > SCHEMA_VERSION:
        raise ConfigError(
            f"database schema version {have} is newer than this ecgpilot ({SCHEMA_VERSION}); "
            "upgrade ecgpilot or use a different database URL."
        )
    applied = []
    for version, step in MIGRATIONS:
        if version <= have:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(text("UPDATE schema_version SET version = :v"), {"v": version})
        applied.append(version)
    return applied
