"""Sending a signed report on ("en Y"): :func:`export_report` turns a signed version into the report dict of
:mod:`ecgpilot.export`; :func:`send_report` queues it as CDA-in-XDM mail (MSSanté) to the treating doctor
and/or the patient's Mon espace santé address (qualified INS only), recorded as
:class:`~ecgpilot.store.models.Dispatch` rows whose delivery state is the outbox row's
(:func:`dispatches`). Also the practice's outbox as its admin sees it.

Same conventions as :mod:`ecgpilot.web.services.studies`: each function commits its change with its
``StudyEvent`` and audit entry.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.models import Dispatch, Practice, Report, Study, StudyEvent, User, utcnow
from ecgpilot.web.services.common import (
    URGENCY_LEVELS,
    Conflict,
    Invalid,
    NotFound,
    audit_event,
    aware,
    undone_on_refusal,
)
from ecgpilot.web.services.studies import reports

__all__ = ["PATIENT_MSSANTE_DOMAIN", "patient_id_root", "split_name", "export_report", "parse_addresses",
           "send_report", "dispatches", "outbox_practice", "send_signed", "practice_outbox", "retry_outbox"]

PATIENT_MSSANTE_DOMAIN = "patient.mssante.fr"
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def patient_id_root(practice: Practice) -> str:
    """OID of the practice's local patient ids: the configured one, else a UUID-derived OID
    (``2.25.<uuid>``, ITU-T X.667) fixed for the practice."""
    if practice.patient_id_root:
        return practice.patient_id_root
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, f'ecgpilot:practice:{practice.id}:{practice.name}').int}"


def split_name(full: str) -> tuple[str, str | None]:
    """(family name, given name) from an account name like ``"Dr Paul MARTIN"``: the last word is the
    family name (a ``Dr``/``Pr`` title is dropped)."""
    words = [w for w in (full or "").split() if w.rstrip(".").lower() not in ("dr", "pr", "docteur", "professeur")]
    if not words:
        raise RecordError(f"account name {full!r} gives no family name; set the doctor's name as 'Given FAMILY'.")
    return words[-1], " ".join(words[:-1]) or None


def export_report(db: Session, study: Study, rep: Report) -> dict[str, Any]:
    """The :mod:`ecgpilot.export` report dict of one signed version (checked by ``check_report`` later).

    Recording times without a zone are taken as French local time (the devices' clock)."""
    signer = rep.signer
    practice = study.practice
    if not signer.rpps:
        raise Invalid.said("no_rpps", name=signer.name)
    if not practice.org_id:
        raise Invalid.said("no_org_id", name=practice.name)
    c = rep.content
    p = c.get("patient") or {}
    missing = [k for k in ("family_name", "given_names", "birth_date") if not p.get(k)]
    if missing:
        raise Invalid.said("identity_incomplete", missing=", ".join(missing))
    family, given = split_name(signer.name)
    level = c.get("urgency")
    from ecgpilot.web.i18n import t

    stated = "; ".join(c.get("statements") or [])
    urgency_text = f"{t('urgency', 'fr')} : {t('u_' + level, 'fr')}" if level in URGENCY_LEVELS else ""
    conclusion = ". ".join(x for x in (stated, urgency_text) if x) or "Compte rendu sans conclusion rédigée."
    if level not in URGENCY_LEVELS:
        raise RecordError(f"the signed version {rep.version} has no urgency chosen by the doctor; amend the study, "
                          "choose the urgency and sign again.")
    return {
        "version": rep.version,
        "patient": {"ins": p.get("ins"), "identity_status": p.get("ins_status") or "provisoire",
                    "local_id": f"ECG-{study.id}", "local_id_root": patient_id_root(practice),
                    "birth_name": p["family_name"], "given_names": p["given_names"].split(), "birth_date": p["birth_date"],
                    "sex": p.get("sex") or "U"},
        "author": {"rpps": signer.rpps, "family_name": family, "given_name": given},
        "organisation": {"id": practice.org_id, "id_prefix": practice.org_id_prefix or "3", "name": practice.name},
        "study": {"id": f"study-{study.id}",
                  "acquired_at": aware(study.recorded_at, "Europe/Paris") or aware(study.created_at)},
        "measurements": {k: v for k, v in ((study.analysis or {}).get("measurements") or {}).items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "statements": list(c.get("statements") or []),
        "conclusion": conclusion,
        "urgency": level,   # the doctor's level, one of five, coded in ecgpilot.export.URGENCY_CODES
        "signed_at": aware(rep.signed_at),
        "ai": {"model_version": study.model_version, "rules_version": study.rules_version},
    }


def parse_addresses(raw: str | list[str] | None) -> list[str]:
    """Mail addresses from a list or a comma/semicolon/space separated text; any malformed one is refused."""
    items = raw if isinstance(raw, list) else re.split(r"[\s,;]+", raw or "")
    out = [a.strip() for a in items if a and a.strip()]
    bad = [a for a in out if not _EMAIL.match(a)]
    if bad:
        raise RecordError(f"{', '.join(repr(b) for b in bad)} is not a mail address; give MSSanté addresses like dr.x@medecin.mssante.fr.")
    return out


def send_report(db: Session, engine: Engine, user: User, study: Study, pdf: bytes, *, doctors: str | list[str] | None = None,
                to_patient: bool = False, patient_domain: str = PATIENT_MSSANTE_DOMAIN, resend: bool = False,
                cda: bytes | None = None) -> list[Dispatch]:
    """Queue the last signed version for sending (committed): one mail to the treating doctor(s),
    one to the patient's Mon espace santé address ``<INS>@<patient_domain>`` (qualified INS only).
    ``cda``: the CDA frozen at signing (:func:`ecgpilot.web.services.documents.signed_document`), sent as is.

    Each becomes an outbox row (kept until sent, retried) and a :class:`Dispatch`; nothing is sent
    inline. Raises when nothing is to be sent, the study is not signed or an identity is missing."""
    from ecgpilot.export.mssante import queue_report

    if not user.can_sign or user.practice_id != study.practice_id:
        raise PermissionError(f"role {user.role!r} cannot send a report; only the practice's doctors can.")
    reps = reports(db, study)
    if study.status != "signed" or not reps:
        raise Conflict.said("send_unsigned", id=study.id, status=study.status)
    rep = reps[-1]
    to_doctors = parse_addresses(doctors)
    if not to_doctors and not to_patient:
        raise Invalid.said("no_recipient")
    practice = study.practice
    sender = user.mssante_address or practice.mssante_address
    if not sender:
        raise Invalid.said("no_sender")
    report = export_report(db, study, rep)
    plan: list[tuple[str, list[str]]] = []
    if to_doctors:
        plan.append(("doctor", to_doctors))
    if to_patient:
        from ecgpilot.ins import transmissible_ins

        ins = transmissible_ins(study.ins, study.ins_status)
        if ins is None:
            raise RecordError(f"identity status {study.ins_status or 'not set'!r}: the INS is not qualified, so the report "
                              "cannot go to the patient's record; qualify the identity (INSi + ID document) first.")
        plan.append(("dmp", [f"{ins}@{patient_domain}"]))
    if not resend:
        earlier = {(d["kind"], tuple(sorted(d["recipients"]))): d for d in dispatches(db, engine, study)
                   if d["version"] == rep.version and d["status"] != "failed"}
        again = [earlier[(k, tuple(sorted(r)))] for k, r in plan if (k, tuple(sorted(r))) in earlier]
        if again:
            d = again[0]
            raise Conflict(f"version {rep.version} was already queued for the {d['kind']} recipient(s) on "
                           f"{d['created_at']:%Y-%m-%d %H:%M} UTC (state: {d['status']}); send again only on purpose "
                           "(resend: true).")
    out: list[Dispatch] = []
    conn = db.connection()  # the outbox rows, their audit entries and the dispatches: one transaction
    for kind, recipients in plan:
        outbox_id = queue_report(conn, report, pdf, sender=sender, recipients=recipients,
                                 source_oid=patient_id_root(practice), require_qualified_ins=kind == "dmp",
                                 actor=(str(user.id), user.role), target=f"study:{study.id}", cda=cda)
        disp = Dispatch(study_id=study.id, report_version=rep.version, kind=kind, recipients=recipients,
                        outbox_id=outbox_id, created_by=user.id, created_at=utcnow())
        db.add(disp)
        db.add(StudyEvent(study_id=study.id, user_id=user.id, action="send", target=f"v{rep.version}",
                          after={"kind": kind, "recipients": len(recipients), "outbox_id": outbox_id}))
        out.append(disp)
    try:
        db.commit()
    except Exception:
        db.rollback()
        raise
    return out


def dispatches(db: Session, engine: Engine, study: Study) -> list[dict[str, Any]]:
    """The study's sendings with their delivery state (``pending``/``sent``/``failed``, attempts,
    last error, next retry), oldest first."""
    from ecgpilot.export.mssante import outbox_entries

    rows = list(db.scalars(select(Dispatch).where(Dispatch.study_id == study.id).order_by(Dispatch.id)))
    if not rows:
        return []
    box = {e["id"]: e for e in outbox_entries(engine)}
    out = []
    for d in rows:
        e = box.get(d.outbox_id, {})
        out.append({"id": d.id, "kind": d.kind, "version": d.report_version, "recipients": d.recipients,
                    "outbox_id": d.outbox_id, "created_at": d.created_at, "status": e.get("status", "unknown"),
                    "attempts": e.get("attempts"), "last_error": e.get("last_error"),
                    "next_attempt_at": e.get("next_attempt_at"), "sent_at": e.get("sent_at")})
    return out


def outbox_practice(db: Session, target: str | None) -> int | None:
    """The practice an outbox row belongs to, from its target (``study:<id>`` or
    ``notice:<kind>:user:<id>``); ``None`` when unknown."""
    parts = (target or "").split(":")
    if len(parts) == 2 and parts[0] == "study" and parts[1].isdigit():
        study = db.get(Study, int(parts[1]))
        return study.practice_id if study else None
    if len(parts) == 4 and parts[0] == "notice" and parts[2] == "user" and parts[3].isdigit():
        user = db.get(User, int(parts[3]))
        return user.practice_id if user else None
    return None


@undone_on_refusal
def send_signed(db: Session, engine: Engine, data_dir: Path, user: User, study: Study, *,
                doctors: str | list[str] | None, to_patient: bool, resend: bool,
                patient_domain: str = PATIENT_MSSANTE_DOMAIN) -> list[Dispatch]:
    """Queue the last signed version with its PDF and its frozen CDA (:func:`send_report`); committed."""
    from ecgpilot.web.services import documents

    rep, pdf = documents.signed_pdf(db, data_dir, user, study)
    cda = documents.frozen_cda(db, data_dir, user, study, rep)
    return send_report(db, engine, user, study, pdf, cda=cda, doctors=doctors, to_patient=to_patient, resend=resend,
                       patient_domain=patient_domain)


def practice_outbox(db: Session, engine: Engine, user: User, limit: int = 100) -> list[dict[str, Any]]:
    """The last ``limit`` outbox messages of ``user``'s practice, newest first, addresses redacted from errors."""
    from ecgpilot.export.mssante import outbox_entries, redact_addresses

    return [dict(e, last_error=redact_addresses(e["last_error"]) if e["last_error"] else None)
            for e in outbox_entries(engine) if outbox_practice(db, e["target"]) == user.practice_id][-limit:][::-1]


def retry_outbox(db: Session, engine: Engine, admin: User, outbox_id: int) -> None:
    """Send an outbox message of the admin's practice again now (audited, committed); :class:`NotFound` otherwise."""
    from ecgpilot.export.mssante import outbox_entries, retry_now

    row = next((e for e in outbox_entries(engine) if e["id"] == outbox_id), None)
    if row is None or outbox_practice(db, row["target"]) != admin.practice_id:
        raise NotFound(f"outbox message {outbox_id} not found among your practice's.")
    retry_now(engine, outbox_id)
    audit_event(db, admin, "admin", f"outbox:{outbox_id}", details={"kind": "retry"})
    db.commit()
