"""The per-lead measurement matrix on a 390-px phone screen (headless Chromium): the table
scrolls inside its own box, the page itself does not scroll sideways."""

from __future__ import annotations

from pathlib import Path

import _web
import pytest
from _webdriver import Browser, browser_missing, serving
from test_lead_matrix_display import _csv, st_record

SHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


def test_matrix_fits_a_390_px_phone(tmp_path_factory) -> None:  # noqa: ANN001
    csv = tmp_path_factory.mktemp("ecg") / "st.csv"
    csv.write_bytes(_csv(st_record()))
    with serving(_web.make_app(tmp_path_factory.mktemp("app"))) as server:
        browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
        try:
            browser.cmd("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}})
            browser.get(f"{server}/login?lang=fr")
            browser.type("#email", "a@x.fr")
            browser.type("#password", _web.PASSWORD)
            browser.click("#login-button")
            browser.wait_url(r":\d+/$")
            browser.cmd("POST", f"/element/{browser.find('#files')}/value", {"text": str(csv)})
            browser.click("#upload-button")
            browser.wait_url(r"/studies/\d+$")
            assert browser.js("return window.innerWidth") == 390
            assert browser.text("#lead-matrix-card h2") == "Mesures par dérivation"
            assert browser.js("return document.querySelectorAll('#lead-matrix tbody tr').length") == 12
            sizes = browser.js("""const box = document.getElementById('lead-matrix-scroll');
                const r = box.getBoundingClientRect();
                return {page: document.documentElement.scrollWidth, body: document.body.scrollWidth,
                        box: box.clientWidth, table: box.scrollWidth, left: r.left, right: r.right};""")
            # the page does not scroll sideways; the table does, inside its box, which stays on screen
            assert sizes["page"] <= 390 and sizes["body"] <= 390, sizes
            assert sizes["table"] > sizes["box"] and sizes["left"] >= 0 and sizes["right"] <= 390, sizes
            scrolled = browser.js("""const box = document.getElementById('lead-matrix-scroll');
                box.scrollLeft = 10000; return [box.scrollLeft, document.documentElement.scrollLeft];""")
            assert scrolled[0] > 0 and scrolled[1] == 0
            # the lead column stays visible while scrolling (sticky)
            lead_left = browser.js("""return document.querySelector('#lead-matrix tbody th').getBoundingClientRect().left""")
            assert lead_left >= sizes["left"] - 1
            SHOTS.mkdir(exist_ok=True)
            browser.js("document.getElementById('lead-matrix-card').scrollIntoView()")
            browser.screenshot(SHOTS / "lead_matrix_phone.png")
        finally:
            browser.quit()
