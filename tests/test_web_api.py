"""REST API /api/v1: the doctor's whole cycle by token, and one error shape everywhere."""

from __future__ import annotations

import pytest
from _web import make_app, pdf_text, token_for
from conftest import data_file
from fastapi.testclient import TestClient

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture()
def api(tmp_path):  # noqa: ANN001, ANN201
    app = make_app(tmp_path)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    return client


def _assert_problem(r, status: int) -> dict:  # noqa: ANN001
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status and body["detail"]
    return body


def test_errors_are_problem_json(api, tmp_path) -> None:  # noqa: ANN001
    anon = TestClient(api.app)
    body = _assert_problem(anon.get("/api/v1/studies"), 401)
    assert "Bearer" in body["detail"]
    _assert_problem(anon.get("/api/v1/studies", headers={"Authorization": "Bearer nope"}), 401)
    _assert_problem(api.get("/api/v1/studies/999"), 404)
    _assert_problem(api.get("/api/v1/studies/abc"), 422)
    _assert_problem(api.get("/api/v1/studies?status=bogus"), 422)
    _assert_problem(api.post("/api/v1/studies", files=[("files", ("e.xml", b""))]), 422)   # empty: nothing to read
    _assert_problem(api.get("/api/v1/nothing-here"), 404)
    _assert_problem(api.delete("/api/v1/studies"), 405)


def test_openapi_and_docs(api) -> None:  # noqa: ANN001
    spec = api.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/studies", "/api/v1/studies/{study_id}", "/api/v1/studies/{study_id}/statements",
                 "/api/v1/studies/{study_id}/sign", "/api/v1/studies/{study_id}/report.pdf"):
        assert path in spec["paths"]
    assert "/api/v1/studies/{study_id}/sign" in api.get("/api/v1/docs").text


def test_api_cycle_upload_patch_sign_amend(api) -> None:  # noqa: ANN001
    path = data_file(*MUSE)
    r = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))])
    assert r.status_code == 201
    (study,) = r.json()
    sid = study["id"]
    assert study["status"] == "to_read" and study["patient"]["family_name"] == "MUSE"
    full = api.get(f"/api/v1/studies/{sid}").json()
    assert full["analysis"]["file"]["sha256"] == study["file"]["sha256"]
    assert full["interpretation"]["statements"] and full["rules_version"]
    stmts = full["draft"]["statements"]
    first = stmts[0]
    # identity with a valid INS (Wikipedia's NIR example, key 38) and a wrong one
    ok = api.patch(f"/api/v1/studies/{sid}/patient", json={"ins": "2 55 08 14 168 025 38", "ins_status": "provisoire"})
    assert ok.status_code == 200 and ok.json()["ins"] == "255081416802538"
    bad = _assert_problem(api.patch(f"/api/v1/studies/{sid}/patient", json={"ins": "255081416802539"}), 422)
    assert "expected 38" in bad["detail"]
    _assert_problem(api.post(f"/api/v1/studies/{sid}/sign"), 409)
    draft_pdf = api.get(f"/api/v1/studies/{sid}/report.pdf")
    assert draft_pdf.headers["content-type"] == "application/pdf"
    assert "NON VALID" in pdf_text(draft_pdf.content)  # the renderer's banner on an unsigned report
    changes = [{"id": first["id"], "decision": "edited", "text": "Corrigé"}]
    changes += [{"id": s["id"], "decision": "rejected"} for s in stmts[1:]]
    draft = api.patch(f"/api/v1/studies/{sid}/statements",
                      json={"changes": changes, "add": ["Contrôle dans 1 an"], "urgency": "normal"}).json()
    assert [s["decision"] for s in draft["statements"]][: len(stmts)] == ["edited"] + ["rejected"] * (len(stmts) - 1)
    signed = api.post(f"/api/v1/studies/{sid}/sign")
    assert signed.status_code == 201
    rep = signed.json()
    assert rep["version"] == 1 and rep["content"]["statements"] == ["Corrigé", "Contrôle dans 1 an"]
    assert rep["content"]["patient"]["ins"] == "255081416802538" and rep["content"]["doctor"] == "Dr A"
    # a signed report is immutable
    _assert_problem(api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["late"]}), 409)
    signed_pdf = pdf_text(api.get(f"/api/v1/studies/{sid}/report.pdf").content)
    assert "Corrig" in signed_pdf and "Dr A" in signed_pdf and "NON VALID" not in signed_pdf
    # amendment: a new version, the first one unchanged
    assert api.post(f"/api/v1/studies/{sid}/amend").json()["status"] == "to_read"
    api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["Ajout après relecture"]})
    rep2 = api.post(f"/api/v1/studies/{sid}/sign").json()
    assert rep2["version"] == 2 and rep2["content"]["statements"][-1] == "Ajout après relecture"
    reports = api.get(f"/api/v1/studies/{sid}").json()["reports"]
    assert [r["version"] for r in reports] == [1, 2]
    assert reports[0]["content"] == rep["content"] and reports[0]["sha256"] == rep["sha256"]
    # every change by the doctor: who, when, before/after
    events = api.get(f"/api/v1/studies/{sid}/events").json()
    edit = next(e for e in events if e["action"] == "statement" and e["target"] == first["id"])
    assert edit["before"] == {"decision": "pending", "text": first["ai_text"]}
    assert edit["after"] == {"decision": "edited", "text": "Corrigé"}
    assert [e["action"] for e in events].count("sign") == 2


def test_bad_decision_and_unknown_statement(api) -> None:  # noqa: ANN001
    r = api.post("/api/v1/studies", files=[("files", ("x.txt", b"not an ECG"))])
    (study,) = r.json()
    assert study["status"] == "unreadable" and study["error"]
    _assert_problem(api.patch(f"/api/v1/studies/{study['id']}/statements", json={"changes": [{"id": "x", "decision": "maybe"}]}), 422)


def test_wfdb_pair_is_one_study(api) -> None:  # noqa: ANN001
    hea, dat = data_file("ludb", "data", "1.hea"), data_file("ludb", "data", "1.dat")
    r = api.post("/api/v1/studies", files=[("files", (p.name, p.read_bytes())) for p in (hea, dat)])
    assert r.status_code == 201
    (study,) = r.json()
    assert study["file"]["names"] == ["1.hea", "1.dat"] and study["file"]["format"] == "wfdb"
    full = api.get(f"/api/v1/studies/{study['id']}").json()
    # same signal hash as `ecgpilot analyze` computes from the files in place
    from ecgpilot.analysis import _sha256

    assert full["file"]["sha256"] == _sha256(hea)
    assert len(full["analysis"]["record"]["leads"]) == 12


def test_not_interpretable_keeps_the_tracing(api) -> None:  # noqa: ANN001
    # CinC 2017 A00205 is labelled noisy ('~') in the challenge's REFERENCE.csv
    hea, mat = data_file("cinc2017-subset", "A00205.hea"), data_file("cinc2017-subset", "A00205.mat")
    (study,) = api.post("/api/v1/studies", files=[("files", (p.name, p.read_bytes())) for p in (hea, mat)]).json()
    full = api.get(f"/api/v1/studies/{study['id']}").json()
    assert full["analysis"]["quality"]["verdict"] == "not_interpretable"
    assert full["analysis"]["measurements"] is None
    from _web import login

    login(api, "a@x.fr")
    page = api.get(f"/studies/{study['id']}").text
    assert 'id="not-interpretable"' in page and "<svg" in page


def test_actions_reach_the_audit_trail_and_stop_switch(api) -> None:  # noqa: ANN001
    from ecgpilot import audit

    engine = api.app.state.engine
    path = data_file(*MUSE)
    (study,) = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()
    sid = study["id"]
    stmts = api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]
    api.patch(f"/api/v1/studies/{sid}/statements",
              json={"changes": [{"id": s["id"], "decision": "confirmed"} for s in stmts], "urgency": "routine"})
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    api.get(f"/api/v1/studies/{sid}/report.pdf")
    rows = audit.entries(engine, target=f"study:{sid}")
    assert [r["action"] for r in rows] == ["analysis", "view", "change", "signature", "export"]   # the API read audited
    assert rows[1]["details"] == {"via": "api"}
    assert rows[0]["input_sha256"] == study["file"]["sha256"]
    assert audit.verify(engine).ok
    assert "TESTONE" not in str(audit.entries(engine))
    # the administrator's AI stop switch is obeyed by the next upload
    api.app.state.settings.use_ai = True
    audit.set_ai_enabled(engine, False, actor_id="1", actor_role="admin", reason="test")
    (second,) = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()
    assert api.get(f"/api/v1/studies/{second['id']}").json()["analysis"]["ai"] is None
    assert audit.entries(engine, target=f"study:{second['id']}")[0]["details"]["ai"] is False


def test_worklist_order_urgent_first(api) -> None:  # noqa: ANN001
    ids = []
    for n in ("1", "2", "3"):
        files = [("files", (f"{n}.{ext}", data_file("ludb", "data", f"{n}.{ext}").read_bytes())) for ext in ("hea", "dat")]
        ids.append(api.post("/api/v1/studies", files=files).json()[0]["id"])
    api.patch(f"/api/v1/studies/{ids[0]}/statements", json={"urgency": "emergency"})
    api.patch(f"/api/v1/studies/{ids[1]}/statements", json={"urgency": "normal"})
    api.patch(f"/api/v1/studies/{ids[2]}/statements", json={"urgency": "soon"})
    listed = api.get("/api/v1/studies?status=to_read").json()
    assert [s["id"] for s in listed] == [ids[0], ids[2], ids[1]]
    assert [s["urgency"] for s in listed] == ["emergency", "soon", "normal"]
