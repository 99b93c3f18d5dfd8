"""REST API ``/api/v1`` for practice software (bearer tokens; errors as RFC 9457 problems)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ecgpilot.store.models import ApiToken, Study, User
from ecgpilot.store.users import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, token_state
from ecgpilot.web import api_models as out
from ecgpilot.web.deps import (
    api_user,
    data_dir,
    db_session,
    study_or_404,
    upload_reader,
    upload_uses_ai,
)
from ecgpilot.web.services import (
    access,
    accounts,
    documents,
    identity,
    practice,
    studies,
)
from ecgpilot.web.services import upload as uploading
from ecgpilot.web.services.common import iso
from ecgpilot.web.uploads import read_upload, upload_openapi

__all__ = ["router", "tokens", "summary", "token_summary"]

router = APIRouter(prefix="/api/v1", tags=["studies"], generate_unique_id_function=out.operation_id,
                   responses=out.problem_responses(401, 403, 422, 503))
tokens = APIRouter(prefix="/api/v1", tags=["tokens"], generate_unique_id_function=out.operation_id,
                   responses=out.problem_responses(401, 422, 503))


class NewToken(BaseModel):
    label: str = Field(default="", max_length=200)
    days: int = Field(default=DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


def token_summary(row: ApiToken) -> dict[str, Any]:
    """A token as listed: never the token itself (only its hash is kept)."""
    return {"id": row.id, "label": row.label, "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "last_used_at": iso(row.last_used_at), "revoked_at": iso(row.revoked_at), "state": token_state(row)}


@tokens.get("/tokens", response_model=list[out.Token], summary="Your API tokens (state, expiry, last use; never the tokens themselves)")
def list_tokens(db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    return [token_summary(t) for t in accounts.tokens(db, user)]


@tokens.post("/tokens", status_code=201, response_model=out.NewTokenIssued, summary="A new API token (shown once), valid 'days' days")
def new_token(body: NewToken, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    token, row = accounts.new_token(db, user, label=body.label, days=body.days, via="api")
    return {**token_summary(row), "token": token}


@tokens.delete("/tokens/{token_id}", status_code=204, responses=out.problem_responses(404), summary="Revoke one of your API tokens (at once)")
def revoke_token(token_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> Response:
    accounts.revoke_token(db, user, token_id, via="api")
    return Response(status_code=204)


def _pseudo(user: User | None) -> bool:
    return user is not None and access.access_of(user) == "pseudonymised"


def summary(study: Study, user: User | None = None) -> dict[str, Any]:
    """The worklist fields of a study (identity removed for pseudonymised access)."""
    draft_u = ((study.draft or {}).get("urgency") or {}).get("level")
    doc = {
        "id": study.id, "status": study.status, "created_at": iso(study.created_at),
        "recorded_at": study.recorded_at.isoformat() if study.recorded_at else None,
        "file": {"name": study.file_name, "names": study.file_names, "sha256": study.file_sha256, "format": study.file_format},
        "patient": access.identity(study, pseudonymised=_pseudo(user)), "urgency": draft_u or study.ai_urgency, "ai_urgency": study.ai_urgency,
        "error": study.error, "archived": study.archived_at is not None,
        "uploaded_again": bool(getattr(study, "uploaded_again", False)),
    }
    if _pseudo(user):  # file names and reader messages can carry a name: format and hash only
        doc["file"] = {"sha256": study.file_sha256, "format": study.file_format}
        doc["error"] = "unreadable file" if study.error else None
    return doc


class StatementChange(BaseModel):
    id: str
    decision: Literal["pending", "confirmed", "edited", "rejected"]
    text: str | None = None


class DraftPatch(BaseModel):
    changes: list[StatementChange] = Field(default_factory=list)
    add: list[str] = Field(default_factory=list, description="free-text statements to add")
    urgency: Literal["emergency", "repeat_now", "soon", "routine", "normal"] | None = None
    version: int | None = Field(None, description="the study's row_version you read; a study changed since is "
                                                  "refused with 409 (without it, your change is applied on top of "
                                                  "concurrent ones)")


class PatientPatch(BaseModel):
    family_name: str | None = None
    given_names: str | None = None
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    sex: str | None = Field(None, description="M or F")
    ins: str | None = Field(None, description="13-character matricule + 2-digit key")
    ins_status: Literal["provisoire"] | None = Field(None, description="only back to provisoire; higher statuses "
                                                      "come from POST .../identity/verify")


class IdentityCheck(BaseModel):
    id_document: Literal["cni", "passeport", "titre_sejour", "livret_famille", "acte_naissance"] | None = Field(
        None, description="high-trust ID document seen by the doctor")
    insi: Literal["teleservice", "practice_software"] | None = Field(
        None, description="how the INS was obtained from INSi (the teleservice is not reachable offline)")


class Archive(BaseModel):
    reason: str = Field(..., description="why (unreadable file, wrong patient, duplicate...)")


@router.post("/studies", status_code=201, summary="Upload one or more ECG files",
             response_model=list[out.StudySummary], responses=out.problem_responses(413, 507),
             openapi_extra=upload_openapi("files"))
async def upload(request: Request, db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    """Each file is a study, except a WFDB ``.hea`` sent with its ``.dat`` (one study). The token is
    checked before the body is read; the body is streamed within the limits (413 beyond them); a file
    that cannot be read becomes its own "unreadable" study, never failing the others."""
    settings = request.app.state.settings
    _fields, content = await read_upload(request, max_bytes=settings.max_upload_bytes,
                                         max_files=settings.max_upload_files)
    groups = uploading.group_upload(content, max_bytes=settings.max_upload_bytes, max_files=settings.max_upload_files)
    del content
    made = [await uploading.run_analysis(request.app.state.analysis_pool, uploading.ingest, db, data_dir(request), user, g,
                                      use_ai=upload_uses_ai(request, user), reader=upload_reader(request))
            for g in groups]
    return [summary(s, user) for s in made]


@router.get("/studies", response_model=list[out.StudySummary], summary="The practice's worklist")
def list_studies(request: Request, response: Response,
                 status: Literal["to_read", "signed", "unreadable"] | None = None,
                 limit: int = Query(100, ge=1, le=500, description="studies per page"),
                 offset: int = Query(0, ge=0, description="studies to skip (in the worklist's order)"),
                 db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    """One page of the worklist (to read first, most urgent first); ``X-Total-Count`` gives the number
    of studies in all and ``Link: <...>; rel="next"`` the next page while there is one."""
    page, total = studies.worklist(db, user, status, offset=offset, limit=limit)
    rows = [summary(s, user) for s in page]
    studies.record_read(db, user, f"practice:{user.practice_id}", kind="worklist", count=len(rows))
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        response.headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    return rows


@router.get("/studies/{study_id}", response_model=out.StudyDetail, response_model_exclude_unset=True,
            responses=out.problem_responses(404), summary="One study: AI analysis, interpretation, draft, signed versions")
def get_study(study_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    studies.record_read(db, user, f"study:{study.id}")
    reps: list[dict[str, Any]] = [{"version": r.version, "signed_at": iso(r.signed_at), "content": r.content,
                                   "sha256": r.content_sha256} for r in studies.reports(db, study)]
    pseudo = _pseudo(user)
    if pseudo:
        reps = [dict(r, content=access.redacted_report(r["content"])) for r in reps]
    return {**summary(study, user), "analysis": access.redacted_analysis(study.analysis) if pseudo else study.analysis,
            "interpretation": study.interpretation, "model_version": study.model_version,
            "rules_version": study.rules_version,
            "draft": access.redacted_draft(study.draft) if pseudo else study.draft,
            "reports": reps, "identity_check": None if _pseudo(user) else study.identity_check,
            "age_years": study.age_years, "row_version": study.row_version}


@router.patch("/studies/{study_id}/statements", response_model=out.Draft, response_model_exclude_unset=True, responses=out.problem_responses(404, 409),
              summary="Confirm, edit or reject statements; add some; set urgency")
def patch_statements(study_id: int, body: DraftPatch, db: Session = Depends(db_session),
                     user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    studies.update_draft(db, user, study, [c.model_dump() for c in body.changes], body.add, body.urgency,
                          expected_version=body.version)
    return study.draft or {}


@router.patch("/studies/{study_id}/patient", response_model=out.PatientIdentity,
              responses=out.problem_responses(404, 409), summary="Set the patient identity (INS checked)")
def patch_patient(study_id: int, body: PatientPatch, db: Session = Depends(db_session),
                  user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    studies.update_identity(db, user, study, body.model_dump(exclude_unset=True))
    return access.identity(study)


@router.post("/studies/{study_id}/identity/verify", response_model=out.IdentityWithCheck,
             responses=out.problem_responses(404, 409), summary="Record the identity verification (status from it)")
def verify_identity(study_id: int, body: IdentityCheck, request: Request, db: Session = Depends(db_session),
                    user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    identity.verify_identity(db, user, study, id_document=body.id_document, insi_source=body.insi,
                             insi=getattr(request.app.state, "insi", None), lang="en")
    return {**access.identity(study), "identity_check": study.identity_check}


@router.post("/studies/{study_id}/archive", response_model=out.StudySummary,
             responses=out.problem_responses(404, 409), summary="Archive an unreadable or mistaken upload (kept, audited)")
def archive(study_id: int, body: Archive, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    practice.archive(db, user, study, body.reason, lang="en")
    return summary(study, user)


@router.post("/studies/{study_id}/sign", status_code=201, response_model=out.SignedVersion, response_model_exclude_unset=True,
             responses=out.problem_responses(404, 409), summary="Sign the report (new immutable version)")
def sign(study_id: int, request: Request, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    rep = studies.sign(db, user, study, data_dir=data_dir(request), lang="fr")
    return {"version": rep.version, "signed_at": iso(rep.signed_at), "content": rep.content, "sha256": rep.content_sha256}


@router.post("/studies/{study_id}/amend", response_model=out.StudySummary,
             responses=out.problem_responses(404, 409), summary="Reopen a signed study for a new version")
def amend(study_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> dict[str, Any]:
    study = study_or_404(db, user, study_id)
    studies.amend(db, user, study)
    return summary(study, user)


@router.get("/studies/{study_id}/events", response_model=list[out.StudyEvent],
            responses=out.problem_responses(404), summary="Who changed what, when")
def events(study_id: int, db: Session = Depends(db_session), user: User = Depends(api_user)) -> list[dict[str, Any]]:
    study = study_or_404(db, user, study_id)
    studies.record_read(db, user, f"study:{study.id}", kind="events")
    rows = study.events
    hide = _pseudo(user)  # before/after carry names, file names, free text: what happened and when only
    return [{"at": iso(e.at), "user_id": e.user_id, "action": e.action, "target": e.target,
             "before": None if hide else e.before, "after": None if hide else e.after} for e in rows]


@router.get("/studies/{study_id}/report.pdf", summary="PDF report (signed, or draft with a watermark)",
            response_class=Response,
            responses={200: out.document_response("application/pdf"), **out.problem_responses(404, 409)})
def report_pdf(study_id: int, request: Request, version: int | None = None, lang: Literal["fr", "en"] = "fr",
               db: Session = Depends(db_session), user: User = Depends(api_user)) -> Response:
    study = study_or_404(db, user, study_id)
    pdf = documents.export_pdf(db, data_dir(request), user, study, lang=lang, version=version)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="ecg-{study.id}.pdf"'})
