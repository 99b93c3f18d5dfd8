"""Interactive API documentation from local assets: Swagger UI 5 (the assets bundled in the
``fastapi-offline`` package, part of the ``[web]`` extra; only its static files are used) over
``/api/v1/openapi.json`` (OpenAPI 3.1), nothing fetched from a CDN, and no inline script (the app's
Content-Security-Policy allows scripts from the app itself only)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install", "DOCS_URL"]

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs-assets"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ecgpilot API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png"></head>
<body><div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""


def install(app: FastAPI) -> bool:
    """Serve the docs at :data:`DOCS_URL` when the assets are installed; False (no route) otherwise."""
    try:
        import fastapi_offline
    except ImportError:
        return False
    assets = Path(fastapi_offline.__file__).resolve().parent / "static"
    if not (assets / "swagger-ui-bundle.js").exists():
        return False
    page = _PAGE.format(assets=ASSETS_URL, openapi=app.openapi_url or "/api/v1/openapi.json")
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_URL, response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="api-docs-assets")
    app.include_router(router)
    return True
