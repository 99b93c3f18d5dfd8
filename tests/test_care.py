"""The care pathway as its users go through it: tele-expertise GP -> cardiologist -> GP, the whole
access matrix, sending the signed report to a real local SMTP server, CDA/FHIR downloads, the
evaluator's pseudonymised indicators (hand-counted), and the schema v1 -> v2 migration."""

from __future__ import annotations

import base64
import html
import email
import email.policy
import re
import time

import numpy as np
import pytest
from _web import PASSWORD, csrf_of, login, make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.store import add_user
from ecgpilot.store.models import Practice, User
from ecgpilot.web.services import evaluation
from test_mssante import tls  # noqa: F401  (the STARTTLS certificate fixture)

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
INS = "255081416802538"  # a valid NIR (key 38), used as a qualified INS


@pytest.fixture()
def app(tmp_path):  # noqa: ANN001, ANN201
    """Practices A and B (GPs a@, b@; evaluator e@ in A), a cardiology practice (c@, d@), an admin of A."""
    app = make_app(tmp_path)
    with app.state.sessions() as db:
        add_user(db, "c@x.fr", PASSWORD, name="Dr Claire CARDIO", role="cardiologist", practice="Cardio")
        add_user(db, "d@x.fr", PASSWORD, name="Dr Denis DUBOIS", role="cardiologist", practice="Cardio")
        add_user(db, "adm@x.fr", PASSWORD, name="Admin A", role="admin", practice="A")
        db.commit()
    return app


def _uid(app, email: str) -> int:  # noqa: ANN001
    with app.state.sessions() as db:
        return db.scalar(select(User.id).where(User.email == email))


def _api(app, email: str) -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    c.headers["Authorization"] = f"Bearer {token_for(app, email)}"
    return c


def _web(app, email: str) -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    assert login(c, email).status_code == 303
    return c


def _upload(api: TestClient) -> dict:
    path = data_file(*MUSE)
    r = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))])
    assert r.status_code == 201, r.text
    return api.get(f"/api/v1/studies/{r.json()[0]['id']}").json()


def _sign(api: TestClient, sid: int, urgency: str = "routine", qualified: bool = True) -> dict:
    if qualified:
        assert api.patch(f"/api/v1/studies/{sid}/patient", json={"ins": INS}).status_code == 200
        check = {"id_document": "cni", "insi": "practice_software"}   # the recorded verification qualifies it
        assert api.post(f"/api/v1/studies/{sid}/identity/verify", json=check).json()["ins_status"] == "qualifiee"
    stmts = api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]
    changes = [{"id": s["id"], "decision": "confirmed"} for s in stmts]
    if len(changes) > 1:
        changes[-1]["decision"] = "rejected"
    assert api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": changes, "urgency": urgency}).status_code == 200
    r = api.post(f"/api/v1/studies/{sid}/sign")
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------------ tele-expertise --

def test_tele_expertise_round_trip_on_pages(app) -> None:  # noqa: ANN001
    gp, cardio = _web(app, "a@x.fr"), _web(app, "c@x.fr")
    study = _upload(_api(app, "a@x.fr"))
    sid, ai_ids = study["id"], [s["id"] for s in study["interpretation"]["statements"]]
    assert ai_ids, "the reading has statements to give an opinion on"
    page = gp.get(f"/studies/{sid}").text
    assert "Dr Claire CARDIO" in page and "Dr Denis DUBOIS" in page  # cardiologists of any practice can be asked
    csrf = csrf_of(page)
    # a bad request says what is wrong
    r = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": str(_uid(app, "b@x.fr")), "question": "?", "consent": "yes"})
    assert r.status_code == 422 and "Choisissez un cardiologue dans la liste" in r.text   # on the study page
    assert 'id="opinion-error"' in r.text and ">?</textarea>" in r.text                   # the question kept
    r = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": str(_uid(app, "c@x.fr")), "question": "QT ?"})
    assert r.status_code == 422 and "consent" in r.text  # the patient's consent is required and recorded
    r = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": str(_uid(app, "c@x.fr")), "question": "  ", "consent": "yes"})
    assert r.status_code == 422 and "question" in r.text
    r = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": str(_uid(app, "c@x.fr")),
                                                 "question": "Repolarisation anormale en V5-V6 ?", "consent": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    # the same question twice to the same cardiologist is refused while open
    again = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": str(_uid(app, "c@x.fr")), "question": "x", "consent": "yes"})
    assert again.status_code == 409
    # the cardiologist is notified and sees the request in the queue
    home = html.unescape(cardio.get("/").text)
    assert 'id="unread"' in home and "Nouvelle demande d'avis" in home
    queue = cardio.get("/opinions").text
    rid = int(re.search(r'data-opinion="(\d+)"', queue).group(1))
    assert "Repolarisation anormale" in queue and "Dr A" in queue
    # the study is read through the request: tracing, identity, the AI statements; not through /studies
    op = cardio.get(f"/opinions/{rid}").text
    assert "<svg" in op and "TESTONE" in op and all(f'name="agree_{i}"' in op for i in ai_ids)
    assert cardio.get(f"/studies/{sid}").status_code == 404
    assert cardio.get(f"/studies/{sid}/report.pdf").status_code == 404
    # an answer that skips a statement is refused, naming it
    csrf_c = csrf_of(op)
    partial = {"csrf": csrf_c, "urgency": "soon", "answer": "Avis"} | {f"agree_{i}": "yes" for i in ai_ids[1:]}
    r = cardio.post(f"/opinions/{rid}/answer", data=partial)
    assert r.status_code == 422 and f'class="statement to-decide" data-id="{ai_ids[0]}"' in r.text   # highlighted
    assert "reste(nt) à décider" in html.unescape(r.text) and ">Avis</textarea>" in r.text   # said; answer kept
    assert r.text.count('value="yes" required checked') == len(ai_ids) - 1                  # choices kept
    full = partial | {f"agree_{ai_ids[0]}": "no", f"comment_{ai_ids[0]}": "Je ne retiens pas cet énoncé"}
    time.sleep(0.05)
    assert cardio.post(f"/opinions/{rid}/answer", data=full, follow_redirects=False).status_code == 303
    assert cardio.post(f"/opinions/{rid}/answer", data=full).status_code == 409  # answered once
    # the GP is notified, reads the answer on the study page; opening it clears the notice
    assert "Avis du cardiologue reçu" in gp.get("/").text
    page = html.unescape(gp.get(f"/studies/{sid}").text)
    assert "Je ne retiens pas cet énoncé" in page and "pas d'accord" in page and "répondu en" in page
    assert 'id="unread"' not in gp.get("/").text
    # turnaround recorded, audit entries written for request and answer
    req = _api(app, "a@x.fr").get(f"/api/v1/studies/{sid}/opinion-requests").json()[0]
    assert req["status"] == "answered" and 0.05 <= req["turnaround_s"] < 60
    assert [o["agree"] for o in req["statements"]] == [False] + [True] * (len(ai_ids) - 1)
    kinds = [e["details"]["kind"] for e in audit.entries(app.state.engine, action="opinion")]
    assert kinds == ["request", "answer"]
    assert audit.entries(app.state.engine, action="opinion")[0]["details"]["patient_consent"] is True
    assert audit.verify(app.state.engine).ok


def test_tele_expertise_api_and_cancel(app) -> None:  # noqa: ANN001
    a, c, d = _api(app, "a@x.fr"), _api(app, "c@x.fr"), _api(app, "d@x.fr")
    sid = _upload(a)["id"]
    cardios = a.get("/api/v1/cardiologists").json()
    assert sorted(x["name"] for x in cardios) == ["Dr Claire CARDIO", "Dr Denis DUBOIS"]
    no_consent = a.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": _uid(app, "d@x.fr"), "question": "QT ?"})
    assert no_consent.status_code == 422 and "consent" in no_consent.json()["detail"]
    r = a.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": _uid(app, "d@x.fr"), "question": "QT ?", "consent": True})
    assert r.status_code == 201
    rid = r.json()["id"]
    assert [n["kind"] for n in d.get("/api/v1/notifications").json()] == ["opinion_requested"]
    assert c.get(f"/api/v1/opinions/{rid}").status_code == 404  # not addressed to c
    assert c.get("/api/v1/opinions").json() == []
    assert [q["id"] for q in d.get("/api/v1/opinions").json()] == [rid]
    assert a.get("/api/v1/opinions").status_code == 403  # a GP has no queue
    assert a.post(f"/api/v1/opinions/{rid}/cancel").json()["status"] == "cancelled"
    # a withdrawn request no longer opens the study for the cardiologist, nor takes an answer
    assert d.get(f"/api/v1/opinions/{rid}").status_code == 404
    assert d.post(f"/api/v1/opinions/{rid}/answer", json={"urgency": "routine", "statements": []}).status_code == 404
    assert "opinion_cancelled" in [n["kind"] for n in d.get("/api/v1/notifications").json()]


# ------------------------------------------------------------------ access matrix ---

def test_access_matrix(app) -> None:  # noqa: ANN001
    """Every study route, page and API, for every kind of user: who gets through, who gets 404/403."""
    owner = _api(app, "a@x.fr")
    sid = _upload(owner)["id"]
    rid = owner.post(f"/api/v1/studies/{sid}/opinion-requests",
                     json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "Avis ?", "consent": True}).json()["id"]
    _sign(owner, sid)
    actors = {"gp_same": "a@x.fr", "gp_other": "b@x.fr", "evaluator": "e@x.fr", "admin": "adm@x.fr",
              "cardio_asked": "c@x.fr", "cardio_not_asked": "d@x.fr"}
    allowed, pseudo, hidden, forbidden = 200, "P", 404, 403
    # expected status per (route, actor); "P" = 200 with the identity removed
    api_routes = {
        f"/api/v1/studies/{sid}": dict(gp_same=allowed, gp_other=hidden, evaluator=pseudo, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/api/v1/studies/{sid}/events": dict(gp_same=allowed, gp_other=hidden, evaluator=allowed, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/api/v1/studies/{sid}/report.pdf": dict(gp_same=allowed, gp_other=hidden, evaluator=forbidden, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/api/v1/studies/{sid}/opinion-requests": dict(gp_same=allowed, gp_other=hidden, evaluator=forbidden, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/api/v1/studies/{sid}/dispatches": dict(gp_same=allowed, gp_other=hidden, evaluator=forbidden, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/api/v1/opinions/{rid}": dict(gp_same=allowed, gp_other=hidden, evaluator=hidden, admin=hidden, cardio_asked=allowed, cardio_not_asked=hidden),
        "/api/v1/evaluation/indicators": dict(gp_same=forbidden, gp_other=forbidden, evaluator=allowed, admin=forbidden, cardio_asked=forbidden, cardio_not_asked=forbidden),
    }
    for route, expected in api_routes.items():
        for actor, addr in actors.items():
            r = _api(app, addr).get(route)
            want = 200 if expected[actor] == pseudo else expected[actor]
            assert r.status_code == want, (route, actor, r.status_code, r.text[:200])
            if expected[actor] == pseudo:
                body = r.text
                assert "TESTONE" not in body and "1980-06-10" not in body and INS not in body, (route, actor)
    page_routes = {
        f"/studies/{sid}": dict(gp_same=allowed, gp_other=hidden, evaluator=pseudo, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/studies/{sid}/report.pdf": dict(gp_same=allowed, gp_other=hidden, evaluator=forbidden, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/studies/{sid}/report.cda.xml": dict(gp_same=hidden, gp_other=hidden, evaluator=forbidden, admin=hidden, cardio_asked=hidden, cardio_not_asked=hidden),
        f"/opinions/{rid}": dict(gp_same=allowed, gp_other=hidden, evaluator=hidden, admin=hidden, cardio_asked=allowed, cardio_not_asked=hidden),
        "/evaluation": dict(gp_same=forbidden, gp_other=forbidden, evaluator=allowed, admin=forbidden, cardio_asked=forbidden, cardio_not_asked=forbidden),
        "/admin/practice": dict(gp_same=forbidden, gp_other=forbidden, evaluator=forbidden, admin=allowed, cardio_asked=forbidden, cardio_not_asked=forbidden),
    }
    # the CDA needs an RPPS and a FINESS: the owner gets a clear 422 until they are set (tested below), so here 422
    page_routes[f"/studies/{sid}/report.cda.xml"]["gp_same"] = 422
    for actor, addr in actors.items():
        web = _web(app, addr)
        for route, expected in page_routes.items():
            r = web.get(route)
            want = 200 if expected[actor] == pseudo else expected[actor]
            assert r.status_code == want, (route, actor, r.status_code)
            if expected[actor] == pseudo:
                assert "TESTONE" not in r.text and "1980-06-10" not in r.text and INS not in r.text
        # the worklist: own practice only; the evaluator's is pseudonymised; the admin's empty
        home = web.get("/").text
        listed = f'data-study="{sid}"' in home
        assert listed == (actor in ("gp_same", "evaluator")), actor
        if actor == "evaluator":
            assert "TESTONE" not in home
    # writes: only the practice's doctors; nobody else learns the study exists
    for actor in ("gp_other", "admin", "cardio_asked", "cardio_not_asked"):
        api = _api(app, actors[actor])
        assert api.post(f"/api/v1/studies/{sid}/amend").status_code == 404, actor
        assert api.post(f"/api/v1/studies/{sid}/send", json={"doctors": ["x@y.fr"]}).status_code == 404, actor
        assert api.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": 1, "question": "q", "consent": True}).status_code == 404
    ev = _api(app, "e@x.fr")
    assert ev.post(f"/api/v1/studies/{sid}/amend").status_code == 403
    assert ev.post(f"/api/v1/studies/{sid}/send", json={"doctors": ["x@y.fr"]}).status_code == 403
    path = data_file(*MUSE)
    for actor in ("evaluator", "admin"):
        r = _api(app, actors[actor]).post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))])
        assert r.status_code == 403 and "cannot upload" in r.json()["detail"], actor


# ------------------------------------------------------------------ sending ---------

def _configure_identities(app) -> None:  # noqa: ANN001
    with app.state.sessions() as db:
        gp = db.scalar(select(User).where(User.email == "a@x.fr"))
        gp.rpps, gp.mssante_address = "10001234567", "dr.a@medecin.mssante.fr"
        practice = db.get(Practice, gp.practice_id)
        practice.org_id = "750000001"
        db.commit()


def test_send_to_doctor_and_patient_record_over_starttls(app, tls) -> None:  # noqa: ANN001, F811
    from test_mssante import _start

    from ecgpilot.export.mssante import SmtpConfig, process_outbox
    from ecgpilot.export.xdm import read_xdm

    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _sign(api, sid, urgency="emergency")
    r = api.post(f"/api/v1/studies/{sid}/send", json={"doctors": ["dr.traitant@medecin.mssante.fr"]})
    assert r.status_code == 422 and "RPPS" in r.json()["detail"]  # says what is missing and where to set it
    _configure_identities(app)
    bad = api.post(f"/api/v1/studies/{sid}/send", json={"doctors": ["not-an-address"]})
    assert bad.status_code == 422 and "not-an-address" in bad.json()["detail"]
    assert api.post(f"/api/v1/studies/{sid}/send", json={}).status_code == 422
    r = api.post(f"/api/v1/studies/{sid}/send", json={"doctors": ["dr.traitant@medecin.mssante.fr"], "to_patient": True})
    assert r.status_code == 202, r.text
    assert sorted(d["kind"] for d in r.json()) == ["dmp", "doctor"] and {d["status"] for d in r.json()} == {"pending"}
    # the server is down first: failed, error kept, nothing lost
    engine = app.state.engine
    server_ctx, client_ctx = tls
    from test_mssante import _free_port

    port = _free_port()
    cfg = SmtpConfig(host="127.0.0.1", port=port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=5)
    assert process_outbox(engine, cfg) == {"sent": 0, "failed": 2}
    states = api.get(f"/api/v1/studies/{sid}/dispatches").json()
    assert {d["status"] for d in states} == {"failed"} and all(d["last_error"] and d["next_attempt_at"] for d in states)
    page = _web(app, "a@x.fr").get(f"/studies/{sid}").text
    assert "échec, nouvel essai prévu" in page
    # the administrator re-arms them; the server is up: delivered, audited
    ctl, sink = _start(server_ctx, port=port)
    try:
        admin = _web(app, "adm@x.fr")
        csrf = csrf_of(admin.get("/admin/practice").text)
        for d in states:
            assert admin.post(f"/admin/outbox/{d['outbox_id']}/retry", data={"csrf": csrf}, follow_redirects=False).status_code == 303
        assert process_outbox(engine, cfg, audit_actor=("system", "system")) == {"sent": 2, "failed": 0}
    finally:
        ctl.stop()
    assert {d["status"] for d in api.get(f"/api/v1/studies/{sid}/dispatches").json()} == {"sent"}
    by_rcpt = {tuple(rcpt): email.message_from_bytes(content, policy=email.policy.SMTP) for _, rcpt, content in sink.messages}
    assert set(by_rcpt) == {("dr.traitant@medecin.mssante.fr",), (f"{INS}@patient.mssante.fr",)}
    assert all(tls_used for tls_used, _, _ in sink.messages)
    to_patient = by_rcpt[(f"{INS}@patient.mssante.fr",)]
    assert to_patient["X-MSS-INS"] == INS and to_patient["From"] == "dr.a@medecin.mssante.fr"
    assert to_patient["Importance"] == "high"  # emergency report
    xdm = next(p for p in to_patient.iter_attachments() if p.get_filename() == "IHE_XDM.ZIP").get_content()
    cda = next(v for k, v in read_xdm(xdm).items() if k.endswith(".XML") and "METADATA" not in k)
    assert INS.encode() in cda and b"10001234567" in cda and b"750000001" in cda
    assert [e["details"]["channel"] for e in audit.entries(engine, action="send")] == ["mssante", "mssante"]
    assert audit.verify(engine).ok


def test_patient_record_needs_a_qualified_identity(app) -> None:  # noqa: ANN001
    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    assert api.patch(f"/api/v1/studies/{sid}/patient", json={"ins": INS}).status_code == 200
    assert api.post(f"/api/v1/studies/{sid}/identity/verify", json={"id_document": "passeport"}).json()["ins_status"] == "validee"
    _sign(api, sid, qualified=False)
    _configure_identities(app)
    r = api.post(f"/api/v1/studies/{sid}/send", json={"to_patient": True})
    assert r.status_code == 422 and "not qualified" in r.json()["detail"]
    assert api.get(f"/api/v1/studies/{sid}/dispatches").json() == []  # nothing half-queued


def test_outbox_worker_sends_in_the_background(tmp_path, tls) -> None:  # noqa: ANN001, F811
    from test_mssante import _start

    from ecgpilot.export.mssante import SmtpConfig

    server_ctx, client_ctx = tls
    ctl, sink = _start(server_ctx)
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=ctl.port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=5)
        app = make_app(tmp_path, smtp=smtp, notice_sender="ecgpilot@cabinet.mssante.fr", base_url="https://ecg.cabinet.fr",
                       outbox_interval_s=0.2)
        with app.state.sessions() as db:
            add_user(db, "c@x.fr", PASSWORD, name="Dr Claire CARDIO", role="cardiologist", practice="Cardio")
            db.commit()
        with TestClient(app) as client:  # the lifespan starts the worker
            client.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
            sid = _upload(client)["id"]
            client.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "Q", "consent": True})
            deadline = time.monotonic() + 20
            while not sink.messages and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        ctl.stop()
    assert len(sink.messages) == 1
    _, rcpt, content = sink.messages[0]
    msg = email.message_from_bytes(content, policy=email.policy.SMTP)
    assert rcpt == ["c@x.fr"] and "https://ecg.cabinet.fr/opinions/1" in msg.get_content()
    assert "TESTONE" not in content.decode("latin-1")  # notices carry no patient data


def test_cda_and_fhir_downloads(app) -> None:  # noqa: ANN001
    R4B = pytest.importorskip("fhir.resources.R4B")
    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _sign(api, sid)
    r = api.get(f"/api/v1/studies/{sid}/report.cda.xml")
    assert r.status_code == 422 and "RPPS" in r.json()["detail"]
    _configure_identities(app)
    cda = api.get(f"/api/v1/studies/{sid}/report.cda.xml")
    assert cda.status_code == 200
    from lxml import etree

    doc = etree.fromstring(cda.content)
    ns = {"h": "urn:hl7-org:v3"}
    assert doc.xpath("string(h:recordTarget/h:patientRole/h:id[@root='1.2.250.1.213.1.4.8']/@extension)", namespaces=ns) == INS
    assert doc.xpath("string(h:recordTarget/h:patientRole/h:patient/h:name/h:family)", namespaces=ns) == "MUSE"
    pdf_b64 = doc.xpath("string(h:component/h:nonXMLBody/h:text)", namespaces=ns)
    pdf = base64.b64decode(pdf_b64)
    from _web import pdf_text

    assert pdf.startswith(b"%PDF") and "TESTONE" in pdf_text(pdf) and "Dr A" in pdf_text(pdf)
    bundle = api.get(f"/api/v1/studies/{sid}/report.fhir.json").json()
    parsed = R4B.get_fhir_model_class("Bundle").model_validate(bundle)
    types = sorted({e.resource.get_resource_type() for e in parsed.entry})
    assert "DiagnosticReport" in types and "Observation" in types and "Patient" in types
    hr = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
          and e["resource"]["code"]["coding"][0]["code"] == "8867-4"]
    study = api.get(f"/api/v1/studies/{sid}").json()
    assert hr and hr[0]["valueQuantity"]["value"] == pytest.approx(study["analysis"]["measurements"]["heart_rate_bpm"])
    formats = [e["details"]["format"] for e in audit.entries(app.state.engine, action="export")]
    assert "CDA R2 N1" in formats and "FHIR R4 Bundle" in formats


# ------------------------------------------------------------------ evaluation ------

def test_wilson_and_quantiles_against_references() -> None:
    # Wilson 95% interval for 8/10: 0.4902-0.9433 (Newcombe 1998, Table I, method 3 for 8/10... as in R's prop.test
    # without continuity correction: binom::binom.wilson(8, 10) -> 0.4901625 0.9433178)
    lo, hi = evaluation.wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = evaluation.wilson(0, 20)  # binom.wilson(0, 20): 0 0.1611252
    assert lo == 0.0 and round(hi, 4) == 0.1611
    assert evaluation.wilson(0, 0) is None
    xs = [5.0, 1.0, 9.0, 3.0, 7.5, 2.25]
    q = evaluation.quantiles(xs)
    assert q["p50"] == pytest.approx(np.percentile(xs, 50)) and q["p90"] == pytest.approx(np.percentile(xs, 90))
    u = evaluation.urgency_agreement([("emergency", "emergency"), ("soon", "emergency"), ("routine", "routine"),
                                      ("normal", "routine"), ("emergency", "soon"), ("bogus", "normal")])
    assert u["n"] == 5 and u["matrix"]["soon"]["emergency"] == 1
    assert u["agreement"]["k"] == 2 and u["under_triage"]["k"] == 2  # soon<-emergency, normal<-routine
    assert u["per_level"]["emergency"]["sensitivity"]["value"] == 0.5
    assert u["per_level"]["emergency"]["ppv"]["value"] == 0.5


def test_indicators_hand_counted(app) -> None:  # noqa: ANN001
    a, b, c = _api(app, "a@x.fr"), _api(app, "b@x.fr"), _api(app, "c@x.fr")
    s1, s2 = _upload(a), _upload(b)
    n1 = len(s1["draft"]["statements"])
    _sign(a, s1["id"], urgency="soon")  # n1-1 confirmed, 1 rejected (when n1 > 1)
    bad = a.post("/api/v1/studies", files=[("files", ("x.txt", b"not an ecg"))]).json()[0]
    assert bad["status"] == "unreadable"
    rid = b.post(f"/api/v1/studies/{s2['id']}/opinion-requests", json={"cardiologist_id": _uid(app, "c@x.fr"),
                                                                       "question": "Q", "consent": True}).json()["id"]
    ai2 = [s["id"] for s in s2["interpretation"]["statements"]]
    body = {"urgency": "emergency", "statements": [{"id": i, "agree": k % 2 == 0} for k, i in enumerate(ai2)]}
    assert c.post(f"/api/v1/opinions/{rid}/answer", json=body).status_code == 200
    ind = _api(app, "e@x.fr").get("/api/v1/evaluation/indicators").json()
    assert ind["activity"]["studies"] == 3 and ind["activity"]["unreadable"] == 1
    assert ind["activity"]["signed"]["k"] == 1 and len(ind["activity"]["by_practice"]) == 2
    assert all(k.startswith("p:") for k in ind["activity"]["by_practice"])
    expect_rejected = 1 if n1 > 1 else 0
    assert ind["doctor_vs_ai"]["ai_statements"].get("confirmed", 0) == n1 - expect_rejected
    assert ind["doctor_vs_ai"]["rejected"]["k"] == expect_rejected and ind["doctor_vs_ai"]["rejected"]["n"] == n1
    assert ind["doctor_vs_ai"]["urgency"]["n"] == (1 if s1["ai_urgency"] else 0)
    agreed = sum(k % 2 == 0 for k in range(len(ai2)))
    assert ind["ai_vs_cardiologist"]["statements_agreed"]["k"] == agreed
    assert ind["ai_vs_cardiologist"]["statements_agreed"]["n"] == len(ai2)
    cu = ind["ai_vs_cardiologist"]["urgency"]
    assert cu["n"] == (1 if s2["ai_urgency"] else 0)
    if s2["ai_urgency"]:
        assert cu["matrix"][s2["ai_urgency"]]["emergency"] == 1
    assert ind["tele_expertise"]["requested"] == 1 and ind["tele_expertise"]["answered"] == 1
    assert ind["tele_expertise"]["turnaround_hours"]["p50"] > 0
    # the evaluator's page and CSV: numbers, never identities
    ev = _web(app, "e@x.fr")
    page = ev.get("/evaluation").text
    assert 'id="n-studies">3<' in page and "TESTONE" not in page
    csv_text = ev.get("/evaluation.csv").text
    rows = csv_text.strip().splitlines()
    assert rows[0].split(",") == list(evaluation.CSV_COLUMNS) and len(rows) == 4
    assert "TESTONE" not in csv_text and "MUSE," not in csv_text and "1980" not in csv_text


# ------------------------------------------------------------------ migration -------

# ------------------------------------------------------------------ AI stop switch --

def test_admin_stops_the_ai_and_the_app_keeps_working(tmp_path) -> None:  # noqa: ANN001
    """The administrator's switch (web page, audited with the reason): the next upload is read
    without the AI (no model version, measurement rules only) and can still be signed."""
    app = make_app(tmp_path, use_ai=True)
    with app.state.sessions() as db:
        add_user(db, "adm@x.fr", PASSWORD, name="Admin A", role="admin", practice="A")
        db.commit()
    api = _api(app, "a@x.fr")
    first = _upload(api)
    assert first["model_version"]  # the shipped model reads while the switch is on
    # the same file again would open this study: archive it so the next upload is read anew
    assert api.post(f"/api/v1/studies/{first['id']}/archive", json={"reason": "test"}).json()["archived"]
    admin = _web(app, "adm@x.fr")
    page = admin.get("/admin/practice").text
    assert 'id="ai-state" class="badge u-normal"' in page
    r = admin.post("/admin/ai", data={"csrf": csrf_of(page), "state": "off", "reason": ""})
    assert r.status_code == 422 and "why" in r.text  # a reason is required
    r = admin.post("/admin/ai", data={"csrf": csrf_of(page), "state": "off", "reason": "incident qualité modèle"},
                   follow_redirects=False)
    assert r.status_code == 303 and audit.ai_enabled(app.state.engine)   # a practice's admin: not the whole instance
    entry = audit.entries(app.state.engine, action="settings")[-1]
    assert entry["details"] == {"setting": "ai_enabled", "value": False, "reason": "incident qualité modèle",
                                "scope": "practice"}
    practice_a = int(entry["target"].split(":")[1])
    assert not audit.ai_enabled(app.state.engine, practice_a)   # but their own practice
    gp = _web(app, "a@x.fr")
    assert gp.post("/admin/ai", data={"csrf": csrf_of(gp.get("/").text), "state": "on"}).status_code == 403
    study = _upload(api)
    assert study["model_version"] is None and study["analysis"]["ai"] is None
    assert study["interpretation"]["statements"]  # manual reading aided by the measurement rules
    assert _sign(api, study["id"])["version"] == 1


# ------------------------------------------------------------------ review findings -

def test_admin_sees_and_retries_only_their_practice_outbox(app) -> None:  # noqa: ANN001
    from ecgpilot.export.mssante import SmtpConfig, process_outbox

    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _sign(api, sid)
    _configure_identities(app)
    assert api.post(f"/api/v1/studies/{sid}/send", json={"to_patient": True}).status_code == 202
    # nothing listens on this port: the error is stored without the recipient's address (it holds the INS)
    from test_mssante import _free_port

    assert process_outbox(app.state.engine, SmtpConfig(host="127.0.0.1", port=_free_port(), timeout=2))["failed"] == 1
    with app.state.sessions() as db:
        add_user(db, "admb@x.fr", PASSWORD, name="Admin B", role="admin", practice="B")
        db.commit()
    own, other = _web(app, "adm@x.fr"), _web(app, "admb@x.fr")
    page_a, page_b = own.get("/admin/practice").text, other.get("/admin/practice").text
    assert 'data-outbox="1"' in page_a and 'data-outbox="1"' not in page_b
    assert INS not in page_a and INS not in page_b
    assert other.post("/admin/outbox/1/retry", data={"csrf": csrf_of(page_b)}).status_code == 404
    assert own.post("/admin/outbox/1/retry", data={"csrf": csrf_of(page_a)}, follow_redirects=False).status_code == 303


def test_empty_csrf_token_never_matches(app) -> None:  # noqa: ANN001
    fresh = TestClient(app)  # a session without a token yet: an empty one must not pass (login CSRF)
    r = fresh.post("/login", data={"csrf": "", "email": "a@x.fr", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    r = fresh.post("/login", data={"email": "a@x.fr", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_evaluator_sees_no_file_name_no_free_text(app) -> None:  # noqa: ANN001
    api = _api(app, "a@x.fr")
    path = data_file(*MUSE)
    r = api.post("/api/v1/studies", files=[("files", ("DUPONT_Jean_1950-01-01.xml", path.read_bytes()))])
    sid = r.json()[0]["id"]
    api.post(f"/api/v1/studies/{sid}/opinion-requests",
             json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "M. DUPONT, 74 ans, douleur ?", "consent": True})
    ev_api, ev_web = _api(app, "e@x.fr"), _web(app, "e@x.fr")
    for text in (ev_api.get(f"/api/v1/studies/{sid}").text, ev_api.get("/api/v1/studies").text,
                 ev_api.get(f"/api/v1/studies/{sid}/events").text, ev_web.get(f"/studies/{sid}").text,
                 ev_web.get("/").text, ev_web.get("/evaluation.csv").text):
        assert "DUPONT" not in text and "TESTONE" not in text and "1950" not in text
    assert "DUPONT" in api.get(f"/api/v1/studies/{sid}").text  # the doctors still see everything


def test_answer_and_withdrawal_racing(app) -> None:  # noqa: ANN001
    from ecgpilot.store.models import OpinionRequest, Study
    from ecgpilot.web.services import care
    from ecgpilot.web.services.common import Conflict

    a = _api(app, "a@x.fr")
    study = _upload(a)
    rid = a.post(f"/api/v1/studies/{study['id']}/opinion-requests",
                 json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "Q", "consent": True}).json()["id"]
    with app.state.sessions() as s_cardio, app.state.sessions() as s_gp:
        cardio = s_cardio.get(User, _uid(app, "c@x.fr"))
        req_c = s_cardio.get(OpinionRequest, rid)  # the cardiologist has the page open...
        gp = s_gp.get(User, _uid(app, "a@x.fr"))
        care.cancel_opinion(s_gp, gp, s_gp.get(OpinionRequest, rid))  # ...the GP withdraws meanwhile
        agreement = {x["id"]: {"agree": True} for x in (s_cardio.get(Study, study["id"]).interpretation["statements"])}
        with pytest.raises(Conflict, match="changed meanwhile"):
            care.answer_opinion(s_cardio, cardio, req_c, "late", agreement, "routine")
    final = a.get(f"/api/v1/studies/{study['id']}/opinion-requests").json()[0]
    assert final["status"] == "cancelled" and final["answer"] is None


def test_double_send_refused_unless_asked(app) -> None:  # noqa: ANN001
    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _sign(api, sid)
    _configure_identities(app)
    body = {"doctors": ["dr.traitant@medecin.mssante.fr"]}
    assert api.post(f"/api/v1/studies/{sid}/send", json=body).status_code == 202
    again = api.post(f"/api/v1/studies/{sid}/send", json=body)
    assert again.status_code == 409 and "already queued" in again.json()["detail"]
    assert api.post(f"/api/v1/studies/{sid}/send", json=body | {"resend": True}).status_code == 202
    assert len(api.get(f"/api/v1/studies/{sid}/dispatches").json()) == 2


def test_bad_form_values_are_clear_errors_not_500(app) -> None:  # noqa: ANN001
    gp = _web(app, "a@x.fr")
    sid = _upload(_api(app, "a@x.fr"))["id"]
    csrf = csrf_of(gp.get(f"/studies/{sid}").text)
    r = gp.post(f"/studies/{sid}/opinion", data={"csrf": csrf, "cardiologist_id": "²", "question": "Q", "consent": "yes"})
    assert r.status_code == 422 and "Choisissez un cardiologue" in r.text
    r = gp.post("/account", data={"csrf": csrf, "rpps": "¹" * 11})
    assert r.status_code == 422 and "RPPS" in r.text
    r = gp.post("/account", data={"csrf": csrf, "mssante_address": "a@x.mssante.fr, b@x.mssante.fr"})
    assert r.status_code == 422 and "one MSSanté address" in html.unescape(r.text)


def test_csv_leaves_agreement_empty_for_unanswered_requests(app) -> None:  # noqa: ANN001
    a = _api(app, "a@x.fr")
    sid = _upload(a)["id"]
    a.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "Q", "consent": True})
    rows = _web(app, "e@x.fr").get("/evaluation.csv").text.strip().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    cells = dict(zip(header, row))
    assert cells["opinion_status"] == "open" and cells["cardiologist_agreed"] == "" and cells["cardiologist_disagreed"] == ""


def test_model_card_served_to_every_user(app) -> None:  # noqa: ANN001
    from pathlib import Path

    card = (Path(__file__).resolve().parents[1] / "MODEL_CARD.md").read_text(encoding="utf-8")
    first_heading = next(line for line in card.splitlines() if line.startswith("#"))
    for who in ("a@x.fr", "e@x.fr", "adm@x.fr", "c@x.fr"):
        page = html.unescape(_web(app, who).get("/model-card/technical").text)
        assert first_heading in page and "fold 10" in page, who
        assert 'href="/model-card/technical"' in _web(app, who).get("/model-card").text, who
    assert TestClient(app).get("/model-card", follow_redirects=False).status_code == 303  # login first


def test_evaluation_page_in_both_languages(app) -> None:  # noqa: ANN001
    ev = _web(app, "e@x.fr")
    fr = html.unescape(ev.get("/evaluation?lang=fr").text)
    en = html.unescape(ev.get("/evaluation?lang=en").text)
    assert "Décisions des médecins" in fr and "Télé-expertise" in fr
    assert "The doctors' decisions on the AI proposal" in en and "Tele-expertise" in en and "Décisions" not in en
