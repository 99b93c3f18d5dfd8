"""Tables of the pilot's evaluation (same declarative ``Base`` as :mod:`ecgpilot.store.models`).

* ``PilotProtocol`` – one evaluation protocol (design, periods, outcomes) as canonical JSON with its
  SHA-256; once registered (frozen) it is never changed: the hash is the one published.
* ``PilotAllocation`` – the randomised schedule: for each practice its stratum and the period from
  which the AI reading is on (``None``: never, the control arm of a parallel design).
* ``PilotActivity`` – the insurer's activity extract (ECG acts DEQP003 per doctor per month),
  doctors pseudonymised; each row keeps the SHA-256 of the file it came from.
* ``PilotFollowUp`` – the GP's 30-day follow-up of a signed ECG (referral, cardiology visit,
  emergency, final diagnosis, change of treatment). No patient identity: the study id only.

The tables are created by the Alembic baseline revision 0007 (:mod:`ecgpilot.store.migrations`), like every
other table; :func:`ensure_pilot_schema` only makes sure the database is migrated.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Engine, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from ecgpilot.errors import RecordError
from ecgpilot.store.models import Base, utcnow

__all__ = ["PilotProtocol", "PilotAllocation", "PilotActivity", "PilotFollowUp", "PILOT_TABLES", "ensure_pilot_schema"]


class PilotProtocol(Base):
    __tablename__ = "pilot_protocol"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="draft")   # draft | registered
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # randomisation (done on the draft, frozen with it)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    randomised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    allocation_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # registration: protocol + allocation frozen, their joint hash published
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    registered_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    registration_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PilotAllocation(Base):
    __tablename__ = "pilot_allocation"
    __table_args__ = (UniqueConstraint("protocol_id", "practice_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("pilot_protocol.id"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(100))
    crossover_period: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PilotActivity(Base):
    __tablename__ = "pilot_activity"
    __table_args__ = (UniqueConstraint("doctor_key", "month", "ccam_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_key: Mapped[str] = mapped_column(String(64), index=True)   # pseudonym (keyed hash of the RPPS, or the insurer's)
    month: Mapped[str] = mapped_column(String(7), index=True)          # YYYY-MM
    n_acts: Mapped[int] = mapped_column(Integer)
    ccam_code: Mapped[str] = mapped_column(String(7))
    source_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(128))


class PilotFollowUp(Base):
    __tablename__ = "pilot_followup"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), unique=True, index=True)
    entered_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    referred: Mapped[bool | None] = mapped_column(Boolean, nullable=True)            # to a cardiologist
    referral_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)    # consultation | tele_expertise | emergency
    seen_on: Mapped[date | None] = mapped_column(Date, nullable=True)               # seen by the cardiologist
    emergency: Mapped[bool | None] = mapped_column(Boolean, nullable=True)          # sent to the emergency department
    hospitalised: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    diagnosis: Mapped[str | None] = mapped_column(String(30), nullable=True)         # code of followup.DIAGNOSES
    diagnosis_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_diagnosis: Mapped[bool | None] = mapped_column(Boolean, nullable=True)      # newly found thanks to this ECG
    treatment_changed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


PILOT_TABLES = (PilotProtocol, PilotAllocation, PilotActivity, PilotFollowUp)


@event.listens_for(PilotAllocation, "before_update")
@event.listens_for(PilotAllocation, "before_delete")
def _allocation_is_frozen(_mapper, conn, target: PilotAllocation) -> None:  # type: ignore[no-untyped-def]
    """The allocation of a registered protocol is never changed."""
    status = conn.execute(PilotProtocol.__table__.select().where(  # type: ignore[attr-defined]
        PilotProtocol.__table__.c.id == target.protocol_id)).mappings().first()  # type: ignore[attr-defined]
    if status is not None and status["status"] == "registered":
        raise RecordError(f"the allocation of registered protocol {target.protocol_id} is frozen "
                          f"(practice {target.practice_id}); register an amended protocol instead.")


@event.listens_for(PilotProtocol, "before_update")
def _protocol_is_frozen(_mapper, conn, target: PilotProtocol) -> None:  # type: ignore[no-untyped-def]
    """A registered protocol is never changed (its stored row says so, whatever the object holds now)."""
    row = conn.execute(PilotProtocol.__table__.select().where(  # type: ignore[attr-defined]
        PilotProtocol.__table__.c.id == target.id)).mappings().first()  # type: ignore[attr-defined]
    if row is not None and row["status"] == "registered":
        raise RecordError(f"protocol {row['name']!r} was registered on {row['registered_at']} "
                          f"(sha256 {row['registration_sha256']}); it is frozen: create an amended protocol instead.")


@event.listens_for(PilotProtocol, "before_delete")
def _registered_protocol_is_kept(_mapper, _conn, target: PilotProtocol) -> None:  # type: ignore[no-untyped-def]
    if target.status == "registered":
        raise RecordError(f"protocol {target.name!r} is registered; it is never deleted.")


def ensure_pilot_schema(engine: Engine) -> None:
    """Make sure the pilot's tables exist: migrate the database to the head revision (idempotent)."""
    from ecgpilot.store.locks import schema_lock
    from ecgpilot.store.migrate import migrate

    with schema_lock(engine):   # several workers starting at once take turns (PostgreSQL)
        migrate(engine)
