"""End to end in real headless Chromium: tele-expertise as its three users live it.

A GP uploads a real MUSE ECG and asks a cardiologist a question; the cardiologist (another practice)
finds it in the queue, reads the tracing, answers statement by statement; the GP sees the answer;
the evaluator sees the indicators move, without any identity."""

from __future__ import annotations

from pathlib import Path

import _web
import pytest
from _webdriver import Browser, browser_missing, serving
from conftest import data_file

from ecgpilot.store import add_user

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
SHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # noqa: ANN001, ANN201
    app = _web.make_app(tmp_path_factory.mktemp("care-app"))
    with app.state.sessions() as db:
        add_user(db, "c@x.fr", _web.PASSWORD, name="Dr Claire CARDIO", role="cardiologist", practice="Cardio")
        db.commit()
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN001, ANN201
    b = Browser(tmp_path_factory.mktemp("chromium-care-profile"))
    yield b
    b.quit()


def _login(browser: Browser, server: str, email: str) -> None:
    browser.get(f"{server}/login?lang=fr")  # sets the language cookie: French UI
    browser.type("#email", email)
    browser.type("#password", _web.PASSWORD)
    browser.click("#login-button")
    browser.wait_url(r":\d+/$")


def _logout(browser: Browser) -> None:
    browser.click('form[action="/logout"] button')
    browser.wait_url(r"/login$")


def test_gp_asks_cardiologist_answers_gp_reads(server, browser) -> None:  # noqa: ANN001
    SHOTS.mkdir(exist_ok=True)
    ecg = data_file(*MUSE)
    # the GP uploads and asks
    _login(browser, server, "a@x.fr")
    browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(ecg)})
    browser.click("#upload-button")
    study_url = browser.wait_url(r"/studies/\d+$")
    browser.type("#question", "Troubles de la repolarisation latérale : faut-il un avis rapide ?")
    browser.click("#consent")
    browser.click("#ask-opinion")
    browser.wait_url(r"/studies/\d+#opinions$")
    assert "en attente" in browser.text("#opinions")
    _logout(browser)
    # the cardiologist: notice, queue, study through the request, answer
    _login(browser, server, "c@x.fr")
    assert "notification" in browser.text("#unread")
    browser.click("#nav-opinions")
    browser.wait_url(r"/opinions$")
    assert "repolarisation" in browser.text("#opinion-queue")
    browser.click("#opinion-queue a.open")
    browser.wait_url(r"/opinions/\d+$")
    assert "TESTONE" in browser.text("#opinion-title")
    assert browser.js("return document.querySelectorAll('#tracing svg').length") == 1
    n = browser.js("return document.querySelectorAll('#answer-form li.statement').length")
    assert n >= 1
    # agree with all but the first statement
    browser.js("""document.querySelectorAll('#answer-form li.statement').forEach((li, i) => {
        li.querySelector('input[value="' + (i === 0 ? 'no' : 'yes') + '"]').click(); });""")
    browser.type('#answer-form li.statement input.edit-text', "Énoncé non retenu à la relecture")
    browser.click('#answer-urgency option[value="soon"]')
    browser.type("#answer-text", "Avis : consultation de cardiologie sous 15 jours.")
    browser.screenshot(SHOTS / "opinion_answer.png")
    browser.click("#send-answer")
    browser.wait_url(r"/opinions/\d+$")
    assert "répondu" in browser.text("#opinion-status")
    _logout(browser)
    # the GP reads the answer
    _login(browser, server, "a@x.fr")
    assert "Avis du cardiologue reçu" in browser.text("#notices")
    browser.get(study_url)
    text = browser.text("#opinions")
    assert "consultation de cardiologie sous 15 jours" in text and "Énoncé non retenu à la relecture" in text
    assert "pas d'accord" in text and "répondu en" in text
    browser.screenshot(SHOTS / "opinion_received.png")
    _logout(browser)
    # the evaluator: indicators, no identity
    _login(browser, server, "e@x.fr")
    browser.click("#nav-evaluation")
    browser.wait_url(r"/evaluation$")
    page = browser.text("main")
    assert "Demandes : 1, répondues : 1" in page and f"({n - 1}/{n};" in page
    assert "TESTONE" not in page and "TESTONE" not in browser.text("body")
    browser.screenshot(SHOTS / "evaluation.png")
    _logout(browser)
