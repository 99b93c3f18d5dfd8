"""A study's life: the practice's worklist, the doctor's draft (decisions, free text, urgency), the patient
identity, signing (a new immutable version with its documents frozen) and amending.

Each change is committed with its ``StudyEvent`` and audit entry; refusals are the exceptions of
:mod:`ecgpilot.web.services.common`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import RecordError
from ecgpilot.ins import normalize_ins, normalize_status
from ecgpilot.store.models import Report, Study, StudyEvent, User, utcnow
from ecgpilot.web.services.access import access_of, identity
from ecgpilot.web.services.common import DECISIONS, URGENCY_LEVELS, Conflict, NotReady, audit_event, undone_on_refusal

__all__ = ["get_study", "list_studies", "worklist", "reports", "preview_draft", "update_draft", "DRAFT_ATTEMPTS",
           "update_identity", "report_content", "still_to_decide", "not_ready", "sign", "amend", "record_view",
           "record_read"]

def get_study(db: Session, user: User, study_id: int) -> Study | None:
    """The study when it belongs to the user's practice and the role may read studies, else
    ``None`` (no existence leak). Administrators manage accounts, not patients: ``None``."""
    if access_of(user) is None:
        return None
    return db.scalar(select(Study).where(Study.id == study_id, Study.practice_id == user.practice_id))


def list_studies(db: Session, user: User, status: str | None = None, limit: int = 200) -> list[Study]:
    """The practice's studies: to read first (most urgent first), then unreadable, then signed;
    newest first within each group. Every study still to read, however old (an urgent one must not
    fall off), then the newest ``limit`` others. Empty for roles without access to studies."""
    rows, _total = worklist(db, user, status)
    to_read = [s for s in rows if s.status == "to_read"]
    return to_read + [s for s in rows if s.status != "to_read"][:limit]


def worklist(db: Session, user: User, status: str | None = None, offset: int = 0,
             limit: int | None = None) -> tuple[list[Study], int]:
    """One page of the worklist in its order (:func:`list_studies`) and the number of studies in all.

    Only the light columns are loaded to order the list (the analysis and interpretation documents
    are left in the database), then the page is sliced: a page costs the same at 50 or 5,000 studies."""
    from sqlalchemy.orm import defer

    if access_of(user) is None:
        return [], 0
    q = (select(Study).options(defer(Study.analysis), defer(Study.interpretation), defer(Study.identity_check))
         .where(Study.practice_id == user.practice_id, Study.archived_at.is_(None)))
    if status:
        q = q.where(Study.status == status)
    order = {"to_read": 0, "unreadable": 1, "signed": 2}
    rows = list(db.scalars(q.order_by(Study.created_at.desc(), Study.id.desc())))
    rows.sort(key=lambda s: (order.get(s.status, 3), _urgency_rank(s) if s.status == "to_read" else 0))
    end = None if limit is None else offset + limit
    return rows[offset:end], len(rows)


def _urgency_rank(study: Study) -> int:
    level = ((study.draft or {}).get("urgency") or {}).get("level") or study.ai_urgency
    return URGENCY_LEVELS.index(level) if level in URGENCY_LEVELS else len(URGENCY_LEVELS)


def reports(db: Session, study: Study) -> list[Report]:
    """Signed versions of a study, oldest first."""
    return list(db.scalars(select(Report).where(Report.study_id == study.id).order_by(Report.version)))


# ------------------------------------------------------------------ doctor ----------

def _editable_draft(study: Study, user: User) -> dict[str, Any]:
    """The study's draft once :func:`_require_editable` allows the change (so never ``None``)."""
    _require_editable(study, user)
    assert study.draft is not None
    return study.draft


def _require_editable(study: Study, user: User) -> None:
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot change a report; only gp and cardiologist can.")
    if study.status != "to_read" or study.draft is None:
        raise Conflict.said("signed_not_editable" if study.status == "signed" else "unreadable_not_editable",
                            id=study.id, status=study.status)


def _apply_changes(study: Study, user: User, draft: dict[str, Any], changes: list[dict[str, Any]],
                   new_statements: list[str] | tuple[str, ...], urgency: str | None) -> list[StudyEvent]:
    """Apply the doctor's decisions to ``draft`` (in place); the events describing them (not added)."""
    by_id = {s["id"]: s for s in draft["statements"]}
    events = []
    for ch in changes:
        sid, decision = ch.get("id"), ch.get("decision")
        if sid not in by_id:
            raise RecordError(f"statement id {sid!r} is not in study {study.id}; ids: {', '.join(by_id) or 'none'}.")
        if decision not in DECISIONS:
            raise RecordError(f"decision {decision!r} unknown; use one of {', '.join(DECISIONS)}.")
        s = by_id[sid]
        before = {"decision": s["decision"], "text": s["text"]}
        text = (ch.get("text") or "").strip() or s["text"]
        if decision == "confirmed":
            text = s["ai_text"] if s["origin"] == "ai" else s["text"]
        if decision == "edited" and s["origin"] == "ai" and text == s["ai_text"]:
            decision = "confirmed"
        after = {"decision": decision, "text": text}
        if after != before:
            s.update(after)
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="statement", target=sid, before=before, after=after))
    for text in new_statements:
        text = text.strip()
        if text:
            sid = f"dr-{len(draft['statements']) + 1}"
            draft["statements"].append({"id": sid, "origin": "doctor", "category": "free_text", "ai_text": None,
                                        "text": text, "confidence": None, "decision": "confirmed"})
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="add_statement", target=sid,
                                     before=None, after={"text": text}))
    if urgency:
        if urgency not in URGENCY_LEVELS:
            raise RecordError(f"urgency {urgency!r} unknown; use one of {', '.join(URGENCY_LEVELS)}.")
        u = draft["urgency"]
        before = {"level": u["level"], "decision": u["decision"]}
        u["level"] = urgency
        u["decision"] = "confirmed" if urgency == u.get("ai_level") else "edited"
        after = {"level": u["level"], "decision": u["decision"]}
        if after != before:
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="urgency", target="urgency", before=before, after=after))
    return events


def preview_draft(study: Study, user: User, changes: list[dict[str, Any]], new_statements: list[str] | tuple[str, ...] = (),
                  urgency: str | None = None) -> dict[str, Any]:
    """The draft as it would be with these decisions, nothing saved (e.g. to check a sign attempt first)."""
    draft = copy.deepcopy(_editable_draft(study, user))
    _apply_changes(study, user, draft, changes, new_statements, urgency)
    return draft


DRAFT_ATTEMPTS = 30
"""How many times :func:`update_draft` re-applies a change on top of concurrent ones before answering 409."""


def update_draft(db: Session, user: User, study: Study, changes: list[dict[str, Any]],
                 new_statements: list[str] | tuple[str, ...] = (), urgency: str | None = None, *,
                 expected_version: int | None = None) -> None:
    """Apply the doctor's decisions: ``changes`` items ``{id, decision, text?}``; free-text
    statements; the final urgency. Each change is logged with before/after (committed).

    Concurrent changes are never lost: the row's version is checked at commit
    (:attr:`~ecgpilot.store.models.Study.row_version`); when another request changed the study in
    between, the study is read again and these decisions are applied on top of it (up to
    :data:`DRAFT_ATTEMPTS` times, then :class:`Conflict`). With ``expected_version`` (the version the
    client saw) a study changed since is refused at once (:class:`Conflict`, HTTP 409)."""
    from sqlalchemy.orm.exc import StaleDataError

    for _attempt in range(DRAFT_ATTEMPTS):
        current = _editable_draft(study, user)
        if expected_version is not None and study.row_version != expected_version:
            raise Conflict.said("changed_since", id=study.id, expected=expected_version, now=study.row_version)
        draft = copy.deepcopy(current)
        events = _apply_changes(study, user, draft, changes, new_statements, urgency)
        study.draft = draft
        db.add_all(events)
        if events:
            audit_event(db, user, "change", f"study:{study.id}", input_sha256=study.file_sha256, outputs=draft,
                        details={"changes": [{"what": e.action, "id": e.target} for e in events]})
        try:
            db.commit()
            return
        except StaleDataError:   # another request changed the study first: ours again, on top of theirs
            db.rollback()
            db.refresh(study)
    raise Conflict.said("too_many_changes", id=study.id)


@undone_on_refusal
def update_identity(db: Session, user: User, study: Study, fields: Mapping[str, str | None]) -> None:
    """Set the patient identity (INS checked); committed. The status can only be put back to
    ``provisoire`` here (a higher one comes from :func:`ecgpilot.web.services.identity.verify_identity`);
    changing a verified trait (INS, names, birth date, sex) drops the verification."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot change a patient identity.")
    if study.status == "signed":
        raise Conflict.said("identity_signed", id=study.id)
    before = identity(study)
    new: dict[str, Any] = {}
    for key in ("family_name", "given_names"):
        if key in fields:
            new[key] = (fields[key] or "").strip() or None
    if "sex" in fields:
        sex = (fields["sex"] or "").strip().upper() or None
        if sex not in (None, "M", "F"):
            raise RecordError(f"sex {fields['sex']!r} unknown; use M, F or leave empty.")
        new["sex"] = sex
    if "birth_date" in fields:
        raw = (fields["birth_date"] or "").strip()
        try:
            new["birth_date"] = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise RecordError(f"birth date {raw!r} is not a date; use YYYY-MM-DD.") from None
    if "ins" in fields:
        raw = (fields["ins"] or "").strip()
        new["ins"] = normalize_ins(raw) if raw else None
    if "ins_status" in fields:
        st = (fields["ins_status"] or "").strip() or None
        st = normalize_status(st) if st else None
        if st not in (None, "provisoire", study.ins_status):
            raise RecordError(f"identity status {st!r} cannot be typed: record the verification (ID document seen, "
                              "INSi lookup) on the study page or POST /api/v1/studies/{id}/identity/verify.")
        new["ins_status"] = st
    for k, v in new.items():
        setattr(study, k, v)
    if study.identity_check and any(before[k] != identity(study)[k] for k in ("family_name", "given_names", "birth_date",
                                                                             "sex", "ins")):
        study.ins_status, study.identity_check = "provisoire", None   # a changed trait is no longer verified
    after = identity(study)
    if after != before:
        db.add(StudyEvent(study_id=study.id, user_id=user.id, action="identity", before=before, after=after))
        audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "identity"}]})
    db.commit()


def report_content(study: Study, user: User | None = None, signed_at: datetime | None = None, version: int | None = None,
                   practice: str | None = None) -> dict[str, Any]:
    """The report document: kept statements, urgency (the doctor's; the AI's kept apart as
    ``ai_urgency``), patient, doctor (name, RPPS), practice, provenance (draft when unsigned)."""
    draft = study.draft or {"statements": [], "urgency": {}}
    return {
        "study_id": study.id, "version": version,
        "statements": [s["text"] for s in draft["statements"] if s["decision"] in ("confirmed", "edited")],
        "decisions": draft["statements"],
        "urgency": (draft.get("urgency") or {}).get("level"),
        "ai_urgency": (draft.get("urgency") or {}).get("ai_level"),
        "doctor": user.name if user else None, "doctor_email": user.email if user else None,
        "doctor_rpps": user.rpps if user else None, "practice": practice,
        "signed_at": signed_at.isoformat() if signed_at else None,
        "patient": identity(study),
        "file_sha256": study.file_sha256, "model_version": study.model_version, "rules_version": study.rules_version,
    }


def still_to_decide(draft: dict[str, Any] | None) -> tuple[list[str], bool]:
    """(ids of the statements still to decide, whether the urgency is still to decide) of a draft."""
    draft = draft or {"statements": [], "urgency": {}}
    u = draft.get("urgency") or {}
    return [s["id"] for s in draft["statements"] if s["decision"] == "pending"], (u.get("decision") == "pending"
                                                                                 or not u.get("level"))


def not_ready(draft: dict[str, Any], lang: str = "fr") -> NotReady | None:
    """The refusal to sign ``draft`` (in ``lang``, the statements named by their text), or ``None`` when it can be signed."""
    pending, urgency = still_to_decide(draft)
    if not pending and not urgency:
        return None
    texts = {s["id"]: s["text"] for s in draft["statements"]}
    lang = messages.lang_or_en(lang)

    def say(key: str, **fields: Any) -> str:
        return messages.text(f"web.not_ready.{key}", lang, **fields)

    named = [say("quoted", text=texts[i]) for i in pending]
    what = [say("pending", n=len(pending), statements=say("list_sep").join(named))] if pending else []
    what += [say("urgency")] if urgency else []
    msg = say("refusal", what=say("and").join(what))
    return NotReady(msg, pending, urgency)


@undone_on_refusal
def sign(db: Session, user: User, study: Study, *, data_dir: Path | None = None, lang: str = "fr") -> Report:
    """Freeze the draft as a new signed report version (committed).

    Refused (:class:`NotReady`, nothing logged) while a statement or the urgency is undecided. With
    ``data_dir`` the version's documents (PDF in ``lang`` and French, CDA, FHIR) are rendered and frozen
    in the file store, their SHA-256 in the signature's audit entry (:func:`ecgpilot.web.services.documents.freeze`)."""
    refusal = not_ready(_editable_draft(study, user), lang)
    if refusal is not None:
        raise refusal
    from ecgpilot.web.services import documents

    version = (db.scalar(select(func.max(Report.version)).where(Report.study_id == study.id)) or 0) + 1
    now = utcnow()
    content = report_content(study, user, now, version, practice=documents.practice_name(db, study))
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    rep = Report(study_id=study.id, version=version, signed_by=user.id, signed_at=now, content=content, content_sha256=digest)
    db.add(rep)
    db.flush()
    frozen = documents.freeze(db, data_dir, study, rep, lang) if data_dir is not None else {}
    study.status = "signed"
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="sign", target=f"v{version}", after={"sha256": digest}))
    audit_event(db, user, "signature", f"study:{study.id}", input_sha256=study.file_sha256, model_version=study.model_version,
                rules_version=study.rules_version, outputs=content,
                details={"version": version, "report_sha256": digest, **frozen})
    db.commit()
    return rep


def amend(db: Session, user: User, study: Study) -> None:
    """Reopen a signed study for a new version (the signed versions stay unchanged)."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot amend a report.")
    if study.status != "signed":
        raise Conflict.said("amend_unsigned", id=study.id, status=study.status)
    study.status = "to_read"
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="amend"))
    audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "amend"}]})
    db.commit()


def record_view(db: Session, user: User, study: Study, **fields: Any) -> None:
    """A person read the study (page, tracing, API): audited with ``fields`` (action ``view``), committed. If the
    trail cannot be written the read is refused (fail closed: no untraced access)."""
    audit_event(db, user, "view", f"study:{study.id}", **fields)
    db.commit()


def record_read(db: Session, user: User, target: str, **details: Any) -> None:
    """An API read of patient data (``target``: ``study:<id>``, ``practice:<id>``), audited like a page view
    (action ``view``, ``via: api``); committed. If the trail cannot be written the read is refused."""
    audit_event(db, user, "view", target, details={**details, "via": "api"})
    db.commit()
