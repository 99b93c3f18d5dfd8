"""The response bodies of the REST API ``/api/v1``: one pydantic model per shape, used as each route's
``response_model`` so that the OpenAPI document (and a client generated from it) is typed.

The analysis and the reading inside a study are the documents of :mod:`ecgpilot.schema` (the JSON Schema
in ``docs/analysis.schema.json``); a document stored by an earlier ecgpilot, or redacted for pseudonymised
access, is returned as it was stored (the ``object`` branch of the union).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from ecgpilot.schema import AnalysisDocument, Reading
from ecgpilot.schema import Draft as DraftDocument
from ecgpilot.schema import Report

__all__ = [
    "operation_id", "document_response", "Problem", "PROBLEMS", "problem_responses", "Token", "NewTokenIssued", "FileRef", "PatientIdentity",
    "StudySummary", "SignedVersion", "StudyDetail", "StudyEvent", "Draft", "IdentityWithCheck",
    "Cardiologist", "Opinion", "OpinionWithStudy", "Notification", "Adopted", "Dispatch", "Indicators", "Health", "Readiness",
]

Urgency = Literal["emergency", "repeat_now", "soon", "routine", "normal"]


class _Open(BaseModel):
    """A body whose listed fields are guaranteed; later versions may add fields (clients ignore them)."""

    model_config = ConfigDict(extra="allow")


class Problem(_Open):
    """An RFC 9457 problem (``application/problem+json``): every error of the API."""

    type: str = Field("about:blank", description="always about:blank: the status says the kind")
    title: str = Field(..., description="the HTTP status phrase")
    status: int = Field(..., description="the HTTP status code")
    detail: str = Field(..., description="what was wrong and what to do, in words")
    instance: str = Field(..., description="the request path")


PROBLEMS: dict[int, str] = {
    400: "Bad request: the body or a parameter is not what the operation accepts",
    401: "Missing, invalid, expired or revoked API token",
    403: "The token's user may not do this (role, practice or pseudonymised access)",
    404: "No such resource among those the user may see",
    409: "Conflict: the study changed since it was read, or its state forbids the change",
    413: "The upload is over the size or file-count limit",
    422: "A field is missing or has a value outside the accepted ones",
    503: "Storage or audit trail unavailable: nothing was changed",
    507: "Storage full: nothing was lost",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries documenting ``codes`` as RFC 9457 problems."""
    return {c: {"model": Problem, "description": PROBLEMS[c],
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for c in codes}


def operation_id(route: APIRoute) -> str:
    """The OpenAPI ``operationId`` of a route: its function's name (``get_study``, ``upload`` …), so that
    a generated client has readable method names (they are unique across the API; a test checks it)."""
    return route.name


def document_response(media_type: str) -> dict[str, Any]:
    """The ``responses[200]`` entry of a route that returns a document (PDF, CDA, FHIR, CSV) as bytes."""
    schema: dict[str, Any] = {"type": "string", "format": "binary"}
    if media_type.endswith("json"):
        schema = {"type": "object", "additionalProperties": True}
    return {"description": f"the document ({media_type})", "content": {media_type: {"schema": schema}}}


class Token(_Open):
    """An API token as listed: never the token itself (only its hash is kept)."""

    id: int
    label: str
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    state: Literal["active", "expired", "revoked"]


class NewTokenIssued(Token):
    token: str = Field(..., description="the bearer token, shown this once")


class FileRef(_Open):
    name: str | None = None
    names: list[str] | None = None
    sha256: str | None = None
    format: str | None = None


class PatientIdentity(_Open):
    family_name: str | None = None
    given_names: str | None = None
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    sex: str | None = None
    ins: str | None = None
    ins_status: str | None = None
    pseudonymised: bool | None = Field(None, description="true when identity fields are withheld")


class StudySummary(_Open):
    """A study as the worklist shows it (file names and reader messages withheld for pseudonymised access)."""

    id: int
    status: str
    created_at: str | None
    recorded_at: str | None
    file: FileRef
    patient: PatientIdentity
    urgency: Urgency | None
    ai_urgency: Urgency | None
    error: str | None
    archived: bool
    uploaded_again: bool


class SignedVersion(_Open):
    version: int
    signed_at: str | None
    content: Report | dict[str, Any] = Field(..., description="the signed report: statements, decisions, urgency, "
                                                              "patient, doctor, provenance (docs/report.schema.json)")
    sha256: str | None


class StudyDetail(StudySummary):
    analysis: AnalysisDocument | dict[str, Any] | None
    interpretation: Reading | dict[str, Any] | None
    model_version: str | None
    rules_version: str | None
    draft: DraftDocument | dict[str, Any] | None = Field(..., description="statements with the doctor's decisions, urgency")
    reports: list[SignedVersion]
    identity_check: dict[str, Any] | None
    age_years: float | None
    row_version: int | None = Field(..., description="send it back as 'version' to refuse a concurrent change")


class StudyEvent(_Open):
    at: str | None
    user_id: int | None
    action: str
    target: str | None
    before: Any = None
    after: Any = None


Draft = DraftDocument
"""The draft: the proposed statements with the doctor's decisions, and the urgency (``ecgpilot.schema.Draft``)."""


class IdentityWithCheck(PatientIdentity):
    identity_check: dict[str, Any] | None = None


class Cardiologist(_Open):
    id: int
    name: str


class Opinion(_Open):
    """A tele-expertise request and its answer."""

    id: int
    study_id: int
    status: str
    question: str | None
    requested_by: int | None
    cardiologist_id: int | None
    requested_at: str | None
    answered_at: str | None
    turnaround_s: float | None
    answer: str | None
    statements: Any = None
    urgency: str | None
    ai_urgency: str | None
    model_version: str | None


class StudyForOpinion(StudySummary):
    analysis: AnalysisDocument | dict[str, Any] | None
    interpretation: Reading | dict[str, Any] | None
    draft: DraftDocument | dict[str, Any] | None


class OpinionWithStudy(Opinion):
    """A request with the study it is about (for the cardiologist)."""

    study: StudyForOpinion


class Notification(_Open):
    id: int
    kind: str
    study_id: int | None
    created_at: str | None


class Adopted(_Open):
    proposals: Any
    draft: DraftDocument | dict[str, Any] | None


class Dispatch(_Open):
    """One sending of the report (MSSanté) and its delivery state."""

    id: int
    kind: str
    version: int | None
    recipients: Any
    outbox_id: int | None
    created_at: str | None
    status: str
    attempts: int | None = None
    last_error: str | None = None
    next_attempt_at: Any = None
    sent_at: Any = None


class Indicators(_Open):
    """The pilot's indicators over all practices (pseudonymised)."""

    activity: dict[str, Any]
    urgency: dict[str, Any]
    doctor_vs_ai: dict[str, Any]
    tele_expertise: dict[str, Any]
    ai_vs_cardiologist: dict[str, Any]
    sending: dict[str, Any]
    model_versions: dict[str, Any]
    ai_enabled: bool


class Health(_Open):
    status: str


class Readiness(_Open):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
