"""End to end in real headless Chromium: a GP reads, corrects and signs a real MUSE ECG."""

from __future__ import annotations

import base64
import io
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
def server(tmp_path_factory):  # noqa: ANN001, ANN201
    with serving(_web.make_app(tmp_path_factory.mktemp("app"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN001, ANN201
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.quit()


def _pixels(png: bytes):  # noqa: ANN202
    Image = pytest.importorskip("PIL.Image")
    return Image.open(io.BytesIO(png)).convert("RGB")


def _flat(img) -> list:  # noqa: ANN001
    """Every pixel as an (r, g, b) tuple (Pillow 12 renamed getdata)."""
    get = getattr(img, "get_flattened_data", None) or img.getdata
    return list(get())


def _reddish_share(img) -> float:  # noqa: ANN001
    px = _flat(img)
    return sum(1 for r, g, b in px if r > 200 and r - g > 25 and r - b > 25) / len(px)


def test_gp_reads_corrects_and_signs(server, browser) -> None:  # noqa: ANN001
    ecg = data_file(*MUSE)
    SHOTS.mkdir(exist_ok=True)
    browser.get(f"{server}/login?lang=fr")  # Chromium sends Accept-Language: en-US
    browser.type("#email", "a@x.fr")
    browser.type("#password", "correct horse battery")
    browser.click("#login-button")
    browser.wait_url(r":\d+/$")
    browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(ecg)})
    browser.click("#upload-button")
    study_url = browser.wait_url(r"/studies/\d+$")
    # the study: tracing, measurements, quality and the AI proposal side by side
    assert browser.js("return document.querySelectorAll('#tracing svg').length") == 1
    assert browser.js("return document.getElementById('family_name').value") == "MUSE"
    assert "QRS" in browser.text("#measurements")
    ids = browser.js("return [...document.querySelectorAll('#statements li')].map(li => li.dataset.id)")
    assert ids, "no AI statement to decide"
    shot = browser.screenshot(SHOTS / "study.png")
    img = _pixels(shot)
    assert len(set(_flat(img))) > 50, "the screenshot is blank"
    assert _reddish_share(img) > 0.01, "the ECG paper grid is not visible"
    # caliper: two clicks 200 px apart give a time in ms
    browser.js("""const s = document.querySelector('#tracing svg'); const r = s.getBoundingClientRect();
        for (const dx of [100, 300]) s.dispatchEvent(new MouseEvent('click', {clientX: r.left + dx, clientY: r.top + 150, bubbles: true}));""")
    assert re.match(r"\d+ ms, -?\d+\.\d\d mV", browser.text("#caliper-out"))
    # correct the first statement, confirm the others, add one, sign
    browser.click(f"input[name='decision_{ids[0]}'][value='edited']")
    browser.type(f"input[name='text_{ids[0]}']", "Énoncé corrigé par le médecin")
    for sid in ids[1:]:
        browser.click(f"input[name='decision_{sid}'][value='confirmed']")
    browser.type("#new-statement", "Pas de signe d'ischémie")
    browser.click_and_wait_new_page("#sign-button")
    assert browser.wait_url(re.escape(study_url) + "$") == study_url
    assert "signé" in browser.text("#study-status")
    assert "Énoncé corrigé par le médecin" in browser.text("#statements")
    assert "Dr A" in browser.text("#signed-v1")
    browser.screenshot(SHOTS / "signed.png")
    # the PDF as the browser downloads it
    b64 = browser.js_async("""const done = arguments[arguments.length - 1];
        fetch(document.getElementById('pdf-link').href).then(r => r.arrayBuffer()).then(buf => {
          let s = ''; new Uint8Array(buf).forEach(b => s += String.fromCharCode(b)); done(btoa(s)); });""")
    pdf = base64.b64decode(b64)
    assert pdf.startswith(b"%PDF")
    text = _web.pdf_text(pdf)
    assert "MUSE" in text and "TESTONE" in text
    # back on the worklist: signed
    browser.get(server + "/")
    assert "signé" in browser.text("#worklist")
    browser.screenshot(SHOTS / "worklist.png")


def test_wfdb_pair_upload_in_english(server, browser) -> None:  # noqa: ANN001
    hea, dat = data_file("ludb", "data", "2.hea"), data_file("ludb", "data", "2.dat")
    browser.get(f"{server}/?lang=en")
    if "/login" in browser.url():
        browser.type("#email", "a@x.fr")
        browser.type("#password", "correct horse battery")
        browser.click("#login-button")
        browser.wait_url(r":\d+/$")
    assert "Worklist" in browser.text("body")
    browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": f"{hea}\n{dat}"})
    browser.click("#upload-button")
    browser.wait_url(r"/studies/\d+$")
    assert "to read" in browser.text("#study-status")
    assert browser.js("return document.querySelectorAll('#tracing svg').length") == 1
    assert "AI proposal" in browser.text("body")
    img = _pixels(browser.screenshot(SHOTS / "wfdb_en.png"))
    assert _reddish_share(img) > 0.01
