"""REST API of the care pathway (``/api/v1``): tele-expertise, notifications, sending, CDA/FHIR
documents, the evaluator's indicators. Same bearer tokens and rules as :mod:`ecgpilot.web.routes.api`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ecgpilot.store.models import OpinionRequest, Study, User
from ecgpilot.web import api_models as out
from ecgpilot.web.deps import (
    api_user,
    data_dir,
    db_session,
    engine,
    opinion_or_404,
    pseudonym_key,
    settings,
    study_or_404,
)
from ecgpilot.web.routes.account_pages import evaluation_csv_response, evaluator_only
from ecgpilot.web.routes.api import summary
from ecgpilot.web.routes.care_pages import document_response
from ecgpilot.web.routes.views import queue_notice
from ecgpilot.web.services import access, care, evaluation, sending
from ecgpilot.web.services.common import iso

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["care pathway"], generate_unique_id_function=out.operation_id,
                   responses=out.problem_responses(401, 403, 422, 503))


def opinion_doc(req: OpinionRequest) -> dict[str, Any]:
    """An opinion request as JSON."""
    return {"id": req.id, "study_id": req.study_id, "status": req.status, "question": req.question,
            "requested_by": req.requested_by, "cardiologist_id": req.cardiologist_id,
            "requested_at": iso(req.requested_at), "answered_at": iso(req.answered_at),
            "turnaround_s": req.turnaround_s, "answer": req.answer, "statements": req.statement_opinions,
            "urgency": req.urgency, "ai_urgency": req.ai_urgency, "model_version": req.model_version}


class OpinionAsk(BaseModel):
    cardiologist_id: int
    question: str = Field(..., max_length=care.MAX_QUESTION)
    consent: bool = Field(False, description="the patient agreed to the tele-expertise (required: true)")


class StatementOpinion(BaseModel):
    id: str
    agree: bool
    comment: str = ""


class OpinionAnswer(BaseModel):
    answer: str = ""
    statements: list[StatementOpinion] = Field(default_factory=list, description="one item per AI statement")
    urgency: Literal["emergency", "repeat_now", "soon", "routine", "normal"]


class SendRequest(BaseModel):
    doctors: list[str] = Field(default_factory=list, description="MSSanté addresses of the treating doctor(s)")
    to_patient: bool = Field(False, description="also to the patient's Mon espace santé (qualified INS only)")
    resend: bool = Field(False, description="send again a version already queued or sent to the same recipients")


@router.get("/cardiologists", response_model=list[out.Cardiologist], summary="Cardiologists who can be asked an opinion")
def list_cardiologists(db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.name} for c in care.cardiologists(db) if c.id != user.id]


@router.post("/studies/{study_id}/opinion-requests", status_code=201, response_model=out.Opinion,
             responses=out.problem_responses(404, 409), summary="Ask a cardiologist's opinion (tele-expertise)")
def ask(study_id: int, body: OpinionAsk, request: Request, db: Session = Depends(db_session),
        user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    req = care.request_opinion(db, user, study, body.cardiologist_id, body.question, consent=body.consent)
    queue_notice(request, req.cardiologist, "opinion_requested", f"/opinions/{req.id}")
    return opinion_doc(req)


@router.get("/studies/{study_id}/opinion-requests", response_model=list[out.Opinion],
            responses=out.problem_responses(404), summary="The opinion requests on a study")
def study_opinions(study_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    study = study_or_404(db, user, study_id)
    access.require_identified_access(user)
    return [opinion_doc(r) for r in care.opinions_of_study(db, study)]


@router.get("/opinions", response_model=list[out.Opinion], summary="The cardiologist's tele-expertise queue (open first)")
def queue(db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [opinion_doc(r) for r in care.opinion_queue(db, user)]


@router.get("/opinions/{opinion_id}", response_model=out.OpinionWithStudy, response_model_exclude_unset=True,
            responses=out.problem_responses(404), summary="One request with its study (for the cardiologist)")
def opinion(opinion_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    req = opinion_or_404(db, user, opinion_id)
    study = care.record_view(db, user, req)
    return {**opinion_doc(req), "study": {**summary(study), "analysis": study.analysis, "interpretation": study.interpretation,
                                          "draft": study.draft}}


@router.post("/opinions/{opinion_id}/answer", response_model=out.Opinion,
             responses=out.problem_responses(404, 409), summary="Answer: agreement with each AI statement, urgency, text")
def answer(opinion_id: int, body: OpinionAnswer, request: Request, db: Session = Depends(db_session),
           user: User = Depends(api_user)) -> dict[str, Any]:
    req = opinion_or_404(db, user, opinion_id)
    agreement = {s.id: {"agree": s.agree, "comment": s.comment} for s in body.statements}
    care.answer_opinion(db, user, req, body.answer, agreement, body.urgency)
    queue_notice(request, req.requester, "opinion_answered", f"/studies/{req.study_id}#opinions")
    return opinion_doc(req)


@router.post("/opinions/{opinion_id}/cancel", response_model=out.Opinion,
             responses=out.problem_responses(404, 409), summary="Withdraw an open request")
def cancel(opinion_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    req = opinion_or_404(db, user, opinion_id)
    care.cancel_opinion(db, user, req)
    queue_notice(request, req.cardiologist, "opinion_cancelled", "/opinions")
    return opinion_doc(req)


@router.get("/notifications", response_model=list[out.Notification], summary="Unread notifications (no patient data)")
def notices(db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [{"id": n.id, "kind": n.kind, "study_id": n.study_id, "created_at": iso(n.created_at)}
            for n in care.notifications(db, user)]


@router.post("/opinions/{opinion_id}/adopt", response_model=out.Adopted, response_model_exclude_unset=True,
             responses=out.problem_responses(404, 409), summary="Take the cardiologist's answer into the draft (each still to decide)")
def adopt(opinion_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    req = opinion_or_404(db, user, opinion_id)
    study = study_or_404(db, user, req.study_id)
    proposals = care.adopt_opinion(db, user, study, req)
    return {"proposals": proposals, "draft": study.draft}


@router.post("/studies/{study_id}/send", status_code=202, response_model=list[out.Dispatch],
             responses=out.problem_responses(404, 409), summary="Queue the signed report for MSSanté sending")
def send(study_id: int, body: SendRequest, request: Request, db: Session = Depends(db_session),
         user: User = Depends(api_user)) -> list[dict[str, Any]]:
    study = study_or_404(db, user, study_id)
    sending.send_signed(db, engine(request), data_dir(request), user, study, doctors=body.doctors,
                        to_patient=body.to_patient, resend=body.resend,
                        patient_domain=getattr(settings(request), "patient_mssante_domain", sending.PATIENT_MSSANTE_DOMAIN))
    return _dispatch_docs(db, request, study)


def _dispatch_docs(db: Session, request: Request, study: Study) -> list[dict[str, Any]]:
    return [{**d, "created_at": iso(d["created_at"])} for d in sending.dispatches(db, engine(request), study)]


@router.get("/studies/{study_id}/dispatches", response_model=list[out.Dispatch],
            responses=out.problem_responses(404), summary="Sendings of the report and their delivery state")
def study_dispatches(study_id: int, request: Request, db: Session = Depends(db_session),
                     user: User = Depends(api_user)) -> list[dict[str, Any]]:
    study = study_or_404(db, user, study_id)
    access.require_identified_access(user)
    return _dispatch_docs(db, request, study)


@router.get("/studies/{study_id}/report.cda.xml", summary="Signed report as CDA R2 (N1, PDF embedded)",
            response_class=Response, responses={200: out.document_response("application/xml"), **out.problem_responses(404, 409)})
def cda(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
        user: User = Depends(api_user)) -> Response:
    return document_response(request, db, user, study_or_404(db, user, study_id), "cda", version)


@router.get("/studies/{study_id}/report.fhir.json", summary="Signed report as a FHIR R4 Bundle",
            response_class=Response, responses={200: out.document_response("application/fhir+json"), **out.problem_responses(404, 409)})
def fhir(study_id: int, request: Request, version: int | None = None, db: Session = Depends(db_session),
         user: User = Depends(api_user)) -> Response:
    return document_response(request, db, user, study_or_404(db, user, study_id), "fhir", version)


@router.get("/evaluation/indicators", response_model=out.Indicators, summary="The pilot's indicators (pseudonymised, all practices)")
def indicators(request: Request, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    evaluator_only(user)
    return evaluation.indicators(db, engine(request), pseudonym_key(request))


@router.get("/evaluation/studies.csv", summary="One pseudonymised row per study", response_class=Response,
            responses={200: out.document_response("text/csv")})
def studies_csv(request: Request, db: Session = Depends(db_session), user: User = Depends(api_user)) -> Response:
    return evaluation_csv_response(request, db, user)
