"""The audit trail anchored outside the database: keyed seals (instance key not in the database), the head
exported to a signed file, ``audit verify --expect-head``, signed reports covered.

The attacks are those of issue 23: truncating the last rows, rewriting an entry and recomputing the whole
SHA-256 chain, and rewriting a signed report's content with its hash recomputed. Each passes the bare
hash chain; each must fail here."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from _web import make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import text

from ecgpilot import audit, cli
from ecgpilot.errors import ConfigError
from ecgpilot.web import Settings, create_app

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


def _recompute_chain(engine, change_seq: int, **changes) -> None:  # noqa: ANN001
    """What an attacker with write access to the database (and the documented formula) can do: change an
    entry, then recompute every hash after it so the SHA-256 chain links again."""
    with engine.begin() as c:
        rows = [dict(r._mapping) for r in c.execute(text("SELECT * FROM audit_log ORDER BY seq"))]
        prev = None
        for r in rows:
            if r["seq"] == change_seq:
                r.update(changes)
            if prev is not None:
                r["prev_hash"] = prev
            r["hash"] = audit._entry_hash(r)
            c.execute(text("UPDATE audit_log SET prev_hash=:p, hash=:h, details=:d, actor_id=:a WHERE seq=:s"),
                      {"p": r["prev_hash"], "h": r["hash"], "d": r["details"], "a": r["actor_id"], "s": r["seq"]})
            prev = r["hash"]


def _instance(tmp_path):  # noqa: ANN001, ANN202
    """An app (data folder with its audit key and head), one study uploaded, analysed, signed."""
    app = make_app(tmp_path)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    path = data_file(*MUSE)
    sid = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()[0]["id"]
    draft = api.get(f"/api/v1/studies/{sid}").json()["draft"]
    changes = [{"id": s["id"], "decision": "confirmed"} for s in draft["statements"]]
    assert api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": changes, "urgency": "routine"}).status_code == 200
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    api.get(f"/api/v1/studies/{sid}")   # an audited API read after the signature
    return app, api, sid, tmp_path / "data"


def _verify(data_dir, *extra: str) -> tuple[int, str]:  # noqa: ANN001
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["audit", "verify", "--db", str(data_dir / "ecgpilot.db"), *extra])
    return code, out.getvalue()


def test_key_file_is_private_and_outside_the_database(tmp_path) -> None:  # noqa: ANN001
    app, _api, _sid, data = _instance(tmp_path)
    key_file = data / "audit_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 64
    raw = (data / "ecgpilot.db").read_bytes()
    assert key.encode() not in raw   # never in the database
    anchor = json.loads((data / "audit-head.json").read_text())
    assert anchor["seq"] == audit.head(app.state.engine)[0] and anchor["hash"] == audit.head(app.state.engine)[1]
    code, out = _verify(data)
    assert code == 0, out
    assert "chain intact" in out and "seals checked" in out and "signed reports OK: 1" in out


def test_truncated_last_rows_are_detected(tmp_path) -> None:  # noqa: ANN001
    app, _api, _sid, data = _instance(tmp_path)
    engine = app.state.engine
    seq, h = audit.head(engine)
    with engine.begin() as c:   # the last two entries removed (with their seals: a careful attacker)
        c.execute(text("DELETE FROM audit_log WHERE seq > :s"), {"s": seq - 2})
        c.execute(text("DELETE FROM audit_seal WHERE seq > :s"), {"s": seq - 2})
    assert audit.verify(engine).ok   # the bare chain cannot see it
    code, out = _verify(data)   # the exported head can
    assert code == 1 and "removed from the end" in out
    os.rename(data / "audit-head.json", data / "elsewhere.json")   # without the file: the head kept by the operator
    code, out = _verify(data, "--expect-head", h)
    assert code == 1 and "no entry has the expected head hash" in out
    code, out = _verify(data, "--expect-head", f"{seq}:{h}")
    assert code == 1 and "removed from the end" in out
    # and the app refuses to start on top of it
    os.rename(data / "elsewhere.json", data / "audit-head.json")
    with pytest.raises(ConfigError, match="does not match its saved head"):
        create_app(Settings(data_dir=data, secret_key="k", use_ai=False))


def test_recomputed_chain_is_detected_by_the_seals_and_the_head(tmp_path) -> None:  # noqa: ANN001
    app, _api, _sid, data = _instance(tmp_path)
    engine = app.state.engine
    _recompute_chain(engine, 2, actor_id="someone-else")
    assert audit.verify(engine).ok   # the SHA-256 chain links again
    key = audit.load_key(data)
    res = audit.verify(engine, seal_key=key)
    assert not res.ok and res.first_bad_seq == 2 and "seal" in res.reason
    code, out = _verify(data)
    assert code == 1 and "BROKEN at entry 2" in out
    # an attacker who also drops every seal is caught by the signed head (sealed from entry 1)
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_seal"))
    code, out = _verify(data)
    assert code == 1 and ("no seal" in out or "differs from the saved head" in out)


def test_forged_head_file_is_detected(tmp_path) -> None:  # noqa: ANN001
    app, _api, _sid, data = _instance(tmp_path)
    engine = app.state.engine
    seq, _ = audit.head(engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": seq})
    new_seq, new_h = audit.head(engine)
    doc = json.loads((data / "audit-head.json").read_text())
    doc.update(seq=new_seq, hash=new_h)   # the head file rewritten to match, without the key
    (data / "audit-head.json").write_text(json.dumps(doc))
    code, out = _verify(data)
    assert code == 1 and "signature does not match" in out


def test_signed_report_rewritten_with_its_hash_recomputed_is_detected(tmp_path) -> None:  # noqa: ANN001
    app, _api, sid, data = _instance(tmp_path)
    engine = app.state.engine
    with engine.begin() as c:
        raw = c.execute(text("SELECT content FROM report WHERE study_id = :s"), {"s": sid}).scalar()
        content = json.loads(raw)
        content["statements"] = ["Rythme sinusal normal"]   # what the doctor did not sign
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        c.execute(text("UPDATE report SET content = :c, content_sha256 = :h WHERE study_id = :s"),
                  {"c": json.dumps(content), "h": digest, "s": sid})
    assert audit.verify(engine).ok   # the chain itself is untouched
    res = audit.verify_reports(engine)
    assert not res.ok and res.bad[0][:2] == (sid, 1) and "sealed in the audit trail" in res.bad[0][2]
    code, out = _verify(data)
    assert code == 1 and "signed reports BROKEN" in out


def test_start_refused_when_the_key_is_lost_or_replaced(tmp_path) -> None:  # noqa: ANN001
    _app, _api, _sid, data = _instance(tmp_path)
    os.rename(data / "audit_key", tmp_path / "key.saved")
    with pytest.raises(ConfigError, match="not this instance's audit key"):
        create_app(Settings(data_dir=data, secret_key="k", use_ai=False))
    assert not (data / "audit_key").exists()   # no new key was made in its place
    os.rename(tmp_path / "key.saved", data / "audit_key")
    create_app(Settings(data_dir=data, secret_key="k", use_ai=False))   # the right key: starts


def test_key_from_the_environment(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("ECGPILOT_AUDIT_KEY", "k" * 40)
    app = make_app(tmp_path)
    assert not (tmp_path / "data" / "audit_key").exists()
    audit.append(app.state.engine, actor_id="t", actor_role="admin", action="admin")
    assert audit.verify(app.state.engine, seal_key=b"k" * 40).ok
    assert not audit.verify(app.state.engine, seal_key=b"x" * 40).ok
    monkeypatch.setenv("ECGPILOT_AUDIT_KEY", "short")
    with pytest.raises(ConfigError, match="32 characters"):
        audit.load_key(tmp_path)


def test_api_reads_of_patient_data_are_audited(tmp_path) -> None:  # noqa: ANN001
    app, api, sid, _data = _instance(tmp_path)
    before = len(audit.entries(app.state.engine, action="view"))
    api.get(f"/api/v1/studies/{sid}")
    api.get(f"/api/v1/studies/{sid}/events")
    api.get("/api/v1/studies")
    views = audit.entries(app.state.engine, action="view")[before:]
    kinds = [(v["target"], v["details"].get("kind"), v["details"].get("via")) for v in views]
    assert (f"study:{sid}", None, "api") in kinds
    assert (f"study:{sid}", "events", "api") in kinds
    assert any(k[1] == "worklist" and k[2] == "api" for k in kinds)


def test_free_text_a_gp_typed_is_withheld_from_the_evaluator(tmp_path) -> None:  # noqa: ANN001
    from _web import login

    from ecgpilot.web.services.access import WITHHELD

    app = make_app(tmp_path)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    path = data_file(*MUSE)
    sid = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()[0]["id"]
    draft = api.get(f"/api/v1/studies/{sid}").json()["draft"]
    first, *rest = draft["statements"]
    changes = [{"id": first["id"], "decision": "edited", "text": "Mme DUPONT Jeanne, vue le 3/12"}]
    changes += [{"id": s["id"], "decision": "confirmed"} for s in rest]
    assert api.patch(f"/api/v1/studies/{sid}/statements",
                     json={"changes": changes, "add": ["Patient M. MARTIN Paul, INS 1 85 05..."],
                           "urgency": "routine"}).status_code == 200
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    ev = TestClient(app)
    ev.headers["Authorization"] = f"Bearer {token_for(app, 'e@x.fr')}"
    doc = ev.get(f"/api/v1/studies/{sid}").text
    assert "DUPONT" not in doc and "MARTIN" not in doc and WITHHELD.split(" /")[0] in doc
    body = ev.get(f"/api/v1/studies/{sid}").json()
    assert [s["text"] for s in body["draft"]["statements"][1:len(rest) + 1]] == [s["ai_text"] for s in rest]  # AI wording kept
    page = TestClient(app)
    login(page, "e@x.fr")
    html = page.get(f"/studies/{sid}").text
    assert "DUPONT" not in html and "MARTIN" not in html
    # the GP who typed it still sees it
    assert "DUPONT" in api.get(f"/api/v1/studies/{sid}").text
