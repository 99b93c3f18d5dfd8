"""Pages of the care pathway: tele-expertise (ask, queue, answer), sending the signed report,
CDA/FHIR downloads, the doctor's account, the practice settings and outbox (admin), and the
evaluator's pseudonymised indicators."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.lookup import must_get
from ecgpilot.store.models import Practice, Study, User
from ecgpilot.web import care, evaluation, services
from ecgpilot.web.app import data_dir, db_session, opinion_or_404, study_or_404
from ecgpilot.web.pages import checked_form, lang_of, page_user, render, require_role, study_view

__all__ = ["router", "pseudonym_key", "queue_notice", "signed_documents", "frozen_cda", "exported_document", "evaluator_only",
           "evaluation_csv_response"]

router = APIRouter(include_in_schema=False)


def pseudonym_key(request: Request) -> bytes:
    """Key of the evaluator's pseudonyms, derived from the app's secret key."""
    secret = request.app.state.settings.secret_key
    if not secret:  # no configured key: a random one for this process (pseudonyms change at restart)
        if getattr(request.app.state, "pseudonym_secret", None) is None:
            request.app.state.pseudonym_secret = secrets.token_hex(32)
        secret = request.app.state.pseudonym_secret
    return hashlib.sha256(f"ecgpilot-pseudonyms:{secret}".encode()).digest()


def queue_notice(request: Request, recipient: User, kind: str, link_path: str) -> None:
    """Mail a notice (no patient data) to ``recipient`` through the outbox when mail is configured."""
    settings = request.app.state.settings
    sender = getattr(settings, "notice_sender", None)
    if getattr(settings, "smtp", None) is None or not sender:
        return
    from ecgpilot.export.mssante import enqueue

    base = (getattr(settings, "base_url", None) or str(request.base_url)).rstrip("/")
    msg = care.notice_mail(sender, recipient.mssante_address or recipient.email, kind, base + link_path)
    enqueue(request.app.state.engine, msg, target=f"notice:{kind}:user:{recipient.id}")


# ------------------------------------------------------------------ tele-expertise --

@router.post("/studies/{study_id}/opinion")
async def ask_opinion(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    raw = str(form.get("cardiologist_id", "")).strip()
    typed = {"question": str(form.get("question", "")), "cardiologist_id": raw}
    try:
        if not (raw.isascii() and raw.isdigit()):
            raise services.Invalid(f"choose a cardiologist (got {raw!r}).", fr="Choisissez un cardiologue dans la liste.")
        req = care.request_opinion(db, user, study, int(raw), typed["question"], consent=form.get("consent") == "yes")
    except (RecordError, services.Conflict) as exc:   # said on the study page, the question kept
        db.rollback()
        said = getattr(exc, "message", None)
        msg = said(lang_of(request)) if callable(said) else str(exc)
        return study_view(request, db, user, study, 409 if isinstance(exc, services.Conflict) else 422,
                          opinion_error=msg, opinion_form=typed)
    queue_notice(request, must_get(db, User, req.cardiologist_id), "opinion_requested", f"/opinions/{req.id}")
    return RedirectResponse(f"/studies/{study_id}#opinions", status_code=303)


@router.post("/opinions/{opinion_id}/cancel")
async def cancel_opinion(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    req = opinion_or_404(db, user, opinion_id)
    care.cancel_opinion(db, user, req)
    queue_notice(request, must_get(db, User, req.cardiologist_id), "opinion_cancelled", "/opinions")
    return RedirectResponse(f"/studies/{req.study_id}#opinions", status_code=303)


@router.get("/opinions", response_class=HTMLResponse)
def opinion_queue(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    queue = care.opinion_queue(db, user)
    studies = {r.study_id: db.get(Study, r.study_id) for r in queue}
    askers = {r.requested_by: db.get(User, r.requested_by) for r in queue}
    return render(request, "opinions.html", {"user": user, "queue": queue, "studies": studies, "askers": askers})


@router.get("/opinions/{opinion_id}", response_class=HTMLResponse)
def opinion_page(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    req = opinion_or_404(db, user, opinion_id)
    study = must_get(db, Study, req.study_id)
    record = services.study_record(data_dir(request), study)
    svg = services.tracing_svg(record, study.analysis) if record is not None else None
    services.audit_event(db, user, "view", f"study:{study.id}", details={"via": f"opinion:{req.id}"})
    db.commit()
    care.mark_read(db, user, study.id)
    return _opinion_view(request, db, user, req, study, svg)


def _opinion_view(request: Request, db: Session, user: User, req: Any, study: Study, svg: str | None,
                  status_code: int = 200, **extra: Any) -> Response:
    """The opinion page; ``extra``: a refusal and what the cardiologist had typed (kept)."""
    ctx = {"user": user, "req": req, "study": study, "svg": svg, "analysis": study.analysis or {},
           "statements": (study.interpretation or {}).get("statements", []), "asker": db.get(User, req.requested_by),
           "cardiologist": db.get(User, req.cardiologist_id), "draft": study.draft or {"statements": [], "urgency": {}},
           "answer_error": None, "typed": {}, "to_decide": []}
    ctx.update(extra)
    return render(request, "opinion.html", ctx, status_code)


@router.post("/opinions/{opinion_id}/answer")
async def answer_opinion(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    req = opinion_or_404(db, user, opinion_id)
    study = must_get(db, Study, req.study_id)
    agreement: dict[str, dict[str, Any]] = {}
    for s in (study.interpretation or {}).get("statements", []):
        v = form.get(f"agree_{s['id']}")
        if v in ("yes", "no"):
            agreement[s["id"]] = {"agree": v == "yes", "comment": str(form.get(f"comment_{s['id']}", ""))}
    try:
        care.answer_opinion(db, user, req, str(form.get("answer", "")), agreement, str(form.get("urgency", "")) or None)
    except (RecordError, services.Conflict) as exc:   # said on the opinion page, what was typed kept
        db.rollback()
        said = getattr(exc, "message", None)
        record = services.study_record(data_dir(request), study)
        svg = services.tracing_svg(record, study.analysis) if record is not None else None
        typed = {k: str(v) for k, v in form.items() if k != "csrf"}
        missing = [s["id"] for s in (study.interpretation or {}).get("statements", []) if s["id"] not in agreement]
        return _opinion_view(request, db, user, req, study, svg, 409 if isinstance(exc, services.Conflict) else 422,
                             answer_error=said(lang_of(request)) if callable(said) else str(exc), typed=typed,
                             to_decide=missing)
    queue_notice(request, must_get(db, User, req.requested_by), "opinion_answered", f"/studies/{study.id}#opinions")
    return RedirectResponse(f"/opinions/{opinion_id}", status_code=303)


@router.post("/opinions/{opinion_id}/adopt")
async def adopt_opinion(opinion_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    """Take the cardiologist's answer into the draft in one step (each proposal still decided by the GP)."""
    await checked_form(request)
    req = opinion_or_404(db, user, opinion_id)
    study = study_or_404(db, user, req.study_id)
    care.adopt_opinion(db, user, study, req)
    return RedirectResponse(f"/studies/{study.id}#statements", status_code=303)


# ------------------------------------------------------------------ sending ---------

def signed_documents(request: Request, db: Session, user: User, study: Study, version: int | None = None) -> tuple[Any, dict[str, Any], bytes]:
    """(report row, export dict, PDF) of a signed version (the last one by default)."""
    services.require_identified_access(user)
    reps = services.reports(db, study)
    if not reps:
        raise services.Conflict(f"study {study.id} has no signed report yet; sign it first.")
    rep = reps[-1] if version is None else next((r for r in reps if r.version == version), None)
    if rep is None:
        raise RecordError(f"study {study.id} has no signed version {version}; versions: {[r.version for r in reps]}.")
    pdf = services.pdf_bytes(db, data_dir(request), study, lang="fr", version=rep.version, user=user)
    return rep, care.export_report(db, study, rep), pdf


def frozen_cda(request: Request, db: Session, user: User, study: Study, rep: Any) -> bytes | None:
    """The CDA frozen for a signed version (made and frozen now if it could not be at signing);
    ``None`` when it cannot be made yet (the sending then says what is missing)."""
    from ecgpilot.errors import ECGPilotError
    from ecgpilot.web import documents

    try:
        return documents.signed_document(db, data_dir(request), user, study, rep, "cda")
    except ECGPilotError:
        db.rollback()
        return None


@router.post("/studies/{study_id}/send")
async def send(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    typed = {"doctors": str(form.get("doctors", ""))}
    try:
        rep, _, pdf = signed_documents(request, db, user, study)
        care.send_report(db, request.app.state.engine, user, study, pdf, cda=frozen_cda(request, db, user, study, rep),
                         doctors=typed["doctors"], to_patient=bool(form.get("to_patient")), resend=bool(form.get("resend")),
                         patient_domain=getattr(request.app.state.settings, "patient_mssante_domain",
                                                care.PATIENT_MSSANTE_DOMAIN))
    except (RecordError, services.Conflict) as exc:   # said on the study page, the addresses kept
        db.rollback()
        said = getattr(exc, "message", None)
        msg = said(lang_of(request)) if callable(said) else str(exc)
        return study_view(request, db, user, study, 409 if isinstance(exc, services.Conflict) else 422,
                          send_error=msg, send_form=typed)
    return RedirectResponse(f"/studies/{study_id}#sending", status_code=303)


#: format -> (media type, file suffix, audit label)
DOCUMENTS = {"cda": ("application/xml", "cda.xml", "CDA R2 N1"), "fhir": ("application/fhir+json", "fhir.json", "FHIR R4 Bundle")}


def exported_document(request: Request, db: Session, user: User, study: Study, fmt: str,
                      version: int | None = None) -> Response:
    """A signed version as CDA R2 N1 or FHIR R4 (``fmt`` ``"cda"``/``"fhir"``), audited as an export."""
    from ecgpilot.web import documents

    media, suffix, label = DOCUMENTS[fmt]
    rep, _report, _pdf = signed_documents(request, db, user, study, version)
    data = documents.signed_document(db, data_dir(request), user, study, rep, fmt)   # frozen at signing
    services.audit_event(db, user, "export", f"study:{study.id}", details={"format": label, "version": rep.version,
                                                                           "document_sha256": hashlib.sha256(data).hexdigest()})
    db.commit()
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="ecg-{study.id}-v{rep.version}.{suffix}"'})


@router.get("/studies/{study_id}/report.cda.xml")
def cda(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(page_user)) -> Response:
    return exported_document(request, db, user, study_or_404(db, user, study_id), "cda", version)


@router.get("/studies/{study_id}/report.fhir.json")
def fhir(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
         user: User = Depends(page_user)) -> Response:
    return exported_document(request, db, user, study_or_404(db, user, study_id), "fhir", version)


# ------------------------------------------------------------------ account / admin -

def _one_address(raw: str) -> str:
    found = care.parse_addresses(raw)
    if len(found) != 1:
        raise RecordError(f"give one MSSanté address, not {len(found)} ({raw!r}).")
    return found[0]


def _account_page(request: Request, db: Session, user: User, status_code: int = 200, **extra: Any) -> Response:
    """The account page: identifiers, and the API tokens (state, expiry, last use; revoke, create)."""
    from ecgpilot.store.users import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, list_api_tokens, token_state

    tokens = [(t, token_state(t)) for t in reversed(list_api_tokens(db, user))]
    ctx: dict[str, Any] = {"user": user, "saved": False, "error": None, "form": {}, "tokens": tokens, "token": None,
                           "token_error": None, "token_days": DEFAULT_TOKEN_DAYS, "token_max_days": MAX_TOKEN_DAYS}
    ctx.update(extra)
    return render(request, "account.html", ctx, status_code)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    return _account_page(request, db, user)


@router.post("/account/token", response_class=HTMLResponse)
async def new_token(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """A new API token (label, lifetime in days), shown once on the page; audited."""
    from ecgpilot.errors import ConfigError
    from ecgpilot.store.users import DEFAULT_TOKEN_DAYS, create_api_token, list_api_tokens
    from ecgpilot.web import i18n

    form = await checked_form(request)
    raw = str(form.get("days", "") or DEFAULT_TOKEN_DAYS).strip()
    try:
        days = int(raw) if raw.isdigit() else -1
        token = create_api_token(db, user, label=str(form.get("label", "")), days=days)
    except ConfigError:
        db.rollback()
        return _account_page(request, db, user, 422, token_error=i18n.t("token_days_bad", lang_of(request)))
    row = list_api_tokens(db, user)[-1]
    services.audit_event(db, user, "settings", f"api_token:{row.id}",
                         details={"kind": "create_api_token", "days": days, "via": "web"})
    db.commit()
    return _account_page(request, db, user, token=token)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(token_id: int, request: Request, db: Session = Depends(db_session),
                       user: User = Depends(page_user)) -> Response:
    """Revoke one of one's own API tokens (at once; audited)."""
    from ecgpilot.store.users import revoke_api_token

    await checked_form(request)
    row = revoke_api_token(db, user, token_id)
    if row is None:
        raise HTTPException(404, f"API token {token_id} not found among yours.")
    services.audit_event(db, user, "settings", f"api_token:{row.id}", details={"kind": "revoke_api_token", "via": "web"})
    db.commit()
    return RedirectResponse("/account#tokens", status_code=303)


@router.post("/account", response_class=HTMLResponse)
async def save_account(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The doctor's RPPS (11 digits, Luhn key) and MSSanté address; a refusal keeps what was typed."""
    from ecgpilot.web.pages import lang_of
    from ecgpilot.web.practice import check_rpps

    form = await checked_form(request)
    typed = {k: str(form.get(k, "")) for k in ("rpps", "mssante_address")}
    try:
        rpps = check_rpps(typed["rpps"], lang_of(request))
        addr = typed["mssante_address"].strip() or None
        if addr is not None:
            addr = _one_address(addr)
    except RecordError as exc:
        return _account_page(request, db, user, 422, error=str(exc), form=typed)
    before = {"rpps": user.rpps, "mssante_address": user.mssante_address}
    user.rpps, user.mssante_address = rpps, addr
    services.audit_event(db, user, "settings", f"user:{user.id}", details={"changed": sorted(k for k, v in before.items()
                                                                                             if v != getattr(user, k))})
    db.commit()
    return _account_page(request, db, user, saved=True)


def _admin(user: User) -> User:
    return require_role(user, "admin", "cannot change the practice settings; ask your practice's admin.")


@router.get("/admin/practice", response_class=HTMLResponse)
def practice_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    _admin(user)
    from ecgpilot import audit
    from ecgpilot.export.mssante import outbox_entries, redact_addresses

    entries = [dict(e, last_error=redact_addresses(e["last_error"]) if e["last_error"] else None)
               for e in outbox_entries(request.app.state.engine)
               if care.outbox_practice(db, e["target"]) == user.practice_id][-100:][::-1]
    return render(request, "practice.html", {"user": user, "practice": db.get(Practice, user.practice_id), "outbox": entries,
                                             "root": care.patient_id_root(must_get(db, Practice, user.practice_id)), "saved": False,
                                             "ai_on": audit.ai_enabled(request.app.state.engine, user.practice_id)})


@router.post("/admin/practice", response_class=HTMLResponse)
async def save_practice(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    _admin(user)
    p = must_get(db, Practice, user.practice_id)
    org = str(form.get("org_id", "")).strip() or None
    if org is not None and not (org.isascii() and org.isdigit() and len(org) in (9, 14)):
        raise RecordError(f"organisation id {org!r} is not a FINESS (9 digits) or SIRET (14 digits).")
    root = str(form.get("patient_id_root", "")).strip() or None
    if root is not None and not all(part.isascii() and part.isdigit() for part in root.split(".")):
        raise RecordError(f"{root!r} is not an OID (digits separated by dots, e.g. 1.2.250.1.999.1).")
    addr = str(form.get("mssante_address", "")).strip() or None
    p.org_id, p.patient_id_root = org, root
    p.org_id_prefix = None if org is None else ("1" if len(org) == 9 else "3")
    p.mssante_address = _one_address(addr) if addr else None
    services.audit_event(db, user, "settings", f"practice:{p.id}", details={"org_id_set": org is not None,
                                                                             "mssante_set": p.mssante_address is not None})
    db.commit()
    return RedirectResponse("/admin/practice", status_code=303)


@router.post("/admin/ai")
async def ai_switch(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The AI stop switch (audited); the app keeps working for manual reading when it is off."""
    form = await checked_form(request)
    _admin(user)
    state = str(form.get("state", ""))
    if state not in ("on", "off"):
        raise RecordError(f"AI switch state {state!r} unknown; use 'on' or 'off'.")
    reason = str(form.get("reason", "")).strip()
    if state == "off" and not reason:
        raise RecordError("say why the AI reading is stopped (kept in the audit trail).")
    from ecgpilot import audit

    audit.set_ai_enabled(request.app.state.engine, state == "on", actor_id=str(user.id), actor_role=user.role, reason=reason,
                         practice_id=user.practice_id)   # a practice's admin stops it for their practice only
    return RedirectResponse("/admin/practice#ai", status_code=303)


@router.post("/admin/outbox/{outbox_id}/retry")
async def retry(outbox_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    _admin(user)
    from ecgpilot.export.mssante import outbox_entries, retry_now

    row = next((e for e in outbox_entries(request.app.state.engine) if e["id"] == outbox_id), None)
    if row is None or care.outbox_practice(db, row["target"]) != user.practice_id:
        raise HTTPException(404, f"outbox message {outbox_id} not found among your practice's.")
    retry_now(request.app.state.engine, outbox_id)
    services.audit_event(db, user, "admin", f"outbox:{outbox_id}", details={"kind": "retry"})
    db.commit()
    return RedirectResponse("/admin/practice#outbox", status_code=303)


# ------------------------------------------------------------------ model card ------

def model_card_text() -> str:
    """``MODEL_CARD.md``: packaged with the wheel, or the repository's copy in a checkout."""
    from importlib import resources

    packaged = resources.files("ecgpilot").joinpath("MODEL_CARD.md")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    repo = Path(__file__).resolve().parents[3] / "MODEL_CARD.md"
    if repo.is_file():
        return repo.read_text(encoding="utf-8")
    raise RecordError("MODEL_CARD.md is missing from this installation; reinstall ecgpilot.")


@router.get("/model-card", response_class=HTMLResponse)
def model_card(request: Request, user: User = Depends(page_user)) -> Response:
    """The AI's model card as a GP reads it (intended use, users, data, performance with the external
    and subgroup results, limits, the human-oversight rule, the version), for every user."""
    from ecgpilot.web.model_card import card_facts

    return render(request, "model_card.html", {"user": user, "facts": card_facts(model_card_text())})


@router.get("/model-card/technical", response_class=HTMLResponse)
def model_card_technical(request: Request, user: User = Depends(page_user)) -> Response:
    """The technical model card (``MODEL_CARD.md``) as written."""
    return render(request, "model_card_technical.html", {"user": user, "text": model_card_text()})


# ------------------------------------------------------------------ evaluation ------

def evaluator_only(user: User) -> User:
    """403 unless the user is an evaluator (the pilot's indicators)."""
    return require_role(user, "evaluator", "has no access to the evaluation; it is for the pilot's evaluators.")


@router.get("/evaluation", response_class=HTMLResponse)
def evaluation_page(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    evaluator_only(user)
    ind = evaluation.indicators(db, request.app.state.engine, pseudonym_key(request))
    return render(request, "evaluation.html", {"user": user, "ind": ind, "levels": services.URGENCY_LEVELS})


def evaluation_csv_response(request: Request, db: Session, user: User) -> Response:
    """The pseudonymised per-study CSV for an evaluator, audited as an export."""
    evaluator_only(user)
    text = evaluation.rows_csv(evaluation.study_rows(db, pseudonym_key(request)))
    services.audit_event(db, user, "export", "evaluation", details={"format": "csv", "pseudonymised": True})
    db.commit()
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ecgpilot-evaluation.csv"'})


@router.get("/evaluation.csv")
def evaluation_csv(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    return evaluation_csv_response(request, db, user)

