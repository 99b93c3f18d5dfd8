"""The app fits a practice (issue 22, items 4-8): INS as printed and the identity verification,
practice administration, the cart's reading on the study page, the previous ECG, worklist hygiene."""

from __future__ import annotations

import html
import re

import pytest
from _web import PASSWORD, csrf_of, login, make_app
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.store import add_user
from ecgpilot.store.models import Practice, Study, User

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


@pytest.fixture()
def app(tmp_path):  # noqa: ANN001, ANN201
    return make_app(tmp_path)


def _client(app, email: str = "a@x.fr") -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    assert login(c, email).status_code == 303
    return c


def _upload(c: TestClient, name: str, content: bytes):  # noqa: ANN202
    return c.post("/upload", data={"csrf": csrf_of(c.get("/").text)}, files=[("files", (name, content))],
                  follow_redirects=False)


def _text(page: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert m, f"no #{element_id} on the page"
    return html.unescape(m.group(1)).strip()


def _muse() -> tuple[str, bytes]:
    path = data_file(*MUSE)
    return path.name, path.read_bytes()


def test_ins_as_printed_a_bad_key_explained_and_qualification_only_by_verification(app) -> None:  # noqa: ANN001
    c = _client(app)
    url = _upload(c, *_muse()).headers["location"]
    page = c.get(url).text
    csrf = csrf_of(page)
    assert 'pattern="' not in page.split('id="ins"')[1].split(">")[0]   # no browser-only refusal any more
    assert 'id="ins_status"' not in page  # the status is not a free choice
    # a wrong key: a French explanation, the typed value kept, nothing saved
    r = c.post(url + "/identity", data={"csrf": csrf, "family_name": "MUSE", "ins": "1 44 05 75 123 456 46"})
    assert r.status_code == 422
    assert "46 saisi, 45 attendu" in _text(r.text, "identity-error")
    assert 'value="1 44 05 75 123 456 46"' in r.text
    # as printed on the card: accepted and normalised
    r = c.post(url + "/identity", data={"csrf": csrf, "family_name": "MUSE", "ins": "1 44 05 75 123 456 45"},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(url).text
    assert 'value="144057512345645"' in page
    # typing "qualifiée" is refused: it takes the verification step
    r = c.post(url + "/identity", data={"csrf": csrf, "ins_status": "qualifiee"})
    assert r.status_code == 422 and "verification" in _text(r.text, "identity-error")
    # the INSi teleservice is not reachable offline: said in French, nothing changes
    r = c.post(url + "/identity/verify", data={"csrf": csrf, "id_document": "cni", "insi": "teleservice"})
    assert r.status_code == 503 and "pas joignable" in _text(r.text, "verify-error")
    # ID card seen + INSi queried in the practice software: qualified, with who and how
    r = c.post(url + "/identity/verify", data={"csrf": csrf, "id_document": "cni", "insi": "practice_software"},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(url).text
    assert _text(page, "ins-status") == "Qualifiée"
    check = _text(page, "identity-check")
    assert check.startswith("Vérifiée par Dr A le ") and "carte nationale d'identité" in check and "INSi" in check
    assert _text(page, "age") == "40 ans"  # from the file (GE MUSE <PatientAge>)
    changes = [e["details"]["changes"][0] for e in audit.entries(app.state.engine, action="change")]
    assert {"what": "identity_check", "status": "qualifiee", "id_document": "cni", "insi": "practice_software"} in changes
    # a changed trait is no longer verified
    c.post(url + "/identity", data={"csrf": csrf, "given_names": "TESTTWO"})
    assert _text(c.get(url).text, "ins-status") == "Provisoire"


def test_same_file_twice_opens_the_first_study(app, tmp_path) -> None:  # noqa: ANN001
    c = _client(app)
    first = _upload(c, *_muse()).headers["location"]
    again = _upload(c, *_muse())
    assert again.headers["location"] == first + "?notice=duplicate"
    assert "déjà été déposé" in _text(c.get(again.headers["location"]).text, "duplicate-notice")
    assert c.get("/").text.count('class="open"') == 1
    with app.state.sessions() as db:
        assert len(list(db.scalars(select(Study)))) == 1
    assert not list((tmp_path / "data" / "tmp").glob("*"))  # nothing staged for the second upload
    # another practice's copy of the same file is its own study
    other = _client(app, "b@x.fr")
    assert _upload(other, *_muse()).headers["location"] != first


def test_archive_an_unreadable_upload_audited_and_restore(app) -> None:  # noqa: ANN001
    c = _client(app)
    url = _upload(c, "notes.txt", b"this is not an ECG at all\n" * 10).headers["location"]
    page = c.get(url).text
    assert 'id="archive-form"' in page
    r = c.post(url + "/archive", data={"csrf": csrf_of(page), "reason": ""})
    assert r.status_code == 422 and "pourquoi" in _text(r.text, "archive-error")
    r = c.post(url + "/archive", data={"csrf": csrf_of(page), "reason": "fichier texte envoyé par erreur"},
               follow_redirects=False)
    assert r.status_code == 303
    worklist = c.get(r.headers["location"]).text
    assert 'id="worklist"' not in worklist and "illisible" not in worklist.split('id="archived-list"')[0]
    assert "fichier texte envoyé par erreur" in worklist.split('id="archived-list"')[1]
    assert c.get(url).status_code == 200  # kept, with its history
    sid = url.rsplit("/", 1)[1]
    assert [e["target"] for e in audit.entries(app.state.engine, action="change")][-1] == f"study:{sid}"
    c.post(url + "/restore", data={"csrf": csrf_of(c.get(url).text)})
    assert 'id="worklist"' in c.get("/").text


def test_cart_reading_beside_ours_with_differences_beyond_iec(app) -> None:  # noqa: ANN001
    c = _client(app)
    page = c.get(_upload(c, *_muse()).headers["location"]).text
    statements = re.findall(r"<li>([^<]+)</li>", page.split('id="cart-statements"')[1].split("</ul>")[0])
    assert statements[:4] == ["Sinus bradycardia", "with sinus arrhythmia", "with 1st degree A-V block", "Otherwise normal ECG"]
    row = re.search(r'<tr data-key="qrs_ms" class="([^"]*)".*?</tr>', page, re.S)
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    ours, device = int(cells[0]), int(cells[1].split()[0])
    assert device == 94  # GE 12SL QRS duration
    assert (row.group(1) == "beyond") == (abs(ours - device) > 10)
    pr = re.search(r'<tr data-key="pr_ms" class="([^"]*)"', page)
    assert pr.group(1) == ""  # 12SL PR 330 ms, ours within 10 ms


def test_previous_signed_ecg_and_what_changed(app) -> None:  # noqa: ANN001
    c = _client(app)
    name, content = _muse()
    first = _upload(c, name, content).headers["location"]
    page = c.get(first).text
    assert 'id="previous"' not in page
    ids = re.findall(r'class="statement d-pending[^"]*" data-id="([^"]+)"', page)
    assert "first_degree_avb" in ids
    # the doctor rejects the 1st-degree AV block on the first ECG and signs
    form = {"csrf": csrf_of(page), "urgency": "routine", "then_sign": "1"}
    form.update({f"decision_{i}": "rejected" if i == "first_degree_avb" else "confirmed" for i in ids})
    assert c.post(first + "/draft", data=form, follow_redirects=False).status_code == 303
    assert 'id="study-status">signé' in c.get(first).text
    # a later ECG of the same patient (same name and birth date): another file
    later = content.replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>", b"<AcquisitionDate>03-15-2021</AcquisitionDate>")
    assert later != content
    second = _upload(c, "later.xml", later).headers["location"]
    assert second != first
    page = c.get(second).text
    prev = page.split('id="previous"')[1]
    assert "ECG signé du 22/09/2020" in prev
    changes = re.findall(r'<li class="ch-[^"]*">([^<]+)</li>', prev)
    assert any(html.unescape(x).startswith("Nouveau : Bloc auriculo-ventriculaire du 1er degré") for x in changes)
    assert f'src="/studies/{first.rsplit("/", 1)[1]}/tracing.svg"' in prev
    svg = c.get(first + "/tracing.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content


def test_practice_admin_rpps_mssante_and_french_roles(app) -> None:  # noqa: ANN001
    with app.state.sessions() as db:
        add_user(db, "adm@x.fr", PASSWORD, name="Admin", role="admin", practice="A")
        db.commit()
    adm = _client(app, "adm@x.fr")
    page = adm.get("/admin/users").text
    assert "Médecin généraliste" in page and "Évaluateur" in page and ">gp<" not in page
    csrf = csrf_of(page)
    r = adm.post("/admin/practices", data={"csrf": csrf, "name": "Maison de santé des Lilas"}, follow_redirects=False)
    assert r.status_code == 303
    with app.state.sessions() as db:
        a = db.scalar(select(Practice).where(Practice.name == "A"))
        lilas = db.scalar(select(Practice).where(Practice.name == "Maison de santé des Lilas"))
    assert adm.post(f"/admin/practices/{a.id}", data={"csrf": csrf, "name": "Cabinet du Parc"},
                    follow_redirects=False).status_code == 303
    assert adm.post(f"/admin/practices/{a.id}", data={"csrf": csrf, "name": "maison de santé des lilas"}).status_code == 422
    # a doctor with a wrong RPPS key: refused in French, the form kept
    new = {"csrf": csrf, "email": "dr.c@x.fr", "name": "Dr C", "role": "gp", "practice_id": str(lilas.id),
           "rpps": "1000 123 456 7", "mssante_address": "dr.c@medecin.mssante.fr", "password": PASSWORD}
    r = adm.post("/admin/users", data=new)
    assert r.status_code == 422 and "clé de contrôle fausse" in _text(r.text, "user-error")
    assert 'value="dr.c@x.fr"' in r.text and 'value="1000 123 456 7"' in r.text
    r = adm.post("/admin/users", data={**new, "password": "court"})
    assert r.status_code == 422 and "trop court" in _text(r.text, "user-error")
    r = adm.post("/admin/users", data={**new, "rpps": "1000 123 456 5"})
    assert r.status_code == 200 and "dr.c@x.fr" in _text(r.text, "created")
    with app.state.sessions() as db:
        c_user = db.scalar(select(User).where(User.email == "dr.c@x.fr"))
        b_user = db.scalar(select(User).where(User.email == "b@x.fr"))
        assert (c_user.rpps, c_user.mssante_address, c_user.practice_id) == ("10001234565", "dr.c@medecin.mssante.fr", lilas.id)
    # assign an existing doctor to the new practice
    r = adm.post(f"/admin/users/{b_user.id}", data={"csrf": csrf, "practice_id": str(lilas.id), "role": "gp",
                                                    "rpps": "", "mssante_address": "", "name": "Dr B"})
    assert r.status_code == 200
    with app.state.sessions() as db:
        assert db.get(User, b_user.id).practice_id == lilas.id
        assert db.get(Practice, a.id).name == "Cabinet du Parc"
    assert {e["details"].get("kind") for e in audit.entries(app.state.engine, action="settings")} >= {
        "create_practice", "rename_practice", "create_user"}
    # the new doctor is warned before signing that the RPPS... is there; Dr A, without one, is warned
    gp = _client(app)
    page = gp.get(_upload(gp, *_muse()).headers["location"]).text
    assert "RPPS n'est pas renseigné" in _text(page, "rpps-warning")
    assert "(Médecin généraliste)" in page
    doc = _client(app, "dr.c@x.fr")
    page = doc.get(_upload(doc, *_muse()).headers["location"]).text
    assert 'id="rpps-warning"' not in page


def test_model_card_a_gp_can_read_in_french_and_english(app) -> None:  # noqa: ANN001
    from pathlib import Path

    from ecgpilot.web.services.model_card import markdown_tables

    card = (Path(__file__).resolve().parents[1] / "MODEL_CARD.md").read_text(encoding="utf-8")
    perf = next(t for t in markdown_tables(card) if t[0][0] == "task")
    sub = next(t for t in markdown_tables(card) if t[0][:2] == ["statement", "all"])
    c = _client(app)
    page = html.unescape(c.get("/model-card").text)
    for heading in ("À quoi sert-elle", "Pour qui", "Sur quelles données elle a appris", "Avec quelle fiabilité",
                    "Limites connues et erreurs possibles", "La règle : le médecin décide", "Version"):
        assert f">{heading}</h2>" in page, heading
    assert "Allemagne entre 1989 et 1996" in page and "sans marquage CE" in page
    superclass = perf[1][1]  # e.g. "0.937 (0.930-0.943)", shown the French way
    assert superclass.replace(".", ",") in page
    lvh = next(r for r in sub if r[0] == "LVH")
    assert f"<td>{lvh[5].replace('.', ',')}</td>" in page  # the subgroup (>= 60 y) result
    assert "sur 8 (sensibilité 0,625)" in page
    import json

    from ecgpilot.model import default_model_path

    version = json.loads(default_model_path().with_suffix(".json").read_text())["version"]
    assert version in _text(page, "mc-model-version").replace("<code>", "")
    assert "sha256" not in page.split('id="mc-version"')[0]  # no hashes or file paths in the GP's text
    en = html.unescape(c.get("/model-card?lang=en").text)
    assert ">What it is for</h2>" in en and superclass in en and "not CE-marked" in en


def test_new_st_elevation_since_the_signed_ecg_raises_the_proposal(app) -> None:  # noqa: ANN001
    """At upload, the comparison with the previous signed ECG raises the proposal's urgency (kept with
    its reason); shown on the study page and used by the worklist order."""
    import copy

    from ecgpilot.web.services import practice

    c = _client(app)
    name, content = _muse()
    first = _upload(c, name, content).headers["location"]
    page = c.get(first).text
    ids = re.findall(r'class="statement d-pending[^"]*" data-id="([^"]+)"', page)
    form = {"csrf": csrf_of(page), "urgency": "routine", "then_sign": "1", **{f"decision_{i}": "confirmed" for i in ids}}
    c.post(first + "/draft", data=form)
    later = content.replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>", b"<AcquisitionDate>03-15-2021</AcquisitionDate>")
    second = _upload(c, "later.xml", later).headers["location"]
    sid = int(second.rsplit("/", 1)[1])
    with app.state.sessions() as db:
        study = db.get(Study, sid)
        assert study.ai_urgency == "routine" and not (study.interpretation.get("serial") or {}).get("reasons")
        # the same tracing with 1.5 mm more ST elevation at J in II, III and aVF, as at the upload
        analysis = copy.deepcopy(study.analysis)
        for lead in ("II", "III", "aVF"):
            analysis["measurements"]["lead_matrix"]["leads"][lead]["st_j_uv"] += 150.0
        study.analysis = analysis
        practice.apply_serial_comparison(db, study)
        db.commit()
        assert study.ai_urgency == "emergency"
        assert study.draft["urgency"] == {"ai_level": "emergency", "level": "emergency", "decision": "pending"}
        assert study.interpretation["serial"]["raised_from"] == "routine"
    page = c.get(second).text
    raised = _text(page, "urgency-raised")
    assert "relevée" in raised
    assert "contiguës" in html.unescape(page.split('id="urgency-raised"')[1].split("</p>")[0])
    changes = [html.unescape(x) for x in re.findall(r'<li class="ch-st_elevation raise">([^<]+)</li>', page)]
    assert changes and changes[0].startswith("Nouveau sus-décalage de ST (J) : II ")


def test_doctor_account_rpps_checked_and_kept_when_refused(app) -> None:  # noqa: ANN001
    c = _client(app)
    page = c.get("/account").text
    assert "(Médecin généraliste)" in page
    r = c.post("/account", data={"csrf": csrf_of(page), "rpps": "1000 123 456 7", "mssante_address": ""})
    assert r.status_code == 422 and "clé de contrôle fausse" in _text(r.text, "account-error")
    assert 'value="1000 123 456 7"' in r.text
    r = c.post("/account", data={"csrf": csrf_of(page), "rpps": "1000 123 456 5", "mssante_address": "dr.a@medecin.mssante.fr"})
    assert r.status_code == 200
    with app.state.sessions() as db:
        assert db.scalar(select(User).where(User.email == "a@x.fr")).rpps == "10001234565"


def test_api_identity_verification_and_archive(app) -> None:  # noqa: ANN001
    from _web import token_for

    api = TestClient(app, headers={"Authorization": f"Bearer {token_for(app, 'a@x.fr')}"})
    name, content = _muse()
    (study,) = api.post("/api/v1/studies", files=[("files", (name, content))]).json()
    sid = study["id"]
    (again,) = api.post("/api/v1/studies", files=[("files", (name, content))]).json()
    assert again["id"] == sid and again["uploaded_again"] and not study["uploaded_again"]
    assert api.patch(f"/api/v1/studies/{sid}/patient", json={"ins": "1 44 05 75 123 456 45"}).json()["ins"] == "144057512345645"
    assert api.patch(f"/api/v1/studies/{sid}/patient", json={"ins_status": "qualifiee"}).status_code == 422
    assert api.post(f"/api/v1/studies/{sid}/identity/verify", json={"insi": "teleservice"}).status_code == 422
    r = api.post(f"/api/v1/studies/{sid}/identity/verify", json={"id_document": "passeport", "insi": "practice_software"})
    assert r.json()["ins_status"] == "qualifiee"
    full = api.get(f"/api/v1/studies/{sid}").json()
    assert full["identity_check"]["by_name"] == "Dr A" and full["identity_check"]["id_document"] == "passeport"
    assert full["age_years"] == 40
    assert api.post(f"/api/v1/studies/{sid}/archive", json={"reason": "mauvais patient"}).json()["archived"]
    assert [s["id"] for s in api.get("/api/v1/studies").json()] == []
    (fresh,) = api.post("/api/v1/studies", files=[("files", (name, content))]).json()
    assert fresh["id"] != sid and not fresh["uploaded_again"]  # an archived study is not reopened


def test_identity_verification_and_password_pages_speak_english(app) -> None:  # noqa: ANN001
    """The same pages in English: the identity form's documents and INSi sources, the refusals and the
    verification summary, the password page and its refusal (catalogue texts, docs/i18n.md)."""
    c = _client(app)
    c.cookies.set("lang", "en")
    url = _upload(c, *_muse()).headers["location"]
    page = c.get(url).text
    csrf = csrf_of(page)
    assert '<option value="passeport">Passport</option>' in page
    assert "INS retrieved through the INSi teleservice in the practice software (declared by the doctor)" in page
    r = c.post(url + "/identity/verify", data={"csrf": csrf})
    assert r.status_code == 422 and _text(r.text, "verify-error") == \
        "nothing was verified: tick the identity document seen and/or the INSi lookup."
    r = c.post(url + "/identity/verify", data={"csrf": csrf, "id_document": "cni", "insi": "practice_software"})
    assert _text(r.text, "verify-error") == \
        "for a qualifiee identity, first fill in: INS."     # the MUSE file has the names, birth date and sex
    r = c.post(url + "/identity/verify", data={"csrf": csrf, "id_document": "passeport"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(url).text
    check = _text(page, "identity-check")
    assert check.startswith("Verified by Dr A on ") and check.endswith(" UTC: passport.")
    assert "Dr A recorded the identity verification (status: validee)</li>" in page.split('id="history"')[1]
    page = c.get("/account/password").text
    assert "<h1>Change my password</h1>" in page and "Your other sessions will be ended; this one stays open." in page
    r = c.post("/account/password", data={"csrf": csrf_of(page), "current": PASSWORD, "new": "y" * 10, "again": "z" * 10})
    assert _text(r.text, "password-error") == "The two new passwords differ: nothing was changed."
    r = c.post("/account/password", data={"csrf": csrf_of(page), "current": PASSWORD, "new": "short", "again": "short"})
    assert _text(r.text, "password-error") == "password too short (5 characters); use at least 10."
    c.cookies.set("lang", "fr")
    r = c.post("/account/password", data={"csrf": csrf_of(page), "current": PASSWORD, "new": "short", "again": "short"})
    assert _text(r.text, "password-error") == "Mot de passe trop court : 5 caractères, 10 au moins."
