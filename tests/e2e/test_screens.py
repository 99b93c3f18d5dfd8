"""Any screen (issue 22, item 9), in real headless Chromium: the worklist, the study page and the
sign flow at 1366, 768 and 390 px wide. At each width the page body never scrolls sideways, the
measurements, the worklist's action and the logout button stay on screen, the tracing scrolls in its
own box; full-page screenshots go to tests/e2e/screenshots/screen_<page>_<width>.png to be looked at.
The INS typed as printed is saved from the phone, and the model card and admin pages fit too."""

from __future__ import annotations

import re
from pathlib import Path

import _web
import pytest
from _webdriver import Browser, browser_missing, serving
from conftest import data_file

SHOTS = Path(__file__).resolve().parent / "screenshots"
MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
WIDTHS = (1366, 768, 390)

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")

_FITS = """
const w = window.innerWidth;
const out = {w: w, page: document.documentElement.scrollWidth, body: document.body.scrollWidth, off: []};
for (const sel of arguments[0]) {
  const el = document.querySelector(sel);
  if (!el) { out.off.push(sel + ' missing'); continue; }
  const r = el.getBoundingClientRect();
  if (r.left < -1 || r.right > w + 1) out.off.push(sel + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
}
return out;"""



def _metrics(browser: Browser, width: int, height: int) -> None:
    browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800}})


def _check(browser: Browser, width: int, name: str, visible: list[str]) -> dict:
    """No sideways scroll of the page at ``width``, ``visible`` elements inside the screen; a full-page shot."""
    _metrics(browser, width, 900)
    fits = browser.js(_FITS, visible)
    assert fits["w"] == width, fits
    assert fits["page"] <= width and fits["body"] <= width, f"{name} at {width} px overflows: {fits}"
    assert not fits["off"], f"{name} at {width} px: off screen {fits['off']}"
    height = min(int(browser.js("return document.documentElement.scrollHeight")), 6000)
    _metrics(browser, width, height)
    SHOTS.mkdir(exist_ok=True)
    browser.screenshot(SHOTS / f"screen_{name}_{width}.png")
    _metrics(browser, width, 900)
    return fits


def test_worklist_study_and_sign_flow_fit_every_width(tmp_path_factory) -> None:  # noqa: ANN001
    ecg = data_file(*MUSE)
    app = _web.make_app(tmp_path_factory.mktemp("app"))
    with serving(app) as server:
        browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
        try:
            _metrics(browser, 1366, 900)
            browser.get(f"{server}/login?lang=fr")
            browser.type("#email", "a@x.fr")
            browser.type("#password", _web.PASSWORD)
            browser.click("#login-button")
            browser.wait_url(r":\d+/$")
            browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(ecg)})
            browser.click("#upload-button")
            study = browser.wait_url(r"/studies/\d+$")
            for width in WIDTHS:
                browser.get(study)
                _check(browser, width, "study", ["#measurements", "#cart-measurements", "#statements", "#save-draft",
                                                 "#sign-button", "#ins", ".top form button"])
                # the tracing scrolls inside its own box, at true scale
                box = browser.js("""const b = document.getElementById('tracing');
                    return {client: b.clientWidth, scroll: b.scrollWidth};""")
                assert box["scroll"] >= box["client"] > 0, box
                if width < 1366:
                    assert box["scroll"] > box["client"], box  # 10 s at 25 mm/s is wider than the screen
                browser.get(server + "/")
                _check(browser, width, "worklist", ["#worklist a.open", "#upload-button", ".top form button"])
            # the INS typed as printed, from the phone
            _metrics(browser, 390, 900)
            browser.get(study)
            browser.type("#ins", "1 44 05 75 123 456 45")
            browser.click_and_wait_new_page("#save-identity")
            browser.wait_url(r"/studies/\d+")
            assert browser.js("return document.getElementById('ins').value") == "144057512345645"
            # the sign flow on the phone: every statement confirmed, the urgency kept, signed
            browser.get(study)
            ids = browser.js("return [...document.querySelectorAll('#statements li')].map(li => li.dataset.id)")
            for sid in ids:
                browser.js(f"document.querySelector('input[name=decision_{sid}][value=confirmed]').click()")
            browser.js("const s = document.getElementById('urgency'); s.value = 'routine';")
            _check(browser, 390, "sign", ["#sign-button", "#urgency"])
            browser.click_and_wait_new_page("#sign-button")
            browser.wait_url(r"/studies/\d+")
            assert browser.text("#study-status") == "signé"
            for width in WIDTHS:
                browser.get(study)
                _check(browser, width, "signed", ["#measurements", ".top form button"])
            # a later ECG of the same patient: the previous one beside it, at the same scale
            later = tmp_path_factory.mktemp("later") / "later.xml"
            later.write_bytes(ecg.read_bytes().replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>",
                                                       b"<AcquisitionDate>03-15-2021</AcquisitionDate>"))
            browser.get(server + "/")
            browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(later)})
            browser.click("#upload-button")
            second = browser.wait_url(r"/studies/\d+$")
            assert second != study
            for width in WIDTHS:
                browser.get(second)
                browser.js("document.getElementById('previous').scrollIntoView()")
                browser.js_async("""const done = arguments[arguments.length - 1];
                    const imgs = [...document.querySelectorAll('#serial-pair img')];
                    imgs.forEach(i => i.loading = 'eager');
                    Promise.all(imgs.map(i => i.complete ? 1 : new Promise(r => { i.onload = r; i.onerror = r; }))).then(() => done(1));""")
                sizes = browser.js("""return [...document.querySelectorAll('#serial-pair img')].map(i => i.naturalWidth);""")
                assert len(sizes) == 2 and sizes[0] == sizes[1] > 0, sizes  # same scale: same paper width
                _check(browser, width, "previous", ["#serial-changes", ".top form button"])
                if width == 1366:  # side by side, rows level, scrolling together
                    tops = browser.js("return [...document.querySelectorAll('#serial-pair figure')]"
                                      ".map(f => Math.round(f.getBoundingClientRect().top))")
                    assert tops[0] == tops[1], tops
                    left = browser.js_async("""const done = arguments[arguments.length - 1];
                        const b = document.querySelectorAll('#serial-pair .tracing-box');
                        b[0].scrollLeft = 200;
                        setTimeout(() => done([b[0].scrollLeft, b[1].scrollLeft]), 300);""")
                    assert left[0] > 0 and left[1] == left[0], left
            for width in (768, 390):
                browser.get(server + "/model-card")
                _check(browser, width, "model_card", ["#mc-perf", "#technical-card"])
        finally:
            browser.quit()
    shots = sorted(p.name for p in SHOTS.glob("screen_*.png"))
    assert {f"screen_{n}_{w}.png" for n in ("study", "worklist", "signed") for w in WIDTHS} <= set(shots)
    assert all(re.match(r"screen_\w+_\d+\.png", s) for s in shots)


def test_admin_pages_fit_a_phone(tmp_path_factory) -> None:  # noqa: ANN001
    app = _web.make_app(tmp_path_factory.mktemp("app"))
    with app.state.sessions() as db:
        _web.add_user(db, "adm@x.fr", _web.PASSWORD, name="Admin", role="admin", practice="A")
        db.commit()
    with serving(app) as server:
        browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
        try:
            _metrics(browser, 1366, 900)
            browser.get(f"{server}/login?lang=fr")
            browser.type("#email", "adm@x.fr")
            browser.type("#password", _web.PASSWORD)
            browser.click("#login-button")
            browser.wait_url(r":\d+/$")
            for width in WIDTHS:
                browser.get(server + "/admin/users")
                _check(browser, width, "admin_users", ["#add-user", "#create-practice", ".top form button"])
            # a new doctor with the RPPS typed with spaces, from the phone
            _metrics(browser, 390, 900)
            browser.type("#new-email", "dr.d@x.fr")
            browser.type("#new-name", "Dr D")
            browser.type("#new-rpps", "1000 123 456 5")
            browser.type("#new-password", _web.PASSWORD)
            browser.click("#add-user")
            browser.wait_url(r"/admin/users")
            assert "dr.d@x.fr" in browser.text("#created")
            assert "10001234565" in browser.text("#users")
        finally:
            browser.quit()
