"""End to end in headless Chromium at 1366 x 768 (issue 22 A): the whole 10 s of the tracing at default zoom,
a refused signature that shows what is left to decide and keeps what was typed, the signed conclusion as the
doctor's, the frozen PDF, an error page in French with a way back."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import _web
import pytest
from _webdriver import Browser, browser_missing, serving
from conftest import data_file

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
SHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # noqa: ANN001, ANN201
    from ecgpilot.store import add_user

    app = _web.make_app(tmp_path_factory.mktemp("app"))
    with app.state.sessions() as db:
        add_user(db, "c@x.fr", _web.PASSWORD, name="Dr Claire CARDIO", role="cardiologist", practice="Cardio")
        db.commit()
    return app


@pytest.fixture(scope="module")
def server(app):  # noqa: ANN001, ANN201
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN001, ANN201
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    b.cmd("POST", "/window/rect", {"width": 1366, "height": 768})
    yield b
    b.quit()


def test_sign_flow_at_1366(server, browser) -> None:  # noqa: ANN001
    SHOTS.mkdir(exist_ok=True)
    browser.get(f"{server}/login?lang=fr")
    browser.type("#email", "a@x.fr")
    browser.type("#password", "correct horse battery")
    browser.click("#login-button")
    browser.wait_url(r":\d+/$")
    browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(data_file(*MUSE))})
    browser.click("#upload-button")
    study_url = browser.wait_url(r"/studies/\d+$")
    assert browser.js("return window.innerWidth") <= 1366
    # default zoom: the whole 10 s (the rhythm strip's end) inside the tracing box, no horizontal scroll needed
    box = browser.js("""const b = document.getElementById('tracing'), s = b.querySelector('svg');
        return [b.clientWidth, s.getBoundingClientRect().width, b.scrollWidth];""")
    assert box[1] <= box[0] + 1 and box[2] <= box[0] + 1, box
    assert re.match(r"\d+ %", browser.text("#zoom-level"))
    browser.screenshot(SHOTS / "report_study_1366.png")
    # sign at once: refused, nothing saved, the undecided statements highlighted, the typed text kept
    ids = browser.js("return [...document.querySelectorAll('#statements li')].map(li => li.dataset.id)")
    assert len(ids) >= 2
    browser.click(f"input[name='decision_{ids[0]}'][value='rejected']")
    browser.type("#new-statement", "Contrôle dans un an")
    browser.click_and_wait_new_page("#sign-button")
    assert "n'est pas signé" in browser.text("#sign-error")
    assert browser.js("return document.querySelectorAll('#statements li.to-decide').length") == len(ids) - 1
    assert browser.js("return document.getElementById('new-statement').value") == "Contrôle dans un an"
    assert browser.js(f"return document.querySelector(\"input[name='decision_{ids[0]}'][value='rejected']\").checked")
    browser.screenshot(SHOTS / "report_sign_refused.png")
    rejected = browser.js(f"return document.querySelector(\"li[data-id='{ids[0]}'] .text\").firstChild.textContent.trim()")
    # decide the rest, choose another urgency than the AI's, sign
    for sid in ids[1:]:
        browser.click(f"input[name='decision_{sid}'][value='confirmed']")
    browser.js("const s = document.getElementById('urgency'); s.value = 'soon';")
    browser.click_and_wait_new_page("#sign-button")
    assert browser.wait_url(re.escape(study_url) + "$") == study_url
    conclusion = browser.text("#conclusion")
    assert "avis cardiologique rapide" in conclusion and "Contrôle dans un an" in conclusion
    assert rejected not in conclusion
    browser.js("document.getElementById('conclusion').scrollIntoView()")
    browser.screenshot(SHOTS / "report_signed_1366.png")
    # the PDF the browser downloads: the doctor's urgency, not the rejected statement; twice the same bytes
    fetch = """const done = arguments[arguments.length - 1];
        fetch(document.getElementById('pdf-link').href).then(r => r.arrayBuffer()).then(buf => {
          let s = ''; new Uint8Array(buf).forEach(b => s += String.fromCharCode(b)); done(btoa(s)); });"""
    pdf = base64.b64decode(browser.js_async(fetch))
    assert pdf == base64.b64decode(browser.js_async(fetch))
    text = _web.pdf_text(pdf)
    assert "Urgence : avis cardiologique rapide" in text and rejected not in text
    # history as sentences
    assert "Dr A a signé le compte rendu (version 1)" in browser.text("#history")
    # an error page in French, with a way back
    browser.get(f"{server}/studies/999999")
    assert "Page introuvable" in browser.text("h1") and "/" == browser.js(
        "return new URL(document.getElementById('error-back').href).pathname")
    browser.screenshot(SHOTS / "report_error_404.png")


def test_gp_takes_the_cardiologists_answer_into_the_report(app, server, browser) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    def api(email: str) -> TestClient:
        c = TestClient(app)
        c.headers["Authorization"] = f"Bearer {_web.token_for(app, email)}"
        return c

    gp, cardio = api("a@x.fr"), api("c@x.fr")
    path = data_file(*MUSE)
    body = path.read_bytes().replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>",
                                     b"<AcquisitionDate>09-22-2021</AcquisitionDate>")   # another ECG than the first test's
    sid = gp.post("/api/v1/studies", files=[("files", ("m2.xml", body))]).json()[0]["id"]
    ai = gp.get(f"/api/v1/studies/{sid}").json()["interpretation"]["statements"]
    cid = next(c["id"] for c in gp.get("/api/v1/cardiologists").json())
    rid = gp.post(f"/api/v1/studies/{sid}/opinion-requests",
                  json={"cardiologist_id": cid, "question": "BAV 1 et QRS larges ?", "consent": True}).json()["id"]
    opinions = [{"id": s["id"], "agree": k > 0, "comment": "" if k else "artefact de la ligne de base"}
                for k, s in enumerate(ai)]
    assert cardio.post(f"/api/v1/opinions/{rid}/answer", json={"answer": "Holter ECG de 24 h à prévoir",
                                                              "statements": opinions, "urgency": "soon"}).status_code == 200
    browser.get(f"{server}/studies/{sid}")
    browser.wait_url(rf"/studies/{sid}$")
    browser.js(f"document.getElementById('adopt-{rid}').scrollIntoView()")
    browser.screenshot(SHOTS / "report_opinion_answered.png")
    browser.click_and_wait_new_page(f"#adopt-{rid} button")
    assert browser.js(f"return document.getElementById('adopt-{rid}')") is None            # taken once
    notes = browser.js("return [...document.querySelectorAll('#statements .cardio-note')].map(n => n.textContent)")
    assert any("pas d'accord" in n and "artefact de la ligne de base" in n for n in notes)
    assert "Holter ECG de 24 h à prévoir" in browser.text("#statements")
    assert browser.js("return document.getElementById('urgency').value") == "soon"
    browser.js("document.getElementById('statements').scrollIntoView()")
    browser.screenshot(SHOTS / "report_opinion_taken.png")
