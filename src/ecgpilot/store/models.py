"""Database tables.

* ``Practice`` – a GP practice; every user and study belongs to one.
* ``User`` – a doctor (role ``gp``/``cardiologist``), an ``evaluator`` (read only) or an ``admin``.
* ``ApiToken`` – bearer tokens for practice software (only their SHA-256 is stored); each expires,
  can be revoked, and records its last use.
* ``LoginSession`` – a web login (only the SHA-256 of its id is stored; the signed cookie carries the
  id): ended by logout or a password change, and by the idle and absolute timeouts.
* ``Study`` – one uploaded ECG: original file(s) by sha256, the AI proposal (analysis and
  interpretation documents, model and rules versions), the doctor's working draft; ``row_version``
  is checked and incremented by every update (a concurrent change is detected, never lost).
* ``StudyEvent`` – every change made by a person: who, when, before/after.
* ``Report`` – a signed report version; never updated (an amendment adds a version).
* ``OpinionRequest`` – tele-expertise: a GP's question on a study to a cardiologist, and the answer
  (agreement with each AI statement and with the urgency), with the turnaround.
* ``Notification`` – an in-app notice for one user (no patient data), e.g. "opinion answered".
* ``Dispatch`` – one sending of a signed report version (MSSanté outbox id, recipients, kind).
* ``ReportDocument`` – a document of a signed version (PDF, CDA, FHIR) frozen in the file store by its
  SHA-256; served byte for byte afterwards, never re-rendered.

Relationships follow the foreign keys (``study.practice``, ``study.uploader``, ``study.events``,
``study.opinions``, ``report.signer``, ``opinion.study``/``requester``/``cardiologist``, ...): a many-to-one
loads its row from the session's identity map like ``db.get``; the one-to-many collections are read-only
(``viewonly``, ordered), so rows are still created by adding them with their foreign keys, and a signed
report or a frozen document is never touched through a collection. The tables are the same with or
without them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ecgpilot.errors import RecordError

__all__ = ["Base", "Practice", "User", "ApiToken", "LoginSession", "Study", "StudyEvent", "Report", "OpinionRequest", "Notification",
           "Dispatch", "ReportDocument", "DOCUMENT_KINDS", "utcnow"]

ROLES = ("gp", "cardiologist", "evaluator", "admin")
STATUSES = ("to_read", "signed", "unreadable")
OPINION_STATUSES = ("open", "answered", "cancelled")
DISPATCH_KINDS = ("dmp", "doctor")
DOCUMENT_KINDS = ("pdf", "cda", "fhir")


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Practice(Base):
    __tablename__ = "practice"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # for exported documents (CDA author organisation, XDM source): FINESS/SIRET and the OID of local patient ids
    org_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    org_id_prefix: Mapped[str | None] = mapped_column(String(2), nullable=True)
    patient_id_root: Mapped[str | None] = mapped_column(String(128), nullable=True)
    mssante_address: Mapped[str | None] = mapped_column(String(254), nullable=True)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rpps: Mapped[str | None] = mapped_column(String(11), nullable=True)
    mssante_address: Mapped[str | None] = mapped_column(String(254), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    practice: Mapped[Practice] = relationship()

    @property
    def can_sign(self) -> bool:
        return self.role in ("gp", "cardiologist")


class ApiToken(Base):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship()


class LoginSession(Base):
    __tablename__ = "login_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Study(Base):
    __tablename__ = "study"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="to_read", index=True)
    # original file(s): content-addressed folder, main file name inside it
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_names: Mapped[list[Any]] = mapped_column(default=list)
    file_format: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # patient identity (entered by the doctor or prefilled from the file)
    family_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    given_names: Mapped[str | None] = mapped_column(String(200), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    ins: Mapped[str | None] = mapped_column(String(15), nullable=True)
    ins_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # the AI proposal, kept as produced
    analysis: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    interpretation: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rules_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ai_urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # the doctor's working draft: {"statements": [...], "urgency": {...}}
    draft: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # age at the recording as the file gives it (when the file has no birth date)
    age_years: Mapped[float | None] = mapped_column(nullable=True)
    # identity verification (who, when, how: ID document, INSi) behind ins_status; see ecgpilot.ins
    identity_check: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # archived (an unreadable or mistaken upload): out of the worklist, kept with its history
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    archive_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # optimistic concurrency: every UPDATE of the row checks and increments it (SQLAlchemy's version counter),
    # so two requests changing the same study at once cannot both write from the same old state (lost update)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": row_version}

    practice: Mapped[Practice] = relationship()
    uploader: Mapped[User] = relationship(foreign_keys=[uploaded_by])
    events: Mapped[list[StudyEvent]] = relationship(viewonly=True, order_by="StudyEvent.id")
    reports: Mapped[list[Report]] = relationship(viewonly=True, order_by="Report.version")
    opinions: Mapped[list[OpinionRequest]] = relationship(viewonly=True, order_by="OpinionRequest.id")
    dispatches: Mapped[list[Dispatch]] = relationship(viewonly=True, order_by="Dispatch.id")
    documents: Mapped[list[ReportDocument]] = relationship(viewonly=True, order_by="ReportDocument.id")


class StudyEvent(Base):
    __tablename__ = "study_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100), nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    study: Mapped[Study] = relationship()
    user: Mapped[User] = relationship()


class Report(Base):
    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("study_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    signed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content: Mapped[dict[str, Any]] = mapped_column()
    content_sha256: Mapped[str] = mapped_column(String(64))
    study: Mapped[Study] = relationship()
    signer: Mapped[User] = relationship()
    documents: Mapped[list[ReportDocument]] = relationship(viewonly=True, order_by="ReportDocument.id")


class OpinionRequest(Base):
    """Tele-expertise request: GP -> cardiologist, on one study."""

    __tablename__ = "opinion_request"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    cardiologist_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{"id", "ai_text", "agree": bool, "comment"}] for every AI statement; urgency the cardiologist would give
    statement_opinions: Mapped[list[Any] | None] = mapped_column(nullable=True)
    urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ai_urgency: Mapped[str | None] = mapped_column(String(20), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    study: Mapped[Study] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requested_by])
    cardiologist: Mapped[User] = relationship(foreign_keys=[cardiologist_id])

    @property
    def turnaround_s(self) -> float | None:
        if self.answered_at is None:
            return None
        a, b = self.answered_at, self.requested_at
        if (a.tzinfo is None) != (b.tzinfo is None):
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
        return (a - b).total_seconds()


class Notification(Base):
    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship()
    study: Mapped[Study | None] = relationship()


class Dispatch(Base):
    """One sending of a signed report version; the delivery state lives in the MSSanté outbox row."""

    __tablename__ = "dispatch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    report_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    outbox_id: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    study: Mapped[Study] = relationship()
    sender: Mapped[User] = relationship()


class ReportDocument(Base):
    """One frozen document of a signed report version: kind (pdf, cda, fhir), language, SHA-256 of the bytes
    stored in the file store (``<data_dir>/documents/<sha256>``), size and media type. Never updated."""

    __tablename__ = "report_document"
    __table_args__ = (UniqueConstraint("report_id", "kind", "lang"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    lang: Mapped[str] = mapped_column(String(5))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    report: Mapped[Report] = relationship()
    study: Mapped[Study] = relationship()


@event.listens_for(ReportDocument, "before_update")
@event.listens_for(ReportDocument, "before_delete")
def _documents_are_immutable(_mapper, _conn, target: ReportDocument) -> None:  # type: ignore[no-untyped-def]
    """A frozen document is never changed or removed."""
    raise RecordError(f"the {target.kind} of signed report version {target.version} (study {target.study_id}) is "
                      "immutable; amend the study to sign a new version.")


@event.listens_for(Report, "before_update")
@event.listens_for(Report, "before_delete")
def _reports_are_immutable(_mapper, _conn, target: Report) -> None:  # type: ignore[no-untyped-def]
    """A signed report is never changed or removed: an amendment adds a version."""
    raise RecordError(f"signed report {target.id} (study {target.study_id}, version {target.version}) is immutable; "
                      "amend the study to sign a new version.")
