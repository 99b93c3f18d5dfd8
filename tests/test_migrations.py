"""Alembic migrations (ecgpilot.store.migrations): a database made by the old runner is adopted without losing a
row; upgrade → downgrade → upgrade on SQLite and PostgreSQL; the migrations at head equal the models."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from _pg import fresh_database, postgres_server
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, inspect, select, text

from ecgpilot import audit
from ecgpilot.errors import ConfigError
from ecgpilot.store import health, open_database
from ecgpilot.store.migrate import (
    SCHEMA_VERSION,
    current_revision,
    current_version,
    downgrade,
    head_revision,
    migrate,
    target_metadata,
)
from ecgpilot.store.models import ApiToken, LoginSession, Practice, Report, Study, StudyEvent, User, utcnow
from ecgpilot.store.pilot import PilotProtocol

FIXTURE = Path(__file__).parent / "fixtures" / "migrations" / "v7.sqlite"


def _differences(engine: Engine, metadata=None) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata if metadata is not None else target_metadata())


def _copy_fixture(tmp_path: Path) -> Path:
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, db)
    return db


def test_schema_version_is_the_head_revision() -> None:
    assert f"{SCHEMA_VERSION:04d}" == head_revision()


def test_database_of_the_old_runner_is_adopted_with_every_row(tmp_path) -> None:
    db = _copy_fixture(tmp_path)
    engine, sessions = open_database(f"sqlite:///{db}")
    assert current_version(engine) == 7 and current_revision(engine) is None
    before = audit.verify(engine)
    assert before.ok and before.checked == 3
    assert migrate(engine) == list(range(8, SCHEMA_VERSION + 1))
    assert current_revision(engine) == head_revision() and migrate(engine) == []
    assert "schema_version" not in inspect(engine).get_table_names()
    with sessions() as s:
        p = s.scalars(select(Practice)).one()
        u = s.scalars(select(User)).one()
        st = s.scalars(select(Study)).one()
        assert (p.name, p.org_id, p.mssante_address) == ("Cabinet du Port", "123456789", "cabinet@port.mssante.fr")
        assert (u.email, u.rpps, u.practice_id) == ("dr.martin@example.fr", "10000000007", p.id)
        assert (st.family_name, st.age_years, st.file_names, st.row_version) == ("DUPONT", 63.5, ["ecg.hea", "ecg.dat"], 1)
        assert st.draft == {"statements": [{"id": "sinus_rhythm"}]} and st.identity_check == {"method": "id_document"}
        assert s.scalars(select(Report)).one().content == {"conclusion": "ECG normal"}
        assert s.scalars(select(StudyEvent)).one().after == {"version": 1}
        assert s.scalars(select(LoginSession)).one().sid_sha256 == "a" * 64
        assert s.scalars(select(ApiToken)).one().label == "logiciel"
        assert s.scalars(select(PilotProtocol)).one().content == {"design": "stepped_wedge"}
        st.status = "to_read"   # the row version counter still works on the adopted table
        s.commit()
        assert st.row_version == 2
    with engine.connect() as conn:
        assert conn.execute(text("SELECT message_id, status FROM outbox")).one() == ("<fixture@ecgpilot>", "pending")
    after = audit.verify(engine)
    assert after.ok and after.checked == 3
    assert audit.head(engine) == (3, audit.entries(engine)[-1]["hash"])
    assert audit.verify_reports(engine).ok   # the signed report still matches its signature entry
    assert _differences(engine) == []
    # the app's start path accepts it: the audit tables are left to the migrations; `ecgpilot check` is content
    assert audit.open_audit(engine) is engine and audit.verify(engine).ok
    engine.dispose()
    ok, lines = health.check_instance(db, tmp_path)
    assert ok, lines
    assert f"schema version {SCHEMA_VERSION} (this ecgpilot: {SCHEMA_VERSION}): ok" in lines


def test_database_of_the_old_runner_at_version_1_is_adopted(tmp_path) -> None:
    db = tmp_path / "v1.db"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
        CREATE TABLE practice (id INTEGER PRIMARY KEY, name VARCHAR(200) UNIQUE NOT NULL);
        CREATE TABLE user_account (id INTEGER PRIMARY KEY, email VARCHAR(254) UNIQUE NOT NULL, name VARCHAR(200) NOT NULL,
            role VARCHAR(20) NOT NULL, password_hash VARCHAR(200) NOT NULL, practice_id INTEGER NOT NULL REFERENCES practice(id),
            created_at DATETIME NOT NULL);
        CREATE TABLE api_token (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user_account(id),
            token_sha256 VARCHAR(64) UNIQUE NOT NULL, label VARCHAR(200) NOT NULL, created_at DATETIME NOT NULL);
        INSERT INTO practice VALUES (1, 'Cabinet'); INSERT INTO user_account VALUES (1, 'old@x.fr', 'Dr Old', 'gp', 'h', 1, '2026-01-01');
        INSERT INTO api_token VALUES (1, 1, 'ab', 'old', '2026-01-01 00:00:00');
    """)
    con.commit()
    con.close()
    engine, sessions = open_database(f"sqlite:///{db}")
    assert current_version(engine) == 1
    assert migrate(engine) == list(range(2, SCHEMA_VERSION + 1)) and current_revision(engine) == head_revision()
    with sessions() as s:
        old = s.scalars(select(User)).one()
        assert (old.email, old.name, old.rpps) == ("old@x.fr", "Dr Old", None)
        old.rpps = "10001234567"   # a column the adoption added
        s.commit()
        expires = s.scalars(select(ApiToken)).one().expires_at   # the old step 6: every token gets an end
        assert expires is not None
        assert timedelta(days=170) < expires.replace(tzinfo=utcnow().tzinfo) - utcnow() < timedelta(days=190)
    names = set(inspect(engine).get_table_names())
    assert {"study", "opinion_request", "audit_log", "outbox", "pilot_followup", "login_failure"} <= names
    assert migrate(engine) == []


def test_database_of_a_newer_old_runner_is_refused(tmp_path) -> None:
    db = _copy_fixture(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE schema_version SET version = 8")
    engine, _ = open_database(f"sqlite:///{db}")
    with pytest.raises(ConfigError, match=f"version 8 .*newer.*revision {head_revision()}"):
        migrate(engine)


def _round_trip(engine: Engine) -> None:
    assert migrate(engine) == list(range(7, SCHEMA_VERSION + 1))
    assert _differences(engine) == []
    downgrade(engine, "0008")
    assert current_revision(engine) == "0008" and "login_failure" not in inspect(engine).get_table_names()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrate(engine) == list(range(7, SCHEMA_VERSION + 1))
    assert _differences(engine) == []


def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path) -> None:
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    _round_trip(engine)


def test_models_and_migrations_agree_and_the_check_can_fail(tmp_path) -> None:
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    assert _differences(engine) == []
    changed = target_metadata()   # a model column added without a revision
    changed.tables["study"].append_column(Column("new_column_without_revision", Integer, nullable=True))
    diffs = _differences(engine, changed)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "study", "new_column_without_revision")]


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def test_upgrade_downgrade_upgrade_on_postgresql(pg_url) -> None:
    engine, _ = open_database(fresh_database(pg_url, "migrations"))
    try:
        assert engine.dialect.name == "postgresql"
        _round_trip(engine)
    finally:
        engine.dispose()


def _failing_last_revision(monkeypatch) -> None:  # noqa: ANN001
    """Make the last step of revision 0009 fail, as a full disk or a bug would."""
    from alembic.operations import Operations

    create_index = Operations.create_index

    def fail(self, name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name == "ix_login_failure_kind_key_at":
            raise RuntimeError("simulated failure in revision 0009")
        return create_index(self, name, *args, **kwargs)

    monkeypatch.setattr(Operations, "create_index", fail)


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    fresh, _ = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    old = _copy_fixture(tmp_path)
    adopted, _ = open_database(f"sqlite:///{old}")
    _failing_last_revision(monkeypatch)
    for engine in (fresh, adopted):
        with pytest.raises(RuntimeError, match="simulated"):
            migrate(engine)
    assert inspect(fresh).get_table_names() == []   # SQLite too: the DDL was inside the transaction
    assert current_version(adopted) == 7 and "schema_version" in inspect(adopted).get_table_names()
    assert "ix_user_oidc_subject" in {i["name"] for i in inspect(adopted).get_indexes("user_account")}
    monkeypatch.undo()
    assert migrate(fresh) == list(range(7, SCHEMA_VERSION + 1)) and migrate(adopted) == [8, 9]


OLD_RUNNER_COMMIT = "87317f8"   # the last commit with the hand-written runner (schema version 7)


def test_postgresql_database_of_the_old_runner_is_adopted(pg_url, tmp_path) -> None:  # noqa: ANN001
    """The old code itself (taken from git) makes a v7 database on PostgreSQL; this code adopts it."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    if subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{OLD_RUNNER_COMMIT}^{{commit}}"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"commit {OLD_RUNNER_COMMIT} (the old runner) is not in this clone (shallow?)")
    archive = subprocess.run(["git", "-C", str(repo), "archive", OLD_RUNNER_COMMIT, "src"], capture_output=True, check=True)
    old_src = tmp_path / "old"
    old_src.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
    url = fresh_database(pg_url, "old_runner")
    make = ("import sys; from ecgpilot import audit; from ecgpilot.export import mssante; "
            "from ecgpilot.store import migrate, open_database; from ecgpilot.store.pilot import ensure_pilot_schema; "
            "e, _ = open_database(sys.argv[1]); assert migrate(e) == [1, 2, 3, 4, 5, 6, 7]; audit.open_audit(e); "
            "mssante.open_outbox(e); ensure_pilot_schema(e); "
            "[audit.append(e, actor_id='u', actor_role='gp', action='view', target=f'study:{i}') for i in range(3)]")
    subprocess.run([sys.executable, "-c", make, url], check=True, env=dict(os.environ, PYTHONPATH=str(old_src / "src")))
    engine, _ = open_database(url)
    try:
        assert current_version(engine) == 7
        head = audit.head(engine)
        assert migrate(engine) == list(range(8, SCHEMA_VERSION + 1))
        assert _differences(engine) == []
        assert audit.verify(engine).ok and audit.head(engine) == head and head[0] == 3
        assert "schema_version" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_db_command_upgrades_shows_and_downgrades(tmp_path, capsys) -> None:  # noqa: ANN001
    from ecgpilot.cli import main
    from ecgpilot.store.migrate import head_revision

    db = tmp_path / "cli.sqlite"
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert f"schema revision {head_revision()} (this ecgpilot: {head_revision()})" in capsys.readouterr().out
    assert main(["db", "downgrade", "0008", "--db", str(db)]) == 0
    assert "schema revision 0008" in capsys.readouterr().out
    assert "login_failure" not in sqlite3.connect(db).execute(
        "SELECT group_concat(name) FROM sqlite_master WHERE type='table'").fetchone()[0]
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "applied: 0009" in capsys.readouterr().out
    assert main(["db", "history"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("0007")
