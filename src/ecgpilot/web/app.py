"""The web app's assembly: :func:`create_app` opens the instance (:mod:`ecgpilot.web.instance`), puts what the
requests share on ``app.state``, adds the middleware (access log, security headers, login sessions), maps the
errors to RFC 9457 problems (API) or error pages, and includes the routers of :mod:`ecgpilot.web.routes`.

The request-level dependencies are in :mod:`ecgpilot.web.deps`, the rules in :mod:`ecgpilot.web.services`.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ecgpilot.errors import ConfigError, ECGPilotError, ReadError, RecordError
from ecgpilot.security.ratelimit import LoginThrottle
from ecgpilot.web import i18n
from ecgpilot.web.deps import LoginRequired, lang_of
from ecgpilot.web.instance import OutboxWorker, open_instance
from ecgpilot.web.services.common import (
    Conflict,
    NotFound,
    NothingUploaded,
    UploadRejected,
)
from ecgpilot.web.settings import Settings

__all__ = ["Settings", "create_app", "problem"]

HERE = Path(__file__).resolve().parent

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


_STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (NothingUploaded, 422), (UploadRejected, 413), (Conflict, 409), (NotFound, 404), (PermissionError, 403), (ReadError, 422),
    (RecordError, 422), (ConfigError, 400), (ECGPilotError, 422),
)

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable", 507: "Insufficient Storage"}


def problem(status: int, detail: str, instance: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail,
            "instance": instance, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app on ``settings`` (the database is migrated to the current schema)."""
    from ecgpilot.web.routes import (
        account_pages,
        admin_pages,
        api,
        care_api,
        care_pages,
        docs,
        health,
        oidc,
        pages,
        pilot,
        study_pages,
    )

    settings = settings or Settings()
    engine, factory = open_instance(settings)
    from ecgpilot import audit

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        worker = OutboxWorker(engine, settings.smtp, settings.outbox_interval_s) if settings.smtp else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()

    app = FastAPI(title="ecgpilot", version="1", openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    from concurrent.futures import ThreadPoolExecutor

    # uploads are read and analysed here, at most analysis_workers at once (services.run_analysis)
    app.state.analysis_pool = ThreadPoolExecutor(max_workers=max(1, settings.analysis_workers),
                                                 thread_name_prefix="ecgpilot-analysis")
    from ecgpilot.web.reader_pool import ReaderPool

    # each upload's file is read in a worker process, stopped past read_timeout_s (web.reader_pool)
    app.state.reader_pool = (ReaderPool(settings.analysis_workers, settings.read_timeout_s)
                             if settings.read_timeout_s > 0 else None)
    app.state.sessions = factory
    app.state.limiter = LoginThrottle(free_per_account=settings.login_attempts,
                                      free_per_ip=settings.login_attempts_per_client,
                                      max_delay_s=settings.login_max_delay_s, window_s=settings.login_window_s,
                                      database=engine)   # one count for every worker process
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["t"] = i18n.t
    templates.env.globals["texts"] = i18n.TEXT
    app.state.templates = templates

    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key or secrets.token_urlsafe(32),
                       session_cookie="ecgpilot_session", max_age=settings.session_max_age_s,
                       same_site="strict", https_only=settings.secure_cookies)

    @app.middleware("http")
    async def access_log(request: Request, call_next):  # type: ignore[no-untyped-def]
        """The request id (X-Request-ID) and one access-log record without patient data (web.access_log)."""
        import logging
        import time as _time

        from ecgpilot.web.access_log import (
            CURRENT_REQUEST_ID,
            access_record,
            request_id_of,
        )

        rid = request_id_of(request.headers.get("x-request-id"))
        token = CURRENT_REQUEST_ID.set(rid)
        t0 = _time.perf_counter()
        try:
            response: Response = await call_next(request)
        except Exception:
            rec = access_record(request.method, getattr(request.scope.get("route"), "path", None), 500,
                                (_time.perf_counter() - t0) * 1000, rid)
            logging.getLogger("ecgpilot.access").info("%s %s 500", rec["method"], rec["route"],
                                                      extra={"access": rec, "request_id": rid})
            raise
        finally:
            CURRENT_REQUEST_ID.reset(token)
        route = getattr(request.scope.get("route"), "path", None)
        rec = access_record(request.method, route, response.status_code, (_time.perf_counter() - t0) * 1000, rid)
        logging.getLogger("ecgpilot.access").info("%s %s %s %.0f ms", rec["method"], rec["route"], rec["status"],
                                                  rec["ms"], extra={"access": rec, "request_id": rid})
        response.headers["X-Request-ID"] = rid
        return response

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        try:
            response: Response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - answered here, so the 500 keeps the connection and these headers
            response = _unexpected_response(request, exc)
        if not request.url.path.startswith("/static/"):
            try:   # export the audit head outside the database after any request that appended to it
                # (a read of the head, and when it moved an fsync'ed file: off the event loop)
                from starlette.concurrency import run_in_threadpool

                await run_in_threadpool(audit.write_anchor, engine)
            except Exception:  # noqa: BLE001 - never fails the answer; the next request tries again
                import logging

                logging.getLogger("ecgpilot.audit").exception("audit head could not be exported")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        if settings.hsts_max_age_s > 0:
            response.headers["Strict-Transport-Security"] = f"max-age={settings.hsts_max_age_s}; includeSubDomains"
        return response

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (api, pages, study_pages, admin_pages, oidc, care_api, care_pages, account_pages, health):
        app.include_router(module.router)
    app.include_router(api.tokens)
    pilot.install(app)   # the pilot's evaluation pages (ecgpilot.pilot): its tables and template helpers too
    docs.install(app)    # /api/docs: Swagger UI from local assets

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _error_page(request: Request, status: int, message: str, exc: BaseException | None = None) -> Response:
        """The refusal in the user's language (the exception's own words when it has them, else a plain
        sentence for the status, the technical text folded away), with a way back to where they were."""
        lang = lang_of(request)
        said = getattr(exc, "message", None)
        plain = said(lang) if callable(said) else None
        fr_text = getattr(exc, "fr", None)
        if plain is None and lang == "fr" and isinstance(fr_text, str):
            plain = fr_text
        if plain is None and status == 403 and "CSRF" in message:
            plain = i18n.t("error_csrf", lang)
        if status in (403, 404, 500):   # nothing there helps the user (role codes, ids): the plain sentence only
            message = ""
        page = {"lang": lang, "status": status, "message": plain or i18n.error_text(status, lang),
                "detail": None if plain else message or None, "back": _back_link(request, status), "user": None, "csrf": ""}
        return templates.TemplateResponse(request, "error.html", page, status_code=status)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            resp = problem(exc.status_code, str(exc.detail), request.url.path)
            for k, v in (exc.headers or {}).items():
                resp.headers[k] = v
            return resp
        return _error_page(request, exc.status_code, str(exc.detail), exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        if _is_api(request):
            return problem(422, detail, request.url.path, errors=errors)
        return _error_page(request, 422, detail)

    for exc_type, status in _STATUS_OF:
        def _make(status: int):  # noqa: ANN202
            async def handler(request: Request, exc: Exception) -> Response:
                if _is_api(request):
                    return problem(status, str(exc), request.url.path)
                return _error_page(request, status, str(exc), exc)
            return handler
        app.add_exception_handler(exc_type, _make(status))

    def _unexpected_response(request: Request, exc: Exception) -> Response:
        """A storage fault said as such (full: 507, read-only or damaged: 503), anything else a plain 500."""
        import logging

        from ecgpilot.store import health

        fault = health.storage_fault(exc)
        if fault is not None:
            logging.getLogger("ecgpilot.web").error("storage fault on %s %s: %s", request.method, request.url.path, exc)
            if _is_api(request):
                return problem(fault.status, str(fault), request.url.path)
            return _error_page(request, fault.status, str(fault), fault)
        logging.getLogger("ecgpilot.web").error("unexpected error on %s %s", request.method, request.url.path,
                                                exc_info=exc)
        msg = "unexpected server error; the details are in the server log."
        return problem(500, msg, request.url.path) if _is_api(request) else _error_page(request, 500, msg)

    async def _storage_or_unexpected(request: Request, exc: Exception) -> Response:
        return _unexpected_response(request, exc)

    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm.exc import StaleDataError

    from ecgpilot.store.health import StorageFault

    app.add_exception_handler(StorageFault, _storage_or_unexpected)
    app.add_exception_handler(DBAPIError, _storage_or_unexpected)
    app.add_exception_handler(OSError, _storage_or_unexpected)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        err = Conflict.said("changed_meanwhile")
        if _is_api(request):
            return problem(409, str(err), request.url.path)
        return _error_page(request, 409, str(err), err)

    return app


def _back_link(request: Request, status: int) -> str:
    """Where "go back" leads: the page the request came from when it is one of ours (e.g. the study
    page, where what was typed and the study are), else the study the action was on, else the worklist."""
    from urllib.parse import urlsplit

    path = request.url.path
    ref = urlsplit(request.headers.get("referer", ""))
    own = urlsplit(str(request.base_url))
    if (ref.netloc == own.netloc and ref.path.startswith("/") and not ref.path.startswith("//")
            and ref.path != path):
        return ref.path + (f"?{ref.query}" if ref.query else "")
    if status == 404:
        return "/"
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] in ("studies", "opinions") and parts[1].isdigit():
        return f"/{parts[0]}/{parts[1]}"
    return "/"
