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
