"""Store: migrations, accounts, INS check, upload atomicity."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.store import SCHEMA_VERSION, add_user, authenticate, current_revision, current_version, migrate, open_database
from ecgpilot.store.models import Study, User
from ecgpilot.ins import ins_key, normalize_ins


def test_migrate_empty_then_idempotent(tmp_path) -> None:  # noqa: ANN001
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert current_version(engine) == 0 and current_revision(engine) is None
    assert migrate(engine) == list(range(7, SCHEMA_VERSION + 1))   # 0007 (the baseline) and every later revision
    assert current_version(engine) == SCHEMA_VERSION and current_revision(engine) == f"{SCHEMA_VERSION:04d}"
    assert migrate(engine) == []
    names = set(inspect(engine).get_table_names())
    assert {"practice", "user_account", "study", "study_event", "report", "api_token", "audit_log", "outbox",
            "pilot_protocol", "login_failure", "alembic_version"} <= names
    assert "schema_version" not in names


def test_newer_schema_refused(tmp_path) -> None:  # noqa: ANN001
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(ConfigError, match=f"revision 0999 is newer.*revision {SCHEMA_VERSION:04d}"):
        migrate(engine)


def test_accounts_argon2(tmp_path) -> None:  # noqa: ANN001
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with sessions() as db:
        u = add_user(db, "Doc@Example.fr", "long enough pw", role="cardiologist", practice="P")
        db.commit()
        assert u.password_hash.startswith("$argon2id$")
        assert authenticate(db, "doc@example.fr", "long enough pw").id == u.id
        assert authenticate(db, "doc@example.fr", "wrong password") is None
        assert authenticate(db, "nobody@example.fr", "long enough pw") is None
        with pytest.raises(ConfigError, match="already exists"):
            add_user(db, "doc@example.fr", "long enough pw")
        with pytest.raises(ConfigError, match="role"):
            add_user(db, "x@example.fr", "long enough pw", role="nurse")
        with pytest.raises(ConfigError, match="too short"):
            add_user(db, "y@example.fr", "short")


def test_ins_key_published_examples() -> None:
    # Wikipedia (fr) "Numéro de sécurité sociale en France": 2 55 08 14 168 025, key 38
    assert ins_key("2550814168025") == 38
    assert normalize_ins("2 55 08 14 168 025 38") == "255081416802538"
    with pytest.raises(RecordError, match="expected 38"):
        normalize_ins("255081416802537")
    with pytest.raises(RecordError, match="15 are expected"):
        normalize_ins("25508141680")


def test_ins_corsica() -> None:
    # 2A counts as 19 and 2B as 18 in the number (rule of the NIR key)
    assert ins_key("185052A123456") == 97 - int("1850519123456") % 97
    assert ins_key("185052B123456") == 97 - int("1850518123456") % 97
    key = ins_key("185052A123456")
    assert normalize_ins(f"185052a123456{key:02d}") == f"185052A123456{key:02d}"
    with pytest.raises(RecordError, match="matricule"):
        ins_key("185052C123456")


def test_failed_db_write_leaves_no_file_and_no_row(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from ecgpilot import audit
    from ecgpilot.web.services import upload as services

    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    audit.open_audit(engine)
    with sessions() as db:
        user = add_user(db, "a@x.fr", "long enough pw")
        db.commit()
        original_commit = db.commit

        def boom() -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(db, "commit", boom)
        with pytest.raises(RuntimeError):
            services.ingest(db, tmp_path / "data", user, [("x.txt", b"not an ecg")], use_ai=False)
        monkeypatch.setattr(db, "commit", original_commit)
        assert db.scalars(select(Study)).all() == []
    assert audit.count(engine) == 0  # the audit entry was rolled back with the row
    assert list((tmp_path / "data" / "files").iterdir()) == []
    assert list((tmp_path / "data" / "tmp").iterdir()) == []


def test_user_table_has_no_plain_password(tmp_path) -> None:  # noqa: ANN001
    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with sessions() as db:
        add_user(db, "a@x.fr", "a secret password")
        db.commit()
        assert "a secret password" not in db.scalar(select(User.password_hash))


def test_signed_report_row_cannot_be_changed(tmp_path) -> None:  # noqa: ANN001
    from ecgpilot.store.models import Report, Study, utcnow

    engine, sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with sessions() as db:
        user = add_user(db, "a@x.fr", "long enough pw")
        study = Study(practice_id=user.practice_id, uploaded_by=user.id, file_sha256="0" * 64, file_name="x", file_names=["x"])
        db.add(study)
        db.flush()
        rep = Report(study_id=study.id, version=1, signed_by=user.id, signed_at=utcnow(), content={"a": 1}, content_sha256="h")
        db.add(rep)
        db.commit()
        rep.content = {"a": 2}
        with pytest.raises(RecordError, match="immutable"):
            db.commit()
        db.rollback()
        db.delete(rep)
        with pytest.raises(RecordError, match="immutable"):
            db.commit()
