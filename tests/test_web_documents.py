"""The signed report is the doctor's (issue 22, items 1-3): one truth per document, documents frozen at
signing and served byte for byte, ``audit verify`` checking them, a refused signature that changes nothing."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess

import pytest
from _web import csrf_of, login
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_care import MUSE, _api, _configure_identities, _upload, app  # noqa: F401  (the app fixture)

from ecgpilot import audit
from ecgpilot.store.models import ReportDocument, StudyEvent


def _pdf_text(pdf: bytes, tmp_path) -> str:  # noqa: ANN001
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "r.pdf").write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], check=True, capture_output=True,
                         text=True).stdout
    return " ".join(out.split())


def _decide(api: TestClient, sid: int, urgency: str) -> tuple[list[dict], dict]:
    """Confirm every AI statement but the first, reject the first; the doctor's urgency; returns (statements, rejected)."""
    stmts = api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]
    assert len(stmts) >= 2, "the MUSE example's reading has several statements"
    changes = [{"id": s["id"], "decision": "confirmed"} for s in stmts]
    changes[0]["decision"] = "rejected"
    r = api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": changes, "urgency": urgency,
                                                             "add": ["Contrôle dans un an"]})
    assert r.status_code == 200, r.text
    return stmts, stmts[0]


def test_signed_pdf_carries_the_doctors_conclusion_only(app, tmp_path) -> None:  # noqa: ANN001, F811
    api = _api(app, "a@x.fr")
    study = _upload(api)
    sid, ai_level = study["id"], study["ai_urgency"]
    doctor_level = "emergency" if ai_level != "emergency" else "normal"
    stmts, rejected = _decide(api, sid, doctor_level)
    draft = _pdf_text(api.get(f"/api/v1/studies/{sid}/report.pdf").content, tmp_path)
    assert "BROUILLON" in draft and "NON VALIDÉ" in draft          # a draft says so, across the tracing too
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    text = _pdf_text(api.get(f"/api/v1/studies/{sid}/report.pdf").content, tmp_path)
    assert "Conclusion du médecin" in text and "BROUILLON" not in text
    label = {"emergency": "Urgence : urgence", "normal": "Urgence : normal"}[doctor_level]
    assert label in text                                              # the doctor's urgency is the conclusion
    assert rejected["text"] not in text                               # a rejected statement is not printed
    for s in stmts[1:]:
        assert s["text"][:40] in text                                 # the kept ones are
    assert "Contrôle dans un an" in text
    assert "Proposition de l'IA (avant relecture par le médecin)" in text    # the AI only as its own block
    assert "1 rejeté(s)" in text and "ajouté(s) par le médecin" in text
    assert "Lecture de l'appareil (GE Healthcare MAC55) : Sinus bradycardia" in text     # the cart's, apart
    # the study page shows the same conclusion, the AI's urgency only as what it proposed
    web = TestClient(app)
    login(web, "a@x.fr")
    page = web.get(f"/studies/{sid}").text
    conclusion = re.search(r'id="conclusion">(.*?)</div>', page, re.S).group(1)
    assert "Contrôle dans un an" in conclusion and rejected["text"] not in conclusion
    assert f'id="conclusion-urgency">{ {"emergency": "urgence", "normal": "normal"}[doctor_level] }<' in conclusion


def test_signed_documents_are_frozen_and_served_byte_for_byte(app, monkeypatch, tmp_path) -> None:  # noqa: ANN001, F811
    _configure_identities(app)          # RPPS and practice id known at signing: CDA and FHIR are frozen too
    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _decide(api, sid, "soon")
    api.patch(f"/api/v1/studies/{sid}/patient", json={"given_names": "Jean"})
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    pdf1 = api.get(f"/api/v1/studies/{sid}/report.pdf").content
    cda1 = api.get(f"/api/v1/studies/{sid}/report.cda.xml").content
    fhir1 = api.get(f"/api/v1/studies/{sid}/report.fhir.json").content
    assert b"avis cardiologique rapide" in cda1                       # the doctor's level, in the title
    bundle = json.loads(fhir1)
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert report["conclusionCode"][0]["coding"][0]["code"] == "soon"
    with app.state.sessions() as db:
        docs = {(d.kind, d.lang): d.sha256 for d in db.scalars(select(ReportDocument).where(ReportDocument.study_id == sid))}
    assert docs[("pdf", "fr")] == hashlib.sha256(pdf1).hexdigest()
    assert docs[("cda", "fr")] == hashlib.sha256(cda1).hexdigest() and docs[("fhir", "fr")] == hashlib.sha256(fhir1).hexdigest()
    signature = audit.entries(app.state.engine, action="signature")[-1]
    assert signature["details"]["documents"] == {"pdf:fr": docs[("pdf", "fr")], "cda": docs[("cda", "fr")],
                                                 "fhir": docs[("fhir", "fr")]}
    # an upgrade changes the renderer and the exporters: the signed documents do not change
    import ecgpilot.export.cda
    import ecgpilot.export.fhir
    import ecgpilot.render.pdf

    monkeypatch.setattr(ecgpilot.render.pdf, "report_pdf", lambda *a, **k: b"%PDF-1.4 upgraded renderer")
    monkeypatch.setattr(ecgpilot.export.cda, "build_cda", lambda *a, **k: b"<upgraded/>")
    monkeypatch.setattr(ecgpilot.export.fhir, "build_fhir_bundle", lambda *a, **k: {"upgraded": True})
    assert api.get(f"/api/v1/studies/{sid}/report.pdf").content == pdf1
    assert api.get(f"/api/v1/studies/{sid}/report.pdf?lang=en").content == pdf1   # signed in French: that document
    assert api.get(f"/api/v1/studies/{sid}/report.cda.xml").content == cda1
    assert api.get(f"/api/v1/studies/{sid}/report.fhir.json").content == fhir1
    assert api.get(f"/api/v1/studies/{sid}/report.pdf").content != b"%PDF-1.4 upgraded renderer"
    # an amendment is a new version with its own documents; version 1 stays as it was
    assert api.post(f"/api/v1/studies/{sid}/amend").status_code == 200
    assert api.get(f"/api/v1/studies/{sid}/report.pdf").content == b"%PDF-1.4 upgraded renderer"   # the draft: drawn now
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    assert api.get(f"/api/v1/studies/{sid}/report.pdf?version=1").content == pdf1
    assert api.get(f"/api/v1/studies/{sid}/report.pdf?version=2").content == b"%PDF-1.4 upgraded renderer"


def test_audit_verify_checks_the_stored_documents(app, tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001, F811
    from ecgpilot.cli import main

    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _decide(api, sid, "routine")
    assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    data = tmp_path / "data"
    assert main(["audit", "verify", "--db", str(data / "ecgpilot.db")]) == 0
    out = capsys.readouterr().out
    assert "chain intact" in out and "signed documents OK: 1 checked" in out
    # a backup of the database and the stored files carries the signed documents: the restored copy verifies
    from ecgpilot import backup

    backup.create_backup(data / "ecgpilot.db", data / "files", tmp_path / "b.tar")
    backup.restore_backup(tmp_path / "b.tar", tmp_path / "r" / "ecgpilot.db", tmp_path / "r" / "files")
    # the audit key is not in the backup: without it the seals cannot be checked, and verify says so (exit 1)
    assert main(["audit", "verify", "--db", str(tmp_path / "r" / "ecgpilot.db")]) == 1
    assert "seals not checked" in capsys.readouterr().out
    monkeypatch.setenv("ECGPILOT_AUDIT_KEY_FILE", str(data / "audit_key"))   # the key from its safe copy
    assert main(["audit", "verify", "--db", str(tmp_path / "r" / "ecgpilot.db")]) == 0
    assert "signed documents OK: 1 checked" in capsys.readouterr().out
    monkeypatch.delenv("ECGPILOT_AUDIT_KEY_FILE")
    sha = audit.entries(app.state.engine, action="signature")[-1]["details"]["documents"]["pdf:fr"]
    stored = data / "files" / "documents" / sha
    stored.write_bytes(stored.read_bytes().replace(b"%%EOF", b"%%EOF\n% edited"))
    assert main(["audit", "verify", "--db", str(data / "ecgpilot.db"), "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "signed documents BROKEN: 1 of 1" in out and "pdf:fr" in out and "changed" in out
    stored.unlink()
    assert main(["audit", "verify", "--db", str(data / "ecgpilot.db")]) == 1
    assert "missing" in capsys.readouterr().out
    # serving a changed or missing signed document is refused, never re-rendered silently
    assert api.get(f"/api/v1/studies/{sid}/report.pdf").status_code == 422


def test_refused_signature_keeps_what_was_typed_and_logs_nothing(app) -> None:  # noqa: ANN001, F811
    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    web = TestClient(app)
    login(web, "a@x.fr")
    page = web.get(f"/studies/{sid}").text
    ids = re.findall(r'class="statement d-pending" data-id="([^"]+)"', page)
    with app.state.sessions() as db:
        events_before = len(list(db.scalars(select(StudyEvent).where(StudyEvent.study_id == sid))))
    n_audit = audit.count(app.state.engine)
    form = {"csrf": csrf_of(page), "then_sign": "1", "urgency": "routine", "new_statement": "Onde T négative en V1",
            f"decision_{ids[0]}": "confirmed"}
    r = web.post(f"/studies/{sid}/draft", data=form, follow_redirects=False)
    assert r.status_code == 409
    text = html.unescape(r.text)
    assert 'id="sign-error"' in text and "n'est pas signé" in text and f"{len(ids) - 1} énoncé(s) à décider" in text
    assert 'value="Onde T négative en V1"' in r.text                       # what was typed is kept
    flagged = re.findall(r'class="statement d-[a-z]+ to-decide" data-id="([^"]+)"', r.text)
    assert flagged == ids[1:]                                                # the undecided ones are highlighted
    assert not re.search(r"study \d+|\{'|Traceback", text)                 # no internal ids, no Python reprs
    with app.state.sessions() as db:
        assert len(list(db.scalars(select(StudyEvent).where(StudyEvent.study_id == sid)))) == events_before
    assert audit.count(app.state.engine) == n_audit                        # nor in the audit trail
    # the history reads as sentences
    page = html.unescape(web.get(f"/studies/{sid}").text)
    assert "Dr A a déposé l'ECG (MUSE_20200923_093504_79000_example.xml)" in page


def test_cardiologists_answer_taken_into_the_draft_in_one_step(app, tmp_path) -> None:  # noqa: ANN001, F811
    from test_care import _uid

    gp_api, cardio_api = _api(app, "a@x.fr"), _api(app, "c@x.fr")
    study = _upload(gp_api)
    sid = study["id"]
    draft_ids = [s["id"] for s in study["draft"]["statements"]]
    ai = study["interpretation"]["statements"]
    r = gp_api.post(f"/api/v1/studies/{sid}/opinion-requests",
                    json={"cardiologist_id": _uid(app, "c@x.fr"), "question": "BAV 1 ?", "consent": True})
    rid = r.json()["id"]
    # the GP had already confirmed everything before the answer came
    gp_api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": [{"id": i, "decision": "confirmed"} for i in draft_ids],
                                                             "urgency": "routine"})
    opinions = [{"id": s["id"], "agree": s["id"] != draft_ids[0], "comment": "artefact" if s["id"] == draft_ids[0] else ""}
                for s in ai]
    r = cardio_api.post(f"/api/v1/opinions/{rid}/answer",
                        json={"answer": "Contrôle Holter à prévoir", "statements": opinions, "urgency": "soon"})
    assert r.status_code == 200, r.text
    web = TestClient(app)
    login(web, "a@x.fr")
    page = web.get(f"/studies/{sid}").text
    assert f'id="adopt-{rid}"' in page
    r = web.post(f"/opinions/{rid}/adopt", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    draft = gp_api.get(f"/api/v1/studies/{sid}").json()["draft"]
    by_id = {s["id"]: s for s in draft["statements"]}
    assert by_id[draft_ids[0]]["decision"] == "pending"                      # the cardiologist disagreed: to decide again
    assert by_id[draft_ids[0]]["cardio"]["agree"] is False and by_id[draft_ids[0]]["cardio"]["comment"] == "artefact"
    assert all(by_id[i]["decision"] == "confirmed" for i in draft_ids[1:])    # agreed with the GP: unchanged
    holter = by_id[f"cardio-{rid}"]
    assert holter["decision"] == "pending" and "Contrôle Holter à prévoir" in holter["text"]
    assert draft["urgency"]["level"] == "soon" and draft["urgency"]["decision"] == "pending"
    assert gp_api.post(f"/api/v1/studies/{sid}/sign").status_code == 409     # each still decided by the GP
    page = html.unescape(web.get(f"/studies/{sid}").text)
    assert f'id="adopt-{rid}"' not in page                                   # taken once
    assert "Cardiologue (Dr Claire CARDIO) : pas d'accord — artefact" in re.sub(r"<[^>]+>", "", page)
    assert "repris l'avis du cardiologue dans le brouillon" in page           # the history says it
    changes = [{"id": draft_ids[0], "decision": "rejected"}, {"id": f"cardio-{rid}", "decision": "confirmed"}]
    assert gp_api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": changes, "urgency": "soon"}).status_code == 200
    assert gp_api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
    text = _pdf_text(gp_api.get(f"/api/v1/studies/{sid}/report.pdf").content, tmp_path)
    assert "Contrôle Holter à prévoir" in text and "Urgence : avis cardiologique rapide" in text


def test_a_version_signed_before_documents_were_frozen_is_frozen_at_its_first_download(app, monkeypatch) -> None:  # noqa: ANN001, F811
    from ecgpilot.store.models import Study, User
    from ecgpilot.web.services import studies as services

    api = _api(app, "a@x.fr")
    sid = _upload(api)["id"]
    _decide(api, sid, "routine")
    with app.state.sessions() as db:          # as signed by a version of the app that kept no documents
        services.sign(db, db.scalar(select(User).where(User.email == "a@x.fr")), db.get(Study, sid))
    assert not audit.entries(app.state.engine, action="signature")[-1]["details"].get("documents")
    first = api.get(f"/api/v1/studies/{sid}/report.pdf").content
    frozen = [e for e in audit.entries(app.state.engine, action="export") if e["details"].get("documents")]
    assert frozen and frozen[-1]["details"]["documents"]["pdf:fr"] == hashlib.sha256(first).hexdigest()
    import ecgpilot.render.pdf

    monkeypatch.setattr(ecgpilot.render.pdf, "report_pdf", lambda *a, **k: b"%PDF-1.4 upgraded renderer")
    assert api.get(f"/api/v1/studies/{sid}/report.pdf").content == first
