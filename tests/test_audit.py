"""Audit trail: hash chain, tamper detection, retention checkpoints, stop switch."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ecgpilot import audit
from ecgpilot.errors import ConfigError


@pytest.fixture()
def engine(tmp_path):
    return audit.open_audit(tmp_path / "audit.db")


def _fill(engine, n=5, start=None):
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        audit.append(
            engine, actor_id=f"u{i % 2}", actor_role="gp", action="analysis", target=f"study-{i}",
            input_sha256=hashlib.sha256(bytes([i])).hexdigest(), model_version="resnet-1.0",
            rules_version="rules-2", outputs={"statements": ["SR"], "i": i},
            details={"quality": "ok"}, when=start + timedelta(days=i),
        )


def test_chain_links_and_hash_recomputed_independently(engine):
    _fill(engine, 3)
    rows = audit.entries(engine)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == "0" * 64
    for prev, cur in zip(rows, rows[1:]):
        assert cur["prev_hash"] == prev["hash"]
    # recompute entry 2 by hand from the documented formula
    r = dict(rows[1])
    r["details"] = json.dumps(r["details"], sort_keys=True, separators=(",", ":"))
    body = {k: r[k] for k in r if k != "hash"}
    manual = hashlib.sha256((r["prev_hash"] + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()).hexdigest()
    assert manual == rows[1]["hash"]
    assert rows[1]["outputs_digest"] == hashlib.sha256(b'{"i":1,"statements":["SR"]}').hexdigest()
    assert rows[0]["ts"] == "2026-01-01T00:00:00.000000Z"
    res = audit.verify(engine)
    assert res.ok and res.checked == 3


def test_tampered_row_is_named(engine):
    _fill(engine, 5)
    with engine.begin() as c:
        c.execute(text("UPDATE audit_log SET model_version='other' WHERE seq=3"))
    res = audit.verify(engine)
    assert not res.ok and res.first_bad_seq == 3
    assert "modified" in res.reason and "3" in str(res)


def test_tampered_row_with_recomputed_hash_breaks_next_link(engine):
    _fill(engine, 5)
    rows = audit.entries(engine)
    r = dict(rows[1])
    r["actor_id"] = "intruder"
    r["details"] = json.dumps(r["details"], sort_keys=True, separators=(",", ":"))
    new_hash = audit._entry_hash(r)
    with engine.begin() as c:
        c.execute(text("UPDATE audit_log SET actor_id='intruder', hash=:h WHERE seq=2"), {"h": new_hash})
    res = audit.verify(engine)
    assert not res.ok and res.first_bad_seq == 3


def test_deleted_row_detected(engine):
    _fill(engine, 5)
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq=4"))
    res = audit.verify(engine)
    assert not res.ok and res.first_bad_seq == 4 and "missing" in res.reason


def test_deleted_first_rows_without_checkpoint_detected(engine):
    _fill(engine, 5)
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq<=2"))
    res = audit.verify(engine)
    assert not res.ok and res.first_bad_seq == 2


def test_reordered_rows_detected(engine):
    _fill(engine, 4)
    with engine.begin() as c:  # swap the contents of entries 2 and 3, keeping seq numbers
        c.execute(text("UPDATE audit_log SET seq=-2 WHERE seq=2"))
        c.execute(text("UPDATE audit_log SET seq=2 WHERE seq=3"))
        c.execute(text("UPDATE audit_log SET seq=3 WHERE seq=-2"))
    res = audit.verify(engine)
    assert not res.ok and res.first_bad_seq == 2


def test_truncated_tail_detected_with_saved_head(engine):
    _fill(engine, 4)
    saved = audit.head(engine)
    assert saved[0] == 4
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq=4"))
    assert audit.verify(engine).ok  # invisible from inside the chain
    res = audit.verify(engine, expected_head=saved)
    assert not res.ok and res.first_bad_seq == 4


def test_retention_purge_keeps_chain_verifiable(engine):
    _fill(engine, 10)  # 2026-01-01 .. 2026-01-10
    now = datetime(2026, 1, 12, tzinfo=UTC)
    key = b"secret-checkpoint-key"
    n = audit.purge(engine, older_than_days=5, actor_id="admin1", key=key, now=now)
    # cutoff 2026-01-07: entries of 01..06 (seq 1..6) go
    assert n == 6
    rows = audit.entries(engine)
    assert [r["seq"] for r in rows] == [7, 8, 9, 10, 11]
    cp = rows[-1]
    assert cp["action"] == "checkpoint" and cp["details"]["purged_through_seq"] == 6
    assert cp["details"]["anchor_hash"] == rows[0]["prev_hash"]
    assert audit.verify(engine).ok
    assert audit.verify(engine, key=key).ok
    assert not audit.verify(engine, key=b"wrong").ok
    # a second purge on top of the first still verifies
    later = datetime(2026, 1, 30, tzinfo=UTC)
    audit.append(engine, actor_id="u1", actor_role="gp", action="view", target="study-x", when=later)
    assert audit.purge(engine, older_than_days=5, actor_id="admin1", key=key, now=later) > 0
    assert audit.verify(engine, key=key).ok
    # and deleting more of the head after purge is still caught
    first = audit.entries(engine)[0]["seq"]
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq=:s"), {"s": first})
    assert not audit.verify(engine).ok


def test_forged_checkpoint_detected(engine):
    _fill(engine, 6)
    audit.purge(engine, older_than_days=2, actor_id="admin1", key=b"k", now=datetime(2026, 1, 7, tzinfo=UTC))
    with engine.begin() as c:
        c.execute(text("UPDATE audit_log SET details=replace(details, :a, :b) WHERE action='checkpoint'"),
                  {"a": '"count":', "b": '"count":1'})
    assert not audit.verify(engine).ok


def test_append_refuses_identity_fields_and_bad_values(engine):
    with pytest.raises(ConfigError, match="patient identity"):
        audit.append(engine, actor_id="u", actor_role="gp", action="view", details={"patient_name": "DUPONT"})
    with pytest.raises(ConfigError, match="action"):
        audit.append(engine, actor_id="u", actor_role="gp", action="hack")
    with pytest.raises(ConfigError, match="sha256"):
        audit.append(engine, actor_id="u", actor_role="gp", action="view", input_sha256="abc")
    p = audit.pseudonymise("279035121518989", b"k")
    assert p.startswith("p:") and "279035121518989" not in p and p == audit.pseudonymise("279035121518989", b"k")
    assert p != audit.pseudonymise("279035121518989", b"other")


def test_ai_stop_switch(engine):
    assert audit.ai_enabled(engine) is True
    audit.set_ai_enabled(engine, False, actor_id="admin1", actor_role="admin", reason="drift")
    assert audit.ai_enabled(engine) is False
    audit.set_ai_enabled(engine, True, actor_id="admin1", actor_role="admin")
    assert audit.ai_enabled(engine) is True
    logged = audit.entries(engine, action="settings")
    assert [e["details"]["value"] for e in logged] == [False, True]
    assert audit.verify(engine).ok


def test_cli_audit_verify(engine, tmp_path, capsys):
    from ecgpilot.cli import main

    _fill(engine, 3)
    assert main(["audit", "verify", "--db", str(tmp_path / "audit.db")]) == 0
    assert "OK" in capsys.readouterr().out
    with engine.begin() as c:
        c.execute(text("UPDATE audit_log SET target='x' WHERE seq=2"))
    assert main(["audit", "verify", "--db", str(tmp_path / "audit.db")]) == 1
    assert "entry 2" in capsys.readouterr().out


def test_append_joins_caller_transaction(engine):
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            audit.append(conn, actor_id="u", actor_role="gp", action="signature", target="study-1")
            raise RuntimeError("the signed report could not be stored")
    assert audit.count(engine) == 0  # rolled back together
    with engine.begin() as conn:
        audit.append(conn, actor_id="u", actor_role="gp", action="signature", target="study-1")
    assert audit.count(engine) == 1 and audit.verify(engine).ok


def test_concurrent_writers_keep_one_chain(tmp_path):
    import threading

    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'c.db'}"
    audit.open_audit(url)
    errors = []

    def worker(k):
        eng = create_engine(url, connect_args={"timeout": 30})
        try:
            for i in range(10):
                audit.append(eng, actor_id=f"w{k}", actor_role="gp", action="view", target=f"s{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    eng = audit.open_audit(url)
    assert audit.count(eng) == 40
    assert audit.verify(eng).ok


def test_cli_verify_refuses_missing_database(tmp_path, capsys):
    from ecgpilot.cli import main

    assert main(["audit", "verify", "--db", str(tmp_path / "nope.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_cli_ai_switch(engine, tmp_path, capsys):
    from ecgpilot.cli import main

    db = str(tmp_path / "audit.db")
    assert main(["ai", "off", "--db", db, "--actor", "admin7", "--reason", "incident 12"]) == 0
    assert "DISABLED" in capsys.readouterr().out
    assert audit.ai_enabled(engine) is False
    e = audit.entries(engine, action="settings")[-1]
    assert e["actor_id"] == "admin7" and e["details"]["reason"] == "incident 12"
    assert main(["ai", "on", "--db", db]) == 0 and audit.ai_enabled(engine) is True


def test_concurrent_writers_inside_caller_transactions(tmp_path):
    import threading

    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'c.db'}"
    audit.open_audit(url)
    errors = []

    def worker(k):
        eng = create_engine(url, connect_args={"timeout": 30})
        try:
            for i in range(10):
                with eng.begin() as conn:
                    conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()  # a read before the append
                    audit.append(conn, actor_id=f"w{k}", actor_role="gp", action="change", target=f"s{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    eng = audit.open_audit(url)
    assert audit.count(eng) == 40 and audit.verify(eng).ok


def test_forged_unsigned_checkpoint_caught_by_key(engine):
    _fill(engine, 6)
    # an intruder with write access deletes the first 3 entries and appends a well-chained "checkpoint"
    anchor = audit.entries(engine)[2]["hash"]
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq<=3"))
    audit.append(engine, actor_id="intruder", actor_role="admin", action="checkpoint",
                 details={"purged_from_seq": 1, "purged_through_seq": 3, "anchor_hash": anchor, "count": 3})
    assert audit.verify(engine).ok  # an unkeyed chain can be extended by anyone with write access
    res = audit.verify(engine, key=b"the-real-key")
    assert not res.ok and "signature" in res.reason


def test_a_file_or_url_that_is_not_the_apps_database_is_refused(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite\n" * 100)
    with pytest.raises(ConfigError, match="cannot be opened as the app's database: file is not a database"):
        audit.open_audit(garbage, must_exist=True)
    with pytest.raises(ConfigError, match="not a usable database URL"):
        audit.open_audit("nosuchdriver://x/y")
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ConfigError, match="is an empty file"):
        audit.open_audit(empty, must_exist=True)
    assert empty.stat().st_size == 0  # left as it was
    with pytest.raises(ConfigError, match="does not exist .it is a folder"):
        audit.open_audit(tmp_path, must_exist=True)
