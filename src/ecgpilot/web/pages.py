"""Server-rendered pages: login, worklist + upload, study (tracing, AI proposal, decisions, signing)."""

from __future__ import annotations

import math
import secrets
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.ins import ID_DOCUMENTS, INS_STATUSES, INSI_SOURCES, InsError, status_label
from ecgpilot.render.matrix import MATRIX_COLUMNS, matrix_rows
from ecgpilot.store import add_user, authenticate
from ecgpilot.store.models import ROLES, Practice, StudyEvent, User
from ecgpilot.web import i18n, services
from ecgpilot.web.app import (
    LoginRequired,
    begin_session,
    data_dir,
    db_session,
    end_request_session,
    session_user,
    study_or_404,
    upload_reader,
    upload_uses_ai,
)

__all__ = ["router", "lang_of", "require_role", "study_view"]

router = APIRouter(include_in_schema=False)


def lang_of(request: Request) -> str:
    """Interface language for this request."""
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get("lang"),
                          request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return tok


async def checked_form(request: Request) -> dict[str, Any]:
    """The POSTed form, after checking its CSRF token against the session's."""
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return form  # type: ignore[return-value]


def check_csrf(request: Request, sent: object) -> None:
    """Refuse unless the session has a token and ``sent`` is exactly it (an empty or missing
    token never matches, even in a session that has none yet)."""
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and expected and isinstance(sent, str) and sent
            and secrets.compare_digest(sent.encode(), expected.encode())):
        raise HTTPException(403, "invalid or missing CSRF token; reload the page and try again.")


def page_user(request: Request, db: Session = Depends(db_session)) -> User:
    user = session_user(request, db)
    if user is None:
        raise LoginRequired()
    return user


def _unread(request: Request, user: User | None) -> list[Any]:
    if user is None:
        return []
    from ecgpilot.web import care

    with request.app.state.sessions() as db:
        return care.notifications(db, user)


def render(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> Response:
    lang = lang_of(request)
    ctx = {"unread": _unread(request, ctx.get("user")), **ctx}
    resp = request.app.state.templates.TemplateResponse(
        request, name, {"lang": lang, "csrf": csrf_token(request), **ctx}, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGS:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict", httponly=True,
                        secure=bool(request.app.state.settings.secure_cookies))
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", {"user": None, "error": None, "oidc": request.app.state.settings.oidc is not None})


@router.post("/login")
async def login(request: Request, db: Session = Depends(db_session)) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", "")).strip().lower()
    client = request.client.host if request.client else ""   # the socket peer, or the declared proxies' X-Forwarded-For
    limiter = request.app.state.limiter
    lang = lang_of(request)
    wait = limiter.retry_after(email, client)
    if wait > 0:
        resp = render(request, "login.html", {"user": None, "error": i18n.t("too_many", lang),
                                              "oidc": request.app.state.settings.oidc is not None}, 429)
        resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return resp
    user = authenticate(db, email, str(form.get("password", "")))
    if user is None:
        limiter.record_failure(email, client)
        from ecgpilot import audit

        audit.append(request.app.state.engine, actor_id="anonymous", actor_role="none", action="login_failed",
                     details={"client": client or None})
        return render(request, "login.html", {"user": None, "error": i18n.t("bad_login", lang),
                                               "oidc": request.app.state.settings.oidc is not None}, 401)
    limiter.record_success(email, client)
    services.audit_event(db, user, "login", f"user:{user.id}")
    begin_session(request, db, user)
    db.commit()
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, db: Session = Depends(db_session)) -> Response:
    await checked_form(request)
    user = session_user(request, db)
    if user is not None:
        services.audit_event(db, user, "logout", f"user:{user.id}")
    end_request_session(request, db)
    db.commit()
    return RedirectResponse("/login", status_code=303)


_PASSWORD_ERRORS = {
    "the current password is wrong.": ("Le mot de passe actuel est faux : rien n'a été changé.",
                                       "The current password is wrong: nothing was changed."),
    "the new password is the same as the current one.": ("Le nouveau mot de passe est le même que l'actuel : "
                                                         "choisissez-en un autre.",
                                                         "The new password is the same as the current one: "
                                                         "choose another."),
}


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, user: User = Depends(page_user)) -> Response:
    return render(request, "password.html", {"user": user, "error": None, "done": None})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A user changes their own password (the current one asked again); their other login sessions are
    ended, this one stays; audited. Refusals are said on the page (422), nothing typed is sent back."""
    from ecgpilot.store.users import change_own_password

    form = await checked_form(request)
    lang = lang_of(request)
    new, again = str(form.get("new", "")), str(form.get("again", ""))
    if new != again:
        error = ("Les deux nouveaux mots de passe diffèrent : rien n'a été changé." if lang == "fr" else
                 "The two new passwords differ: nothing was changed.")
        return render(request, "password.html", {"user": user, "error": error, "done": None}, 422)
    try:
        ended = change_own_password(db, user, str(form.get("current", "")), new, keep_sid=request.session.get("sid"))
    except ConfigError as exc:
        db.rollback()
        fr, en = _PASSWORD_ERRORS.get(str(exc), (f"Mot de passe trop court : {len(new)} caractères, 10 au moins.", str(exc)))
        return render(request, "password.html", {"user": user, "error": fr if lang == "fr" else en, "done": None}, 422)
    services.audit_event(db, user, "admin", f"user:{user.id}", details={"operation": "own_password_changed",
                                                                        "sessions_ended": ended})
    db.commit()
    return render(request, "password.html", {"user": user, "error": None, "done": ended})


@router.get("/", response_class=HTMLResponse)
def worklist(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    from ecgpilot.web import practice

    raw = request.query_params.get("archived", "")
    size = max(1, int(request.app.state.settings.page_size))
    raw_page = request.query_params.get("page", "1")
    page_no = int(raw_page) if raw_page.isdigit() and int(raw_page) >= 1 else 1
    studies, total = services.worklist(db, user, offset=(page_no - 1) * size, limit=size)
    pages = max(1, -(-total // size))
    return render(request, "worklist.html", {"user": user, "studies": studies, "token": None,
                                             "paging": {"page": page_no, "pages": pages, "total": total},
                                             "pseudo": services.access_of(user) == "pseudonymised",
                                             "archived": practice.archived_studies(db, user),
                                             "just_archived": int(raw) if raw.isdigit() else None})


@router.post("/upload")
async def upload(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    from ecgpilot.web.uploads import read_upload

    settings = request.app.state.settings
    # the session was checked (page_user) before any byte of the body is read; then streamed within the limits
    fields, files = await read_upload(request, max_bytes=settings.max_upload_bytes, max_files=settings.max_upload_files)
    check_csrf(request, fields.get("csrf"))
    groups = services.group_upload(files, max_bytes=settings.max_upload_bytes, max_files=settings.max_upload_files)
    del files
    # analysis is CPU work: in the bounded analysis pool, off the event loop, so other requests keep flowing
    studies = [await services.run_analysis(request.app, services.ingest, db, data_dir(request), user, g,
                                           lang=lang_of(request), use_ai=upload_uses_ai(request, user),
                                           reader=upload_reader(request)) for g in groups]
    target = f"/studies/{studies[0].id}" if len(studies) == 1 else "/"
    if len(studies) == 1 and getattr(studies[0], "uploaded_again", False):
        target += "?notice=duplicate"
    return RedirectResponse(target, status_code=303)


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    services.audit_event(db, user, "view", f"study:{study.id}", input_sha256=study.file_sha256,
                         model_version=study.model_version, rules_version=study.rules_version)
    db.commit()
    from ecgpilot.web import care

    care.mark_read(db, user, study.id)
    notice = request.query_params.get("notice")
    return study_view(request, db, user, study, notice=notice if notice in ("duplicate", "archived") else None)


def study_view(request: Request, db: Session, user: User, study: Any, status_code: int = 200, **extra: Any) -> Response:
    """The study page of ``study`` for ``user``; ``extra`` adds or overrides context (an error
    message and the typed values of a refused form)."""
    from ecgpilot import compare
    from ecgpilot.web import care, identity, practice

    lang = lang_of(request)
    record = services.study_record(data_dir(request), study)
    from ecgpilot.web.documents import kept_reading

    speed, gain = services.paper_settings(request.query_params.get("speed"), request.query_params.get("gain"))
    shown = extra.get("draft") or study.draft or {"statements": []}   # the ST marks of what the doctor keeps (or has yet to decide)
    reading = kept_reading(study.interpretation, shown["statements"], with_pending=study.status != "signed")
    svg = (services.tracing_svg(record, study.analysis, reading=reading, lang=lang, speed_mm_s=speed, gain_mm_mv=gain)
           if record is not None else None)
    reps = services.reports(db, study)
    signers = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_([r.signed_by for r in reps] or [0])))}
    events = list(db.scalars(select(StudyEvent).where(StudyEvent.study_id == study.id).order_by(StudyEvent.id)))
    opinions = care.opinions_of_study(db, study)
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_([o.cardiologist_id for o in opinions] or [0])))}
    pseudo = services.access_of(user) == "pseudonymised"
    from ecgpilot.web import history
    page_reading = _reading_in(study, lang)
    ctx: dict[str, Any] = {
        "pseudo": pseudo, "opinions": opinions, "people": people,
        "cardiologists": [c for c in care.cardiologists(db) if c.id != user.id],
        "dispatches": care.dispatches(db, request.app.state.engine, study),
        "user": user, "study": study, "svg": svg, "reports": reps, "signers": signers, "events": events,
        "history": history.sentences(db, events, lang, pseudo=pseudo), "paper": {"speed": speed, "gain": gain},
        "ins_statuses": INS_STATUSES, "analysis": study.analysis or {},
        "draft": (services.redacted_draft(study.draft) if pseudo else study.draft) or {"statements": [], "urgency": {}},
        "matrix": matrix_rows(study.analysis, study.interpretation), "matrix_columns": MATRIX_COLUMNS,
        "reading": {s["id"]: s for s in page_reading["statements"]},
        "ai_only": [s for s in page_reading["statements"] if s.get("status") == "ai_only"],
        "also_considered": page_reading.get("also_considered", []),
        "status_label": status_label(study.ins_status, lang), "id_documents": ID_DOCUMENTS, "insi_sources": INSI_SOURCES,
        "identity_check": identity.check_summary(study.identity_check, lang), "identity_error": None, "form": None,
        "verify_error": None, "notice": None, "age": practice.age_at_recording(study),
        "cart": compare.device_comparison(study.analysis, lang),
        "previous": None if pseudo else practice.previous_for_page(db, data_dir(request), study, lang),
        "rpps_missing": practice.rpps_warning(user, lang) if study.status == "to_read" else None,
        # pseudonymised access: the signed conclusion without text the doctor typed (services.redacted_report)
        "conclusion": services.redacted_report(reps[-1].content) if pseudo and reps else None,
    }
    ctx.update(extra)
    return render(request, "study.html", ctx, status_code)


@router.post("/studies/{study_id}/draft")
async def save_draft(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    changes = []
    for s in (study.draft or {}).get("statements", []):
        decision = form.get(f"decision_{s['id']}")
        if decision:
            changes.append({"id": s["id"], "decision": decision, "text": form.get(f"text_{s['id']}")})
    new = [str(form.get("new_statement", ""))]
    urgency = str(form.get("urgency") or "") or None
    lang = lang_of(request)
    if form.get("then_sign"):   # check first: a refused signature changes nothing and logs nothing
        preview = services.preview_draft(study, user, changes, new, urgency)
        refusal = services.not_ready(preview, lang)
        if refusal is not None:
            return study_view(request, db, user, study, 409, draft=preview, sign_error=str(refusal),
                              to_decide=refusal.pending, urgency_to_decide=refusal.urgency_pending,
                              new_statement=new[0])
    services.update_draft(db, user, study, changes, new, urgency)
    if form.get("then_sign"):
        services.sign(db, user, study, data_dir=data_dir(request), lang=lang)
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/studies/{study_id}/identity")
async def save_identity(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    keys = ("family_name", "given_names", "birth_date", "sex", "ins", "ins_status")
    typed = {k: str(form.get(k, "")) for k in keys if k in form}
    try:
        services.update_identity(db, user, study, typed)
    except RecordError as exc:
        db.rollback()
        lang = lang_of(request)
        msg = exc.message(lang) if isinstance(exc, InsError) else str(exc)
        return study_view(request, db, user, study, 422, identity_error=msg, form=typed)
    return RedirectResponse(f"/studies/{study_id}#identity", status_code=303)


@router.post("/studies/{study_id}/identity/verify")
async def verify_identity(study_id: int, request: Request, db: Session = Depends(db_session),
                          user: User = Depends(page_user)) -> Response:
    """The explicit identity-verification step (ID document seen, INSi lookup), recorded."""
    from ecgpilot.ins import InsiUnavailable
    from ecgpilot.web import identity

    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    lang = lang_of(request)
    try:
        identity.verify_identity(db, user, study, id_document=str(form.get("id_document") or "") or None,
                                 insi_source=str(form.get("insi") or "") or None,
                                 insi=getattr(request.app.state, "insi", None), lang=lang)
    except InsiUnavailable as exc:
        db.rollback()
        return study_view(request, db, user, study, 503, verify_error=exc.fr if lang == "fr" else str(exc))
    except RecordError as exc:
        db.rollback()
        return study_view(request, db, user, study, 422, verify_error=str(exc))
    return RedirectResponse(f"/studies/{study_id}#identity", status_code=303)


@router.post("/studies/{study_id}/archive")
async def archive_study(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    """Archive an unreadable or mistaken upload (kept with its history, audited)."""
    from ecgpilot.web import practice

    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    try:
        practice.archive(db, user, study, str(form.get("reason", "")), lang_of(request))
    except RecordError as exc:
        db.rollback()
        return study_view(request, db, user, study, 422, archive_error=str(exc))
    return RedirectResponse("/?archived=" + str(study.id), status_code=303)


@router.post("/studies/{study_id}/restore")
async def restore_study(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    from ecgpilot.web import practice

    await checked_form(request)
    practice.restore(db, user, study_or_404(db, user, study_id))
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.get("/studies/{study_id}/tracing.svg")
def tracing(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The study's tracing alone (true scale), e.g. the previous ECG beside the current one."""
    study = study_or_404(db, user, study_id)
    record = services.study_record(data_dir(request), study)
    if record is None:
        raise HTTPException(404, i18n.t("no_tracing", lang_of(request)))
    svg = services.tracing_svg(record, study.analysis, lang=lang_of(request))
    services.audit_event(db, user, "view", f"study:{study.id}", input_sha256=study.file_sha256, details={"kind": "tracing"})
    db.commit()
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/studies/{study_id}/sign")
async def sign(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    study = study_or_404(db, user, study_id)
    lang = lang_of(request)
    try:
        services.sign(db, user, study, data_dir=data_dir(request), lang=lang)
    except services.NotReady as refusal:
        db.rollback()
        return study_view(request, db, user, study, 409, sign_error=str(refusal), to_decide=refusal.pending,
                          urgency_to_decide=refusal.urgency_pending)
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/studies/{study_id}/amend")
async def amend(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    services.amend(db, user, study_or_404(db, user, study_id))
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.get("/studies/{study_id}/report.pdf")
def pdf(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    services.require_identified_access(user)
    data = services.pdf_bytes(db, data_dir(request), study, lang=lang_of(request), version=version, user=user)
    services.audit_event(db, user, "export", f"study:{study.id}", details={"format": "pdf", "version": version})
    db.commit()
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="ecg-{study.id}.pdf"'})


def require_role(user: User, role: str, refusal: str) -> User:
    """``user`` when it has ``role``; else 403 "role '<role>' <refusal>"."""
    if user.role != role:
        raise HTTPException(403, f"role {user.role!r} {refusal}")
    return user


def _admin(user: User) -> User:
    return require_role(user, "admin", "cannot manage accounts; ask your practice's admin.")


def _users_page(request: Request, db: Session, user: User, status_code: int = 200, **extra: Any) -> Response:
    from ecgpilot.web import practice

    users = list(db.scalars(select(User).order_by(User.practice_id, User.email)))
    ctx: dict[str, Any] = {"user": user, "users": users, "roles": ROLES, "practices": practice.practices(db),
                           "created": None, "error": None, "form": {}, "saved": None}
    ctx.update(extra)
    return render(request, "users.html", ctx, status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _admin(user)
    return _users_page(request, db, user)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A new account: name, e-mail, role, practice, RPPS, MSSanté address (checked; the form is kept on error)."""
    from ecgpilot.store.users import MIN_PASSWORD
    from ecgpilot.web import practice

    form = await checked_form(request)
    _admin(user)
    lang = lang_of(request)
    keys = ("email", "name", "role", "practice_id", "rpps", "mssante_address")
    typed = {k: str(form.get(k, "")) for k in keys}
    password = str(form.get("password", ""))
    try:
        if len(password) < MIN_PASSWORD:
            raise RecordError(i18n.t("password_short", lang).format(n=len(password), min=MIN_PASSWORD))
        rpps = practice.check_rpps(typed["rpps"], lang)
        addr = practice.check_mssante(typed["mssante_address"], lang)
        raw = typed["practice_id"].strip()
        prac = db.get(Practice, int(raw)) if raw.isdigit() else db.get(Practice, user.practice_id)
        if prac is None:
            raise RecordError(i18n.t("practice_unknown", lang))
        new = add_user(db, typed["email"], password, name=typed["name"], role=typed["role"] or "gp", practice=prac.name)
    except (RecordError, ConfigError) as exc:
        db.rollback()
        msg = str(exc)
        if isinstance(exc, ConfigError) and "already exists" in msg:
            msg = i18n.t("email_taken", lang).format(email=typed["email"].strip().lower())
        elif isinstance(exc, ConfigError) and "not an e-mail" in msg:
            msg = i18n.t("email_bad", lang).format(email=typed["email"])
        return _users_page(request, db, user, 422, error=msg, form=typed)
    new.rpps, new.mssante_address = rpps, addr
    services.audit_event(db, user, "settings", f"user:{new.id}", details={"kind": "create_user", "role": new.role})
    db.commit()
    return _users_page(request, db, user, created=new.email)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
async def edit_user_page(user_id: int, request: Request, db: Session = Depends(db_session),
                         user: User = Depends(page_user)) -> Response:
    """Change an account's name, role, practice, RPPS or MSSanté address."""
    from ecgpilot.web import practice

    form = await checked_form(request)
    _admin(user)
    keys: tuple[str, ...] = ("name", "role", "practice_id", "rpps", "mssante_address")
    fields = {k: str(form.get(k, "")) for k in keys if k in form}
    try:
        changed = practice.update_account(db, user, user_id, fields, lang_of(request))
    except RecordError as exc:
        db.rollback()
        return _users_page(request, db, user, 422, error=str(exc), edit_id=user_id, form=fields)
    return _users_page(request, db, user, saved=changed.email)


@router.post("/admin/practices", response_class=HTMLResponse)
async def add_practice_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    from ecgpilot.web import practice

    form = await checked_form(request)
    _admin(user)
    try:
        practice.create_practice(db, user, str(form.get("name", "")), lang_of(request))
    except RecordError as exc:
        db.rollback()
        return _users_page(request, db, user, 422, practice_error=str(exc), practice_form=str(form.get("name", "")))
    return RedirectResponse("/admin/users#practices", status_code=303)


@router.post("/admin/practices/{practice_id}", response_class=HTMLResponse)
async def rename_practice_page(practice_id: int, request: Request, db: Session = Depends(db_session),
                               user: User = Depends(page_user)) -> Response:
    from ecgpilot.web import practice

    form = await checked_form(request)
    _admin(user)
    try:
        practice.rename_practice(db, user, practice_id, str(form.get("name", "")), lang_of(request))
    except RecordError as exc:
        db.rollback()
        return _users_page(request, db, user, 422, practice_error=str(exc))
    return RedirectResponse("/admin/users#practices", status_code=303)


@router.get("/api/v1/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """A plain, offline list of the API's endpoints (from the OpenAPI document)."""
    spec = request.app.openapi()
    return render(request, "api_docs.html", {"user": None, "spec": spec})


def _reading_in(study: Any, lang: str) -> dict[str, Any]:
    """The stored reading, or the same rules re-read in the page's language when it differs (the evidence,
    the AI-only statements and the 'also considered' list follow the page; the draft keeps its text)."""
    stored = study.interpretation or {}
    if not stored or stored.get("lang") == lang or not study.analysis:
        return {"statements": stored.get("statements", []), "also_considered": stored.get("also_considered", [])}
    from ecgpilot.interpret import interpret

    return interpret(study.analysis, lang=lang)
