"""FastAPI application factory: settings, security middleware, error pages/problems.

Pages live in :mod:`ecgpilot.web.pages`, the REST API in :mod:`ecgpilot.web.api`.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ecgpilot.errors import ConfigError, ECGPilotError, ReadError, RecordError
from ecgpilot.export.mssante import SmtpConfig
from ecgpilot.security.ratelimit import LoginThrottle
from ecgpilot.store import migrate, open_database
from ecgpilot.store.models import OpinionRequest, Study, User
from ecgpilot.web import care, i18n, services
from ecgpilot.web.services import Conflict, NothingUploaded, UploadRejected
from ecgpilot.web.settings import Settings

__all__ = ["Settings", "create_app", "LoginRequired", "OutboxWorker", "upload_uses_ai"]

HERE = Path(__file__).resolve().parent

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def open_instance(settings: Settings) -> tuple[Any, Any]:
    """Open (or, in a fresh data folder, create) the instance's database, refusing with a clear message
    what must not be papered over (:mod:`ecgpilot.store.health`): an empty or missing database where an
    instance lived, a damaged one (``PRAGMA integrity_check``), a read-only data folder or database.
    Then the schema is migrated, the audit trail opened and anchored (:func:`ecgpilot.audit.protect`:
    the instance key outside the database, the exported head checked)."""
    from sqlalchemy.exc import DBAPIError

    from ecgpilot import audit
    from ecgpilot.export import mssante
    from ecgpilot.store import health
    from ecgpilot.store.locks import schema_lock

    data = Path(settings.data_dir)
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fault = health.storage_fault(exc)
        raise (type(fault)(f"the data folder {data} cannot be created: {fault}", fr=fault.fr) if fault else
               ConfigError(f"the data folder {data} cannot be created ({exc.strerror}).")) from None
    url = settings.db_url()
    new = health.check_before_open(url, data)
    engine, factory = open_database(url)
    try:
        if not new:
            problems = health.integrity_problems(engine) if settings.integrity_check_at_start else []
            if problems:
                raise health.database_damaged("PRAGMA integrity_check: " + "; ".join(problems[:5]))
            health.probe_writable(engine, data)
        with schema_lock(engine):   # several workers starting at once take turns (PostgreSQL)
            migrate(engine)
            audit.open_audit(engine)  # the audit trail lives in the app's database
            mssante.open_outbox(engine)  # so does the outbox of mails to send
        if new:
            health.probe_writable(engine, data)
    except DBAPIError as exc:
        engine.dispose()
        fault = health.storage_fault(exc)
        if fault is not None:
            raise fault from None
        raise ConfigError(f"the database cannot be opened: {exc.orig}") from None
    except BaseException:
        engine.dispose()
        raise
    key_dir = settings.audit_key_dir or data
    key = audit.load_key(key_dir)
    if key is None and not audit.is_sealed(engine):   # a new key only for a trail that has no seals yet
        key = audit.load_key(key_dir, create=True)
    try:
        audit.protect(engine, key=key, anchor_path=audit.anchor_location(data))
    except BaseException:
        engine.dispose()
        raise
    return engine, factory


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is logged in (handled as a redirect)."""


_STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (NothingUploaded, 422), (UploadRejected, 413), (Conflict, 409), (PermissionError, 403), (ReadError, 422),
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
    from ecgpilot.web import api, care_api, care_pages, oidc_routes, pages

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
                                      max_delay_s=settings.login_max_delay_s, window_s=settings.login_window_s)
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

        from ecgpilot.web.access_log import CURRENT_REQUEST_ID, access_record, request_id_of

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
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(oidc_routes.router)
    app.include_router(care_api.router)
    app.include_router(care_pages.router)
    from ecgpilot.web import pilot_routes
    pilot_routes.install(app)   # the pilot's evaluation pages (ecgpilot.pilot)
    from ecgpilot.web import health_routes
    app.include_router(health_routes.router)   # /healthz, /readyz (no login, no patient data)
    from ecgpilot.web import docs_routes
    docs_routes.install(app)   # /api/docs: Swagger UI from local assets

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _error_page(request: Request, status: int, message: str, exc: BaseException | None = None) -> Response:
        """The refusal in the user's language (the exception's own words when it has them, else a plain
        sentence for the status, the technical text folded away), with a way back to where they were."""
        lang = pages.lang_of(request)
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
        err = Conflict("the study was changed at the same time by another request; nothing of yours was saved. "
                       "Reload it and apply your change again.",
                       fr="L'ECG a été modifié au même moment par une autre action : votre modification n'a pas été "
                          "enregistrée. Rechargez la page et refaites-la.")
        if _is_api(request):
            return problem(409, str(err), request.url.path)
        return _error_page(request, 409, str(err), err)

    return app


class OutboxWorker:
    """Background thread sending the outbox every ``interval_s`` (retries with backoff are the
    outbox's own rules, :func:`ecgpilot.export.mssante.process_outbox`)."""

    def __init__(self, engine: Any, smtp: SmtpConfig, interval_s: float) -> None:
        self.engine, self.smtp, self.interval_s = engine, smtp, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecgpilot-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # checked between messages: the one being sent is finished and marked first
        self._thread.join(timeout=self.smtp.timeout + 10)

    def _run(self) -> None:
        import logging

        from ecgpilot.export.mssante import process_outbox

        log = logging.getLogger("ecgpilot.outbox")
        while not self._stop.is_set():
            try:
                counts = process_outbox(self.engine, self.smtp, audit_actor=("system", "system"),
                                        should_stop=self._stop.is_set)
                if counts["sent"] or counts["failed"]:
                    log.info("outbox: %(sent)d sent, %(failed)d failed", counts)
            except Exception:  # the worker must survive a bad row or a database hiccup
                log.exception("outbox worker error")
            self._stop.wait(self.interval_s)


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


def study_or_404(db: Session, user: User, study_id: int) -> Study:
    """The study if ``user`` may see it (:func:`services.get_study`), else HTTP 404."""
    study = services.get_study(db, user, study_id)
    if study is None:
        raise HTTPException(404, f"study {study_id} not found in your practice.")
    return study


def opinion_or_404(db: Session, user: User, opinion_id: int) -> OpinionRequest:
    """The opinion request if ``user`` may see it (:func:`care.get_opinion`), else HTTP 404."""
    req = care.get_opinion(db, user, opinion_id)
    if req is None:
        raise HTTPException(404, f"opinion request {opinion_id} not found among yours.")
    return req


def db_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.sessions() as db:
        yield db


def session_user(request: Request, db: Session) -> User | None:
    """The logged-in user of the session cookie, if its server-side session is live
    (:func:`ecgpilot.store.users.session_owner`); a cookie of an ended session is cleared."""
    from ecgpilot.store.users import session_owner

    sid, uid = request.session.get("sid"), request.session.get("user_id")
    if not isinstance(sid, str) or not isinstance(uid, int):
        return None
    settings = request.app.state.settings
    user = session_owner(db, sid, idle_s=settings.session_idle_s, absolute_s=settings.session_max_age_s)
    db.commit()   # the last use, or the end by timeout
    if user is None or user.id != uid:
        request.session.clear()   # the cookie of an ended session is worth nothing (its CSRF token included)
        return None
    return user


def begin_session(request: Request, db: Session, user: User) -> None:
    """Log ``user`` in: a new server-side session, a fresh cookie and CSRF token; the caller commits."""
    from ecgpilot.store.users import start_session

    sid = start_session(db, user)
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["sid"] = sid
    request.session["csrf"] = secrets.token_urlsafe(32)


def end_request_session(request: Request, db: Session) -> None:
    """Log out: end the server-side session of the cookie and clear the cookie; the caller commits."""
    from ecgpilot.store.users import end_session

    sid = request.session.get("sid")
    if isinstance(sid, str):
        end_session(db, sid, "logout")
    request.session.clear()


def ai_allowed(request: Request, user: User | None = None) -> bool:
    """AI reading on: the setting and the stop switches (:func:`ecgpilot.audit.ai_enabled`): the
    instance's, and the practice's of ``user`` when given."""
    from ecgpilot import audit

    return bool(request.app.state.settings.use_ai) and audit.ai_enabled(
        request.app.state.engine, practice_id=user.practice_id if user is not None else None)


def upload_uses_ai(request: Request, user: User) -> bool:
    """Whether this user's upload gets the AI reading: :func:`ai_allowed` (setting and stop switches), then the
    registered pilot protocol of the user's practice (off in the control arm, on in the AI arm, no say outside
    the pilot: :func:`ecgpilot.web.pilot_routes.ai_allowed_for`)."""
    if not ai_allowed(request, user):
        return False
    from ecgpilot.web.pilot_routes import ai_allowed_for

    return ai_allowed_for(request, user)


def upload_reader(request: Request) -> Any:
    """How uploads are read: the app's reader pool (a time limit per file), or ``None`` (in the thread)."""
    pool = getattr(request.app.state, "reader_pool", None)
    return pool.read if pool is not None else None


def data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


