"""The interactive API documentation (issue 25, item 3) in real headless Chromium: Swagger UI served from
the app's own assets under its Content-Security-Policy renders every operation of the OpenAPI document,
and the page loads nothing from another origin."""

from __future__ import annotations

import time

import _web
import pytest
from _webdriver import Browser, browser_missing, serving

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


def test_swagger_ui_renders_the_operations_from_local_assets(tmp_path_factory) -> None:  # noqa: ANN001
    pytest.importorskip("fastapi_offline", reason="the [web] extra's fastapi-offline (Swagger UI assets) is not installed")
    app = _web.make_app(tmp_path_factory.mktemp("app"))
    n_ops = sum(len([m for m in item if m in ("get", "post", "put", "patch", "delete")])
                for item in app.openapi()["paths"].values())
    with serving(app) as server:
        browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
        try:
            browser.get(f"{server}/api/docs")
            end = time.monotonic() + 20
            shown = 0
            while time.monotonic() < end:
                shown = browser.js("return document.querySelectorAll('.opblock').length")
                if shown >= n_ops:
                    break
                time.sleep(0.2)
            assert shown == n_ops and n_ops >= 20, (shown, n_ops)
            origins = browser.js("return [...new Set(performance.getEntriesByType('resource')"
                                 ".map(e => new URL(e.name).origin))]")
            assert origins == [server.rstrip("/")] or set(origins) <= {server.rstrip("/")}, origins
        finally:
            browser.quit()
