"""Pages of the care pathway: tele-expertise (ask, queue, answer, withdraw, take into the report), sending the
signed report, and its CDA/FHIR downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.models import OpinionRequest, Study, User
from ecgpilot.web.deps import (
    checked_form,
    data_dir,
    db_session,
    engine,
    lang_of,
    opinion_or_404,
    page_user,
    settings,
    study_or_404,
)
from ecgpilot.web.routes.study_pages import study_view_page
from ecgpilot.web.routes.views import queue_notice, render, said
from ecgpilot.web.services import care, documents, sending, tracing
from ecgpilot.web.services.common import Conflict, Invalid

__all__ = ["router", "document_response"]

router = APIRouter(include_in_schema=False)


def _status(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 422


# ------------------------------------------------------------------ tele-expertise --

@router.post("/studies/{study_id}/opinion")
async def ask_opinion(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    raw = str(form.get("cardiologist_id", "")).strip()
    typed = {"question": str(form.get("question", "")), "cardiologist_id": raw}
    try:
        if not (raw.isascii() and raw.isdigit()):
            raise Invalid.said("cardiologist_not_chosen", raw=raw)
        req = care.request_opinion(db, user, study, int(raw), typed["question"], consent=form.get("consent") == "yes")
    except (RecordError, Conflict) as exc:   # said on the study page, the question kept
        return study_view_page(request, db, user, study, _status(exc), opinion_error=said(exc, lang_of(request)),
                               opinion_form=typed)
    queue_notice(request, req.cardiologist, "opinion_requested", f"/opinions/{req.id}")
    return RedirectResponse(f"/studies/{study_id}#opinions", status_code=303)


@router.post("/opinions/{opinion_id}/cancel")
async def cancel_opinion(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    await checked_form(request)
    req = opinion_or_404(db, user, opinion_id)
    care.cancel_opinion(db, user, req)
    queue_notice(request, req.cardiologist, "opinion_cancelled", "/opinions")
    return RedirectResponse(f"/studies/{req.study_id}#opinions", status_code=303)


@router.get("/opinions", response_class=HTMLResponse)
def opinion_queue(request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    queue = care.opinion_queue(db, user)
    return render(request, "opinions.html", {"user": user, "queue": queue, "studies": {r.study_id: r.study for r in queue},
                                             "askers": {r.requested_by: r.requester for r in queue}})


def _opinion_view(request: Request, user: User, req: OpinionRequest, study: Study, status_code: int = 200,
                  **extra: Any) -> Response:
    """The opinion page; ``extra``: a refusal and what the cardiologist had typed (kept)."""
    record = tracing.study_record(data_dir(request), study)
    svg = tracing.tracing_svg(record, study.analysis) if record is not None else None
    ctx = {"user": user, "req": req, "study": study, "svg": svg, "analysis": study.analysis or {},
           "statements": (study.interpretation or {}).get("statements", []), "asker": req.requester,
           "cardiologist": req.cardiologist, "draft": study.draft or {"statements": [], "urgency": {}},
           "answer_error": None, "typed": {}, "to_decide": []}
    ctx.update(extra)
    return render(request, "opinion.html", ctx, status_code)


@router.get("/opinions/{opinion_id}", response_class=HTMLResponse)
def opinion_page(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    req = opinion_or_404(db, user, opinion_id)
    study = care.record_view(db, user, req)
    care.mark_read(db, user, study.id)
    return _opinion_view(request, user, req, study)


@router.post("/opinions/{opinion_id}/answer")
async def answer_opinion(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    req = opinion_or_404(db, user, opinion_id)
    study = req.study
    statements = (study.interpretation or {}).get("statements", [])
    agreement = {s["id"]: {"agree": form.get(f"agree_{s['id']}") == "yes", "comment": str(form.get(f"comment_{s['id']}", ""))}
                 for s in statements if form.get(f"agree_{s['id']}") in ("yes", "no")}
    try:
        care.answer_opinion(db, user, req, str(form.get("answer", "")), agreement, str(form.get("urgency", "")) or None)
    except (RecordError, Conflict) as exc:   # said on the opinion page, what was typed kept
        typed = {k: str(v) for k, v in form.items() if k != "csrf"}
        missing = [s["id"] for s in statements if s["id"] not in agreement]
        return _opinion_view(request, user, req, study, _status(exc), answer_error=said(exc, lang_of(request)),
                             typed=typed, to_decide=missing)
    queue_notice(request, req.requester, "opinion_answered", f"/studies/{study.id}#opinions")
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

@router.post("/studies/{study_id}/send")
async def send(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(page_user)) -> Response:
    form = await checked_form(request)
    study = study_or_404(db, user, study_id)
    typed = {"doctors": str(form.get("doctors", ""))}
    try:
        sending.send_signed(db, engine(request), data_dir(request), user, study, doctors=typed["doctors"],
                            to_patient=bool(form.get("to_patient")), resend=bool(form.get("resend")),
                            patient_domain=getattr(settings(request), "patient_mssante_domain",
                                                   sending.PATIENT_MSSANTE_DOMAIN))
    except (RecordError, Conflict) as exc:   # said on the study page, the addresses kept
        return study_view_page(request, db, user, study, _status(exc), send_error=said(exc, lang_of(request)),
                               send_form=typed)
    return RedirectResponse(f"/studies/{study_id}#sending", status_code=303)


def document_response(request: Request, db: Session, user: User, study: Study, fmt: str,
                      version: int | None = None) -> Response:
    """A signed version as CDA R2 N1 or FHIR R4 (``fmt`` ``"cda"``/``"fhir"``) for download, audited as an export."""
    data, media, name = documents.export_document(db, data_dir(request), user, study, fmt, version)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/studies/{study_id}/report.cda.xml")
def cda(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(page_user)) -> Response:
    return document_response(request, db, user, study_or_404(db, user, study_id), "cda", version)


@router.get("/studies/{study_id}/report.fhir.json")
def fhir(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
         user: User = Depends(page_user)) -> Response:
    return document_response(request, db, user, study_or_404(db, user, study_id), "fhir", version)
