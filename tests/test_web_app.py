"""The web app as a doctor and as practice software use it (TestClient, SQLite file)."""

from __future__ import annotations

import html
import re
import sqlite3

import pytest
from _web import PASSWORD, csrf_of, login, make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


@pytest.fixture()
def app(tmp_path):  # noqa: ANN001, ANN201
    return make_app(tmp_path)


def _upload_page(client: TestClient, files: list[tuple[str, bytes]]):  # noqa: ANN202
    csrf = csrf_of(client.get("/").text)
    return client.post("/upload", data={"csrf": csrf}, files=[("files", f) for f in files], follow_redirects=False)


def test_login_required_and_wrong_password(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    r = login(client, "a@x.fr", "wrong password!")
    assert r.status_code == 401 and "incorrect" in r.text
    r = login(client, "a@x.fr")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "Liste de travail" in client.get("/").text


def test_login_rate_limit(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path, login_attempts=3))
    codes = [login(client, "a@x.fr", "bad password").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    # the next attempt, even with the right password, must wait a little (a delay, not a lockout:
    # tests/test_web_login_limits.py)
    r = login(client, "a@x.fr")
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60


def test_csrf_required_on_post(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    login(client, "a@x.fr")
    r = client.post("/upload", data={"csrf": "forged"}, files=[("files", ("x.xml", b"<x/>"))])
    assert r.status_code == 403 and "La page a expiré" in html.unescape(r.text)
    r = client.post("/login", data={"email": "a@x.fr", "password": PASSWORD})
    assert r.status_code == 403


def test_security_headers(app) -> None:  # noqa: ANN001
    r = TestClient(app).get("/login")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_language_switch(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    assert "Mot de passe" in client.get("/login").text
    assert "Password" in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}).text
    assert "Password" in client.get("/login?lang=en").text
    assert "Password" in client.get("/login").text  # remembered in a cookie


def test_full_reading_on_pages(app, tmp_path) -> None:  # noqa: ANN001
    path = data_file(*MUSE)
    client = TestClient(app)
    login(client, "a@x.fr")
    r = _upload_page(client, [(path.name, path.read_bytes())])
    assert r.status_code == 303
    study_url = r.headers["location"]
    page = client.get(study_url).text
    # identity prefilled from the file (printed in its <PatientDemographics>)
    assert 'value="MUSE"' in page and 'value="TESTONE"' in page and 'value="1980-06-10"' in page
    assert "<svg" in page and "Mesures" in page
    worklist = client.get("/").text
    assert "MUSE" in worklist and "à lire" in worklist
    # a free-text statement, the urgency, then sign
    csrf = csrf_of(page)
    ids = re.findall(r'class="statement d-pending" data-id="([^"]+)"', page)
    assert ids, "the AI proposal has no statement to decide"
    # nothing is final without the doctor: signing with undecided statements is refused
    r = client.post(f"{study_url}/sign", data={"csrf": csrf})
    assert r.status_code == 409 and ids[0] in r.text
    form = {"csrf": csrf, "new_statement": "Rythme sinusal régulier", "urgency": "routine", "then_sign": "1",
            f"decision_{ids[0]}": "edited", f"text_{ids[0]}": "Texte corrigé par le médecin"}
    form.update({f"decision_{i}": "confirmed" for i in ids[1:]})
    r = client.post(f"{study_url}/draft", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(study_url).text
    assert "Rythme sinusal régulier" in page and "Signé par Dr A" in page and "Texte corrigé par le médecin" in page
    assert 'id="study-status">signé' in page
    pdf = client.get(f"{study_url}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the original file is stored under its sha256
    study_id = int(study_url.rsplit("/", 1)[1])
    with sqlite3.connect(tmp_path / "data" / "ecgpilot.db") as con:
        sha, name = con.execute("SELECT file_sha256, file_name FROM study WHERE id=?", (study_id,)).fetchone()
    import hashlib

    stored = tmp_path / "data" / "files" / sha / name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unreadable_file_gets_a_clear_page(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    login(client, "a@x.fr")
    r = _upload_page(client, [("notes.txt", b"this is not an ECG at all\n" * 10)])
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Fichier illisible" in page.text and 'id="reader-error"' in page.text
    assert "Traceback" not in page.text
    assert "illisible" in client.get("/").text
    pdf = client.get(r.headers["location"] + "/report.pdf")
    assert pdf.status_code == 409 and "aucun compte rendu PDF" in pdf.text


def test_upload_limits(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path, max_upload_bytes=1000))
    login(client, "a@x.fr")
    r = _upload_page(client, [("big.xml", b"x" * 2000)])
    assert r.status_code == 413 and "au-delà de la limite de 1000 octets" in html.unescape(r.text)
    r = _upload_page(client, [("", b"")])                     # "no file selected": a clear 422, in French
    assert r.status_code == 422 and "Aucun fichier n'a été reçu" in html.unescape(r.text)
    assert 'id="error-back"' in r.text
    assert not list((tmp_path / "data").glob("files/*"))


def test_practice_isolation_pages_and_api(app) -> None:  # noqa: ANN001
    a = TestClient(app)
    login(a, "a@x.fr")
    sid = _upload_page(a, [("n.txt", b"not an ecg")]).headers["location"].rsplit("/", 1)[1]
    b = TestClient(app)
    login(b, "b@x.fr")
    assert b.get(f"/studies/{sid}").status_code == 404
    assert b.get(f"/studies/{sid}/report.pdf").status_code == 404
    assert f'data-study="{sid}"' not in b.get("/").text
    csrf = csrf_of(b.get("/").text)
    assert b.post(f"/studies/{sid}/sign", data={"csrf": csrf}).status_code == 404
    hb = {"Authorization": f"Bearer {token_for(app, 'b@x.fr')}"}
    assert b.get(f"/api/v1/studies/{sid}", headers=hb).status_code == 404
    assert b.get("/api/v1/studies", headers=hb).json() == []
    ha = {"Authorization": f"Bearer {token_for(app, 'a@x.fr')}"}
    assert [s["id"] for s in a.get("/api/v1/studies", headers=ha).json()] == [int(sid)]


def test_evaluator_cannot_sign(app) -> None:  # noqa: ANN001
    client = TestClient(app)
    login(client, "a@x.fr")
    path = data_file(*MUSE)
    sid = _upload_page(client, [(path.name, path.read_bytes())]).headers["location"].rsplit("/", 1)[1]
    h = {"Authorization": f"Bearer {token_for(app, 'e@x.fr')}"}
    r = client.post(f"/api/v1/studies/{sid}/sign", headers=h)
    assert r.status_code == 403 and "evaluator" in r.json()["detail"]


def test_every_study_route_hides_other_practices(app) -> None:  # noqa: ANN001
    a = TestClient(app)
    login(a, "a@x.fr")
    sid = _upload_page(a, [("n.txt", b"not an ecg")]).headers["location"].rsplit("/", 1)[1]
    b = TestClient(app)
    login(b, "b@x.fr")
    csrf = csrf_of(b.get("/").text)
    h = {"Authorization": f"Bearer {token_for(app, 'b@x.fr')}"}
    page_routes = [("GET", ""), ("GET", "/report.pdf"), ("POST", "/draft"), ("POST", "/identity"),
                   ("POST", "/sign"), ("POST", "/amend")]
    for method, suffix in page_routes:
        r = b.request(method, f"/studies/{sid}{suffix}", data={"csrf": csrf} if method == "POST" else None)
        assert r.status_code == 404, (method, suffix, r.status_code)
    api_routes = [("GET", ""), ("GET", "/events"), ("GET", "/report.pdf"), ("PATCH", "/statements"),
                  ("PATCH", "/patient"), ("POST", "/sign"), ("POST", "/amend")]
    for method, suffix in api_routes:
        r = b.request(method, f"/api/v1/studies/{sid}{suffix}", headers=h, json={} if method == "PATCH" else None)
        assert r.status_code == 404, (method, suffix, r.status_code)
    # and the routes exist: the owner gets through
    assert a.get(f"/studies/{sid}").status_code == 200


def test_study_page_shows_the_evidence_and_keeps_ai_only_statements_apart(tmp_path) -> None:  # noqa: ANN001
    """The page shows each proposed statement with its evidence (the same reading as the CLI), the AI-only
    statements and those below threshold apart (not offered for sign-off), and the repeat-now level."""
    pytest.importorskip("onnxruntime", reason="the classifier is needed for AI-only statements")
    from ecgpilot.analysis import analyze_file
    from ecgpilot.interpret import interpret

    path = data_file(*MUSE)
    client = TestClient(make_app(tmp_path, use_ai=True))
    login(client, "a@x.fr")
    study_url = _upload_page(client, [(path.name, path.read_bytes())]).headers["location"]
    page = client.get(study_url).text
    reading = interpret(analyze_file(path), lang="fr")
    proposed = [s for s in reading["statements"] if s["status"] == "finding"]
    ids = re.findall(r'class="statement d-pending" data-id="([^"]+)"', page)
    assert ids == [s["id"] for s in proposed]
    first = proposed[0]
    text = html.unescape(page)
    assert "arguments :" in page and first["evidence"][0]["text"] in text
    aside = [s for s in reading["statements"] if s["status"] == "ai_only"] + reading["also_considered"]
    assert aside and 'id="ai-aside"' in page     # this GE file: the AI's infarction is not supported by Q waves
    for s in aside:
        assert s["text"] in text and s.get("id", s.get("statement_id")) not in ids
    assert '<option value="repeat_now"' in page and "refaire l&#39;ECG maintenant" in page


def test_the_evidence_follows_the_page_language(tmp_path) -> None:  # noqa: ANN001
    """A study read in French shows its evidence and AI aside in English on ?lang=en (the rules re-read in
    the page's language), and so are the proposed statements the doctor has not reworded (the stored draft
    keeps its text, which is what gets signed)."""
    pytest.importorskip("onnxruntime", reason="the classifier is needed for AI-only statements")
    path = data_file(*MUSE)
    client = TestClient(make_app(tmp_path, use_ai=True))
    login(client, "a@x.fr")
    study_url = _upload_page(client, [(path.name, path.read_bytes())]).headers["location"]
    fr = html.unescape(client.get(study_url).text)
    en = html.unescape(client.get(study_url + "?lang=en").text)
    assert "axe du QRS" in fr and "QRS axis" in en                      # evidence of the axis statement
    assert "IA seule, non confirmé par les mesures" in fr and "AI only, not supported by the measurements" in en
    # the proposed statements the doctor has not reworded are shown in the page's language too
    from ecgpilot.analysis import analyze_file
    from ecgpilot.interpret import interpret

    doc = analyze_file(path)
    fr_first = next(s for s in interpret(doc, lang="fr")["statements"] if s["status"] == "finding")
    en_first = next(s for s in interpret(doc, lang="en")["statements"]
                    if s["status"] == "finding" and s["id"] == fr_first["id"])
    assert fr_first["text"] != en_first["text"]
    div = 'data-id="%s">' % fr_first["id"]
    assert en_first["text"] in en.split(div, 1)[1].split("</div>", 1)[0]
    assert fr_first["text"] in fr.split(div, 1)[1].split("</div>", 1)[0]
