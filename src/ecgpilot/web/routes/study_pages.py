"""The study page and what the doctor does there: decide the statements and the urgency (draft), sign, amend,
set and verify the patient identity, archive or restore, view the tracing alone, download the PDF."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.ins import InsError
from ecgpilot.store.models import Study, User
from ecgpilot.web import i18n
from ecgpilot.web.deps import checked_form, data_dir, db_session, engine, lang_of, page_user, study_or_404
from ecgpilot.web.routes.views import render
from ecgpilot.web.services import care, documents, identity, practice, studies, study_view, tracing
from ecgpilot.web.services.common import NotReady

__all__ = ["router", "study_view_page"]

router = APIRouter(include_in_schema=False)


def study_view_page(request: Request, db: Session, user: User, study: Study, status_code: int = 200,
                    **extra: Any) -> Response:
    """The study page of ``study`` for ``user``; ``extra`` adds or overrides context (an error
    message and the typed values of a refused form)."""
    ctx = study_view.page_context(db, engine(request), data_dir(request), user, study, lang=lang_of(request),
                                  speed=request.query_params.get("speed"), gain=request.query_params.get("gain"),
                                  draft=extra.get("draft"))
    ctx.update(extra)
    return render(request, "study.html", ctx, status_code)


def _back(study_id: int, anchor: str = "") -> Response:
    return RedirectResponse(f"/studies/{study_id}{anchor}", status_code=303)


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    studies.record_view(db, user, study, input_sha256=study.file_sha256, model_version=study.model_version,
                        rules_version=study.rules_version)
    care.mark_read(db, user, study.id)
    notice = request.query_params.get("notice")
    return study_view_page(request, db, user, study, notice=notice if notice in ("duplicate", "archived") else None)


@router.post("/studies/{study_id}/draft")
async def save_draft(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    changes = [{"id": s["id"], "decision": form[f"decision_{s['id']}"], "text": form.get(f"text_{s['id']}")}
               for s in (study.draft or {}).get("statements", []) if form.get(f"decision_{s['id']}")]
    new = [str(form.get("new_statement", ""))]
    urgency = str(form.get("urgency") or "") or None
    if form.get("then_sign"):   # check first: a refused signature changes nothing and logs nothing
        preview = studies.preview_draft(study, user, changes, new, urgency)
        refusal = studies.not_ready(preview, lang_of(request))
        if refusal is not None:
            return study_view_page(request, db, user, study, 409, draft=preview, sign_error=str(refusal),
                                   to_decide=refusal.pending, urgency_to_decide=refusal.urgency_pending,
                                   new_statement=new[0])
    studies.update_draft(db, user, study, changes, new, urgency)
    if form.get("then_sign"):
        studies.sign(db, user, study, data_dir=data_dir(request), lang=lang_of(request))
    return _back(study_id)


@router.post("/studies/{study_id}/identity")
async def save_identity(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    keys = ("family_name", "given_names", "birth_date", "sex", "ins", "ins_status")
    typed = {k: str(form.get(k, "")) for k in keys if k in form}
    try:
        studies.update_identity(db, user, study, typed)
    except RecordError as exc:
        msg = exc.message(lang_of(request)) if isinstance(exc, InsError) else str(exc)
        return study_view_page(request, db, user, study, 422, identity_error=msg, form=typed)
    return _back(study_id, "#identity")


@router.post("/studies/{study_id}/identity/verify")
async def verify_identity(study_id: int, request: Request, db: Session = Depends(db_session),
                          user: User = Depends(page_user)) -> Response:
    """The explicit identity-verification step (ID document seen, INSi lookup), recorded."""
    from ecgpilot.ins import InsiUnavailable

    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    lang = lang_of(request)
    try:
        identity.verify_identity(db, user, study, id_document=str(form.get("id_document") or "") or None,
                                 insi_source=str(form.get("insi") or "") or None,
                                 insi=getattr(request.app.state, "insi", None), lang=lang)
    except InsiUnavailable as exc:
        return study_view_page(request, db, user, study, 503, verify_error=exc.fr if lang == "fr" else str(exc))
    except RecordError as exc:
        return study_view_page(request, db, user, study, 422, verify_error=str(exc))
    return _back(study_id, "#identity")


@router.post("/studies/{study_id}/archive")
async def archive_study(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    """Archive an unreadable or mistaken upload (kept with its history, audited)."""
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    try:
        practice.archive(db, user, study, str(form.get("reason", "")), lang_of(request))
    except RecordError as exc:
        return study_view_page(request, db, user, study, 422, archive_error=str(exc))
    return RedirectResponse("/?archived=" + str(study.id), status_code=303)


@router.post("/studies/{study_id}/restore")
async def restore_study(study_id: int, request: Request, db: Session = Depends(db_session),
                        user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    practice.restore(db, user, study_or_404(db, user, study_id))
    return _back(study_id)


@router.get("/studies/{study_id}/tracing.svg")
def tracing_svg(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    """The study's tracing alone (true scale), e.g. the previous ECG beside the current one."""
    study = study_or_404(db, user, study_id)
    record = tracing.study_record(data_dir(request), study)
    if record is None:
        raise HTTPException(404, i18n.t("no_tracing", lang_of(request)))
    svg = tracing.tracing_svg(record, study.analysis, lang=lang_of(request))
    studies.record_view(db, user, study, input_sha256=study.file_sha256, details={"kind": "tracing"})
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/studies/{study_id}/sign")
async def sign(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    study = study_or_404(db, user, study_id)
    try:
        studies.sign(db, user, study, data_dir=data_dir(request), lang=lang_of(request))
    except NotReady as refusal:
        return study_view_page(request, db, user, study, 409, sign_error=str(refusal), to_decide=refusal.pending,
                               urgency_to_decide=refusal.urgency_pending)
    return _back(study_id)


@router.post("/studies/{study_id}/amend")
async def amend(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    studies.amend(db, user, study_or_404(db, user, study_id))
    return _back(study_id)


@router.get("/studies/{study_id}/report.pdf")
def pdf(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(page_user)) -> Response:
    study = study_or_404(db, user, study_id)
    data = documents.export_pdf(db, data_dir(request), user, study, lang=lang_of(request), version=version)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="ecg-{study.id}.pdf"'})
