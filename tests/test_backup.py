"""Backup/restore round trip, online backup while a writer holds the database, corrupted archives refused."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile

import pytest

from ecgpilot import audit
from ecgpilot.backup import create_backup, restore_backup, verify_backup
from ecgpilot.cli import main
from ecgpilot.errors import ConfigError, CorruptFileError


@pytest.fixture()
def site(tmp_path):
    db = tmp_path / "app" / "ecgpilot.db"
    files = tmp_path / "app" / "files"
    (files / "ab").mkdir(parents=True)
    (files / "ab" / "study1.xml").write_bytes(b"<RestingECG>1</RestingECG>")
    (files / "top.dcm").write_bytes(bytes(range(256)) * 10)
    engine = audit.open_audit(db)
    for i in range(20):
        audit.append(engine, actor_id="u1", actor_role="gp", action="view", target=f"study-{i}")
    engine.dispose()
    return db, files


def _table(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall()
    finally:
        con.close()


def test_round_trip(site, tmp_path):
    db, files = site
    out = tmp_path / "b.tar"
    manifest = create_backup(f"sqlite:///{db}", files, out)
    assert sorted(f["path"] for f in manifest["files"]) == ["files/ab/study1.xml", "files/top.dcm"]
    assert {f["sha256"] for f in manifest["files"]} == {
        hashlib.sha256(b"<RestingECG>1</RestingECG>").hexdigest(), hashlib.sha256(bytes(range(256)) * 10).hexdigest()}
    assert verify_backup(out)["database"]["size"] > 0
    db2, files2 = tmp_path / "r" / "restored.db", tmp_path / "r" / "files"
    restore_backup(out, db2, files2)
    assert _table(db2) == _table(db)
    assert (files2 / "ab" / "study1.xml").read_bytes() == b"<RestingECG>1</RestingECG>"
    assert (files2 / "top.dcm").read_bytes() == (files / "top.dcm").read_bytes()
    assert audit.verify(audit.open_audit(db2)).ok
    with pytest.raises(ConfigError, match="already exists"):
        restore_backup(out, db2, files2)
    restore_backup(out, db2, files2, overwrite=True)


def test_backup_while_a_transaction_is_open(site, tmp_path):
    db, files = site
    con = sqlite3.connect(db)
    con.execute("BEGIN")
    con.execute("INSERT INTO settings VALUES ('x', 'uncommitted', 't', 'u')")
    try:
        create_backup(db, files, tmp_path / "b.tar")
    finally:
        con.rollback()
        con.close()
    restore_backup(tmp_path / "b.tar", tmp_path / "r.db", tmp_path / "rf")
    assert sqlite3.connect(tmp_path / "r.db").execute("SELECT count(*) FROM settings").fetchone()[0] == 0
    assert len(_table(tmp_path / "r.db")) == 20


def _rewrite(src, dst, change):
    with tarfile.open(src) as t, tarfile.open(dst, "w") as out:
        for m in t.getmembers():
            data = t.extractfile(m).read()
            data, name = change(m.name, data)
            if name is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def test_corrupted_file_refused(site, tmp_path):
    db, files = site
    good = tmp_path / "b.tar"
    create_backup(db, files, good)
    bad = tmp_path / "bad.tar"
    _rewrite(good, bad, lambda n, d: ((d[:-1] + b"!") if n == "files/ab/study1.xml" else d, n))
    with pytest.raises(CorruptFileError, match="study1.xml.*sha256"):
        restore_backup(bad, tmp_path / "r.db", tmp_path / "rf")
    assert not (tmp_path / "r.db").exists() and not (tmp_path / "rf").exists()


def test_missing_and_extra_members_refused(site, tmp_path):
    db, files = site
    good = tmp_path / "b.tar"
    create_backup(db, files, good)
    missing = tmp_path / "m.tar"
    _rewrite(good, missing, lambda n, d: (d, None if n == "files/top.dcm" else n))
    with pytest.raises(CorruptFileError, match="missing"):
        verify_backup(missing)
    evil = tmp_path / "e.tar"
    _rewrite(good, evil, lambda n, d: (d, "../escape" if n == "files/top.dcm" else n))
    with pytest.raises(CorruptFileError, match="unsafe"):
        verify_backup(evil)


def test_truncated_archive_refused(site, tmp_path):
    db, files = site
    good = tmp_path / "b.tar"
    create_backup(db, files, good)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(CorruptFileError):
        verify_backup(cut)


def test_database_tampered_with_manifest_updated_fails_integrity(site, tmp_path):
    db, files = site
    good = tmp_path / "b.tar"
    create_backup(db, files, good)
    junk = b"not sqlite" * 100

    def change(n, d):
        if n == "database.sqlite3":
            return junk, n
        if n == "manifest.json":
            m = json.loads(d)
            m["database"].update(sha256=hashlib.sha256(junk).hexdigest(), size=len(junk))
            return json.dumps(m).encode(), n
        return d, n

    bad = tmp_path / "bad.tar"
    _rewrite(good, bad, change)
    with pytest.raises(CorruptFileError, match="SQLite"):
        restore_backup(bad, tmp_path / "r.db", tmp_path / "rf")


def test_cli(site, tmp_path, capsys):
    db, files = site
    out = tmp_path / "cli.tar"
    assert main(["backup", "create", "--db", str(db), "--files", str(files), "--out", str(out)]) == 0
    assert main(["backup", "restore", str(out), "--db", str(tmp_path / "x.db"), "--files", str(tmp_path / "xf")]) == 0
    assert main(["backup", "restore", str(out), "--db", str(tmp_path / "x.db"), "--files", str(tmp_path / "xf")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_backup_of_a_file_that_is_not_sqlite_is_refused(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    (tmp_path / "files").mkdir()
    out = tmp_path / "out" / "b.tar"
    with pytest.raises(ConfigError, match="cannot be backed up: file is not a database"):
        create_backup(garbage, tmp_path / "files", out)
    assert not out.exists()  # nothing half-written


# ------------------------------------------------------------------ PostgreSQL: rows at the schema revision --

@pytest.fixture(scope="module")
def pg_url():
    from _pg import postgres_server

    with postgres_server() as url:
        yield url


def _app_database(url: str) -> None:
    """A migrated app database with a practice, a GP, a study, a signed report, a sealed audit trail, an outbox
    message and a failed login: every kind of column (JSON, dates, bytes, floats)."""
    from datetime import date, datetime, timezone
    from email.message import EmailMessage

    from ecgpilot.export import mssante
    from ecgpilot.security.ratelimit import LoginThrottle
    from ecgpilot.store import migrate, open_database
    from ecgpilot.store.models import Practice, Report, Study, User

    engine, sessions = open_database(url)
    migrate(engine)
    at = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    with sessions() as s:
        p = Practice(name="Cabinet")
        s.add(p)
        s.flush()
        u = User(email="gp@x.fr", name="Dr GP", role="gp", password_hash="h", practice_id=p.id, created_at=at)
        s.add(u)
        s.flush()
        st = Study(practice_id=p.id, uploaded_by=u.id, file_sha256="c" * 64, file_name="e.xml", file_names=["e.xml"],
                   birth_date=date(1960, 5, 17), age_years=66.5, analysis={"heart_rate_bpm": 71.5, "leads": ["I", "II"]},
                   created_at=at)
        s.add(st)
        s.flush()
        s.add(Report(study_id=st.id, version=1, signed_by=u.id, signed_at=at, content={"conclusion": "normal"},
                     content_sha256="d" * 64))
        for i in range(5):
            audit.append(s.connection(), actor_id=f"user:{u.id}", actor_role="gp", action="view", target=f"study:{st.id}",
                         details={"i": i})
        s.commit()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Message-ID"] = "a@x.mssante.fr", "b@y.mssante.fr", "<m1@ecgpilot>"
    msg.set_content("é" * 10)
    mssante.enqueue(engine, msg, target="study:1", now=at)
    LoginThrottle(database=engine).record_failure("gp@x.fr", "10.0.0.1")
    engine.dispose()


def _content(url: str) -> dict:
    """Every table's rows (ordered by primary key), through SQLAlchemy: what a restore must give back."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    md = MetaData()
    with engine.connect() as conn:
        md.reflect(conn)
        out = {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
               for t in md.sorted_tables}
    engine.dispose()
    return out


def test_postgresql_backup_wipe_restore(pg_url, tmp_path):
    from _pg import fresh_database
    from sqlalchemy import create_engine, text

    from ecgpilot.store import open_database

    url = fresh_database(pg_url, "app")
    _app_database(url)
    files = tmp_path / "files"
    (files / "ab").mkdir(parents=True)
    (files / "ab" / "ecg.xml").write_bytes(b"<ecg/>")
    before = _content(url)
    engine = create_engine(url)
    head_before = audit.head(engine)
    assert audit.verify(engine).ok and head_before[0] == 5
    engine.dispose()
    out = tmp_path / "pg.tar"
    manifest = create_backup(url, files, out)
    assert manifest["database"]["kind"] == "rows" and manifest["database"]["dialect"] == "postgresql"
    assert manifest["database"]["revision"] == "0009"
    assert manifest["database"]["rows"]["audit_log"] == 5 and manifest["database"]["rows"]["outbox"] == 1
    assert verify_backup(out) == manifest
    with pytest.raises(ConfigError, match="already holds rows"):   # the running database is not overwritten by mistake
        restore_backup(out, url, tmp_path / "rf")

    wiped = fresh_database(pg_url, "app")   # dropped and created again: the wipe
    assert _content(wiped) == {}
    restore_backup(out, wiped, tmp_path / "rf")
    after = _content(wiped)
    assert after == before and len(after["audit_log"]) == 5 and after["outbox"][0][-1] == before["outbox"][0][-1]
    assert (tmp_path / "rf" / "ab" / "ecg.xml").read_bytes() == b"<ecg/>"
    engine, _ = open_database(wiped)
    assert audit.verify(engine).ok and audit.head(engine) == head_before
    audit.append(engine, actor_id="user:1", actor_role="gp", action="view", target="study:1")   # the chain goes on
    assert audit.verify(engine).ok and audit.head(engine)[0] == 6
    with engine.begin() as conn:   # the sequences moved past the restored ids
        new_id = conn.execute(text("INSERT INTO practice (name) VALUES ('Autre') RETURNING id")).scalar()
    assert new_id == 2
    engine.dispose()
    # the same archive into a fresh SQLite file: the rows dump is dialect-neutral
    restore_backup(out, tmp_path / "copy.db", tmp_path / "rf2")
    sqlite_copy = create_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    assert audit.verify(sqlite_copy).ok and audit.head(sqlite_copy) == head_before
    sqlite_copy.dispose()


def test_postgresql_restore_into_another_revision_is_refused(pg_url, tmp_path):
    from _pg import fresh_database

    from ecgpilot.store import open_database
    from ecgpilot.store.migrate import downgrade

    url = fresh_database(pg_url, "src")
    _app_database(url)
    (tmp_path / "files").mkdir()
    out = tmp_path / "pg.tar"
    create_backup(url, tmp_path / "files", out)
    other = fresh_database(pg_url, "older")
    engine, _ = open_database(other)
    from ecgpilot.store import migrate

    migrate(engine)
    downgrade(engine, "0008")
    engine.dispose()
    with pytest.raises(ConfigError, match="is at schema revision 0008, the backup at revision 0009"):
        restore_backup(out, other, tmp_path / "rf")
    assert _content(other)["practice"] == []   # nothing written
    unmigrated = fresh_database(pg_url, "bare")
    with pytest.raises(ConfigError, match="has no schema revision"):
        create_backup(unmigrated, tmp_path / "files", tmp_path / "bare.tar")
    with pytest.raises(ConfigError, match="holds a SQLite database file"):
        sqlite_db = tmp_path / "s.db"
        audit.open_audit(sqlite_db).dispose()
        create_backup(sqlite_db, tmp_path / "files", tmp_path / "s.tar")
        restore_backup(tmp_path / "s.tar", other, tmp_path / "rf")
