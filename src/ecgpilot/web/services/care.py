"""The care pathway around a study: tele-expertise, notifications, sending the signed report on.

* Tele-expertise: a GP asks a cardiologist (any practice on this instance) a question on one study
  (:func:`request_opinion`); the cardiologist sees a queue (:func:`opinion_queue`), reads the study
  through the request (:func:`get_opinion`) and answers, agreeing or not with each AI statement and
  with the AI urgency (:func:`answer_opinion`). The requesting GP is notified in the app (and by mail
  when a mail server is configured). Turnaround = ``answered_at - requested_at``. The answers are the
  reference that measures the AI in real use (:mod:`ecgpilot.web.services.evaluation`).
* Into the report: :func:`adopt_opinion` takes an answer into the GP's draft in one step (the
  cardiologist's view beside each statement, their answer and urgency as proposals), each still to
  be decided by the GP.
* Sending (:mod:`.sending`) ("en Y"): :func:`export_report` turns a signed version into the report dict of
  :mod:`ecgpilot.export`; :func:`send_report` queues it as CDA-in-XDM mail (MSSanté) to the treating
  doctor and/or the patient's Mon espace santé address (qualified INS only), recorded as
  :class:`~ecgpilot.store.models.Dispatch` rows whose delivery state is the outbox row's.

Same conventions as :mod:`ecgpilot.web.services.studies`: each function commits its change with its
``StudyEvent`` and audit entry; failures raise the project's exceptions with a message that says
what to do.
"""

from __future__ import annotations

import copy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import RecordError
from ecgpilot.store.models import Notification, OpinionRequest, Study, StudyEvent, User, utcnow
from ecgpilot.web.services.common import URGENCY_LEVELS, Conflict, Invalid, audit_event, undone_on_refusal

__all__ = [
    "cardiologists", "request_opinion", "opinion_queue", "get_opinion", "opinions_of_study", "answer_opinion",
    "adopt_opinion", "cancel_opinion", "notifications", "mark_read", "notice_mail", "queue_notice", "record_view",
    "MAX_QUESTION", "NOTICE_KINDS",
]

MAX_QUESTION = 2000
NOTICE_KINDS = ("opinion_requested", "opinion_answered", "opinion_cancelled")


# ------------------------------------------------------------------ tele-expertise --

def cardiologists(db: Session) -> list[User]:
    """Every cardiologist account on this instance (any practice), by name."""
    return list(db.scalars(select(User).where(User.role == "cardiologist").order_by(User.name)))


@undone_on_refusal
def request_opinion(db: Session, user: User, study: Study, cardiologist_id: int, question: str, *,
                    consent: bool) -> OpinionRequest:
    """Ask ``cardiologist_id`` a question on ``study`` (committed); the cardiologist is notified.

    ``consent``: the patient agreed to the tele-expertise (Code de la santé publique, R.6316-2);
    recorded in the study's history and the audit trail, and required."""
    if not user.can_sign or user.practice_id != study.practice_id:
        raise PermissionError(f"role {user.role!r} cannot ask an opinion; only the practice's doctors (gp, cardiologist) can.")
    if study.status == "unreadable":
        raise Conflict.said("opinion_unreadable", id=study.id)
    if consent is not True:
        raise Invalid.said("no_consent")
    question = (question or "").strip()
    if not question:
        raise Invalid.said("empty_question")
    if len(question) > MAX_QUESTION:
        raise Invalid.said("long_question", n=len(question), max=MAX_QUESTION)
    cardio = db.get(User, cardiologist_id) if isinstance(cardiologist_id, int) else None
    if cardio is None or cardio.role != "cardiologist":
        names = ", ".join(f"{c.id} ({c.name})" for c in cardiologists(db)) or "none registered"
        raise Invalid.said("not_a_cardiologist", user=cardiologist_id, names=names)
    if cardio.id == user.id:
        raise Invalid.said("self_opinion")
    already = db.scalar(select(OpinionRequest).where(OpinionRequest.study_id == study.id, OpinionRequest.status == "open",
                                                     OpinionRequest.cardiologist_id == cardio.id))
    if already is not None:
        raise Conflict.said("opinion_open", name=cardio.name, id=study.id, request=already.id)
    req = OpinionRequest(study_id=study.id, requested_by=user.id, cardiologist_id=cardio.id, question=question,
                         status="open", requested_at=utcnow(), ai_urgency=study.ai_urgency, model_version=study.model_version)
    db.add(req)
    db.flush()
    db.add(Notification(user_id=cardio.id, study_id=study.id, kind="opinion_requested"))
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="opinion_request", target=f"opinion:{req.id}",
                      after={"cardiologist": cardio.name, "question": question, "patient_consent": True}))
    audit_event(db, user, "opinion", f"study:{study.id}", input_sha256=study.file_sha256,
                details={"kind": "request", "opinion_id": req.id, "cardiologist_id": cardio.id, "patient_consent": True})
    db.commit()
    return req


def _urgency_rank(level: str | None) -> int:
    return URGENCY_LEVELS.index(level) if level in URGENCY_LEVELS else len(URGENCY_LEVELS)


def opinion_queue(db: Session, user: User, limit: int = 200) -> list[OpinionRequest]:
    """A cardiologist's requests: open ones first (most urgent AI reading, then oldest first), then
    the answered and cancelled ones, newest first."""
    if user.role != "cardiologist":
        raise PermissionError(f"role {user.role!r} has no tele-expertise queue; it is for cardiologists.")
    mine = select(OpinionRequest).where(OpinionRequest.cardiologist_id == user.id)
    open_ = sorted(db.scalars(mine.where(OpinionRequest.status == "open")),  # every open one, however old
                   key=lambda r: (_urgency_rank(r.ai_urgency), r.id))
    done = list(db.scalars(mine.where(OpinionRequest.status != "open").order_by(OpinionRequest.id.desc()).limit(limit)))
    return open_ + done


def get_opinion(db: Session, user: User, opinion_id: int) -> OpinionRequest | None:
    """The request when ``user`` is its cardiologist or a doctor of the requesting practice, else
    ``None`` (no existence leak)."""
    req = db.get(OpinionRequest, opinion_id)
    if req is None:
        return None
    if req.cardiologist_id == user.id:
        # a withdrawn request no longer opens the study; nor does a former cardiologist's account
        return req if req.status != "cancelled" and user.role == "cardiologist" else None
    study = req.study
    if study is not None and study.practice_id == user.practice_id and user.can_sign:
        return req
    return None


def opinions_of_study(db: Session, study: Study) -> list[OpinionRequest]:
    """Every request on ``study``, oldest first."""
    return list(db.scalars(select(OpinionRequest).where(OpinionRequest.study_id == study.id).order_by(OpinionRequest.id)))


def _ai_statements(study: Study) -> list[dict[str, Any]]:
    return [s for s in (study.interpretation or {}).get("statements", []) if s.get("id")]


@undone_on_refusal
def answer_opinion(db: Session, user: User, req: OpinionRequest, answer: str, agreement: dict[str, dict[str, Any]],
                   urgency: str | None) -> OpinionRequest:
    """The cardiologist's answer (committed): free text, ``agreement[statement_id] = {"agree": bool,
    "comment": str}`` for every AI statement, and the urgency they would give. The GP is notified."""
    if user.id != req.cardiologist_id:
        raise PermissionError("only the cardiologist the request was sent to can answer it.")
    if req.status != "open":
        raise Conflict.said("opinion_closed", request=req.id, status=req.status)
    study = req.study
    statements = _ai_statements(study)
    missing = [s["id"] for s in statements if not isinstance((agreement.get(s["id"]) or {}).get("agree"), bool)]
    if missing:
        texts = {s["id"]: s.get("text", s["id"]) for s in statements}
        quoted = [messages.text("web.not_ready.quoted", "fr", text=texts[i]) for i in missing]   # the French page's list
        raise Invalid.said("opinion_undecided", missing=", ".join(missing), n=len(missing),
                           statements=messages.text("web.not_ready.list_sep", "fr").join(quoted))
    unknown = sorted(set(agreement) - {s["id"] for s in statements})
    if unknown:
        raise RecordError(f"statement ids {', '.join(unknown)} are not AI statements of study {study.id}; "
                          f"ids: {', '.join(s['id'] for s in statements) or 'none'}.")
    if urgency not in URGENCY_LEVELS:
        raise Invalid.said("opinion_urgency", urgency=urgency, levels=", ".join(URGENCY_LEVELS))
    answer = (answer or "").strip()
    if len(answer) > 4 * MAX_QUESTION:
        raise RecordError(f"the answer has {len(answer)} characters; at most {4 * MAX_QUESTION}.")
    req.statement_opinions = [
        {"id": s["id"], "code": s.get("code"), "category": s.get("category"), "ai_text": s.get("text", ""),
         "agree": bool(agreement[s["id"]]["agree"]), "comment": str(agreement[s["id"]].get("comment") or "").strip()}
        for s in statements
    ]
    _claim(db, req, "answered")  # raises Conflict when a concurrent cancel or answer came first
    req.urgency, req.answer, req.answered_at = urgency, answer, utcnow()
    db.add(Notification(user_id=req.requested_by, study_id=study.id, kind="opinion_answered"))
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="opinion_answer", target=f"opinion:{req.id}",
                      after={"urgency": urgency, "agree": sum(o["agree"] for o in req.statement_opinions),
                             "disagree": sum(not o["agree"] for o in req.statement_opinions)}))
    audit_event(db, user, "opinion", f"study:{study.id}", input_sha256=study.file_sha256, model_version=req.model_version,
                rules_version=study.rules_version, outputs={"statements": req.statement_opinions, "urgency": urgency, "answer": answer},
                details={"kind": "answer", "opinion_id": req.id, "turnaround_s": round(req.turnaround_s or 0.0, 1),
                         "ai_urgency": req.ai_urgency, "urgency": urgency})
    db.commit()
    return req


def adopt_opinion(db: Session, user: User, study: Study, req: OpinionRequest) -> int:
    """Take the cardiologist's answer into the GP's draft in one step (committed); returns how many
    proposals now wait for the GP's decision.

    Each AI statement of the draft gets the cardiologist's view (agree or not, comment); where the
    GP's decision differs from it (or was not made), the statement goes back to "to decide". An AI
    statement kept out of the draft that the cardiologist agreed with, and the free-text answer, are
    added as statements to decide; the cardiologist's urgency becomes the draft's urgency, to decide.
    Nothing is final until the GP decides each and signs."""
    if not user.can_sign or user.practice_id != study.practice_id:
        raise PermissionError("only a doctor of the requesting practice can take the opinion into the report.")
    if req.study_id != study.id or req.status != "answered":
        raise Conflict.said("opinion_unanswered", request=req.id, status=req.status)
    if study.status != "to_read" or study.draft is None:
        raise Conflict.said("opinion_signed", id=study.id, status=study.status)
    draft = copy.deepcopy(study.draft)
    if req.id in draft.get("opinions_taken", []):
        raise Conflict.said("opinion_taken", request=req.id)
    cardio = req.cardiologist
    name = cardio.name if cardio else "cardiologue"
    by_id = {s["id"]: s for s in draft["statements"]}
    proposals = 0
    for o in req.statement_opinions or []:
        view = {"agree": bool(o["agree"]), "comment": o.get("comment") or "", "by": name, "opinion_id": req.id}
        s = by_id.get(o["id"])
        if s is not None:
            s["cardio"] = view
            fits = (s["decision"] in ("confirmed", "edited")) if view["agree"] else s["decision"] == "rejected"
            if not fits:
                s["decision"] = "pending"
                proposals += 1
        elif view["agree"]:   # an AI-only statement the cardiologist confirms: proposed to the GP
            sid = f"cardio-{req.id}-{o['id']}"
            draft["statements"].append({"id": sid, "origin": "cardiologist", "category": o.get("category"),
                                        "ai_text": None, "text": o.get("ai_text", ""), "confidence": None,
                                        "decision": "pending", "cardio": view})
            proposals += 1
    answer = (req.answer or "").strip()
    if answer:
        draft["statements"].append({"id": f"cardio-{req.id}", "origin": "cardiologist", "category": "free_text",
                                    "ai_text": None, "text": f"Avis cardiologique ({name}) : {answer}", "confidence": None,
                                    "decision": "pending",
                                    "cardio": {"agree": True, "comment": "", "by": name, "opinion_id": req.id}})
        proposals += 1
    u = draft["urgency"]
    if req.urgency in URGENCY_LEVELS:
        u["cardio_level"] = req.urgency
        if not (u.get("level") == req.urgency and u.get("decision") != "pending"):
            u["level"], u["decision"] = req.urgency, "pending"
            proposals += 1
    draft.setdefault("opinions_taken", []).append(req.id)
    study.draft = draft
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="opinion_adopt", target=f"opinion:{req.id}",
                      after={"proposals": proposals, "urgency": req.urgency}))
    audit_event(db, user, "change", f"study:{study.id}", input_sha256=study.file_sha256, outputs=draft,
                details={"changes": [{"what": "opinion_adopt", "id": f"opinion:{req.id}"}], "proposals": proposals})
    db.commit()
    return proposals


def _claim(db: Session, req: OpinionRequest, status: str) -> None:
    """Move an ``open`` request to ``status`` with a conditional update, so that an answer and a
    withdrawal (or two answers) racing each other cannot both succeed."""
    res = db.execute(update(OpinionRequest).where(OpinionRequest.id == req.id, OpinionRequest.status == "open")
                     .values(status=status).execution_options(synchronize_session=False))
    if getattr(res, "rowcount", None) != 1:   # a CursorResult for an UPDATE
        db.rollback()
        db.refresh(req)
        raise Conflict(f"opinion request {req.id} is {req.status} now; it was changed meanwhile (reload the page).")
    req.status = status


def cancel_opinion(db: Session, user: User, req: OpinionRequest) -> None:
    """Withdraw an open request (a doctor of the requesting practice); the cardiologist is notified."""
    study = req.study
    if not user.can_sign or study.practice_id != user.practice_id:
        raise PermissionError("only a doctor of the requesting practice can withdraw the request.")
    if req.status != "open":
        raise Conflict(f"opinion request {req.id} is {req.status}; only an open request can be withdrawn.")
    _claim(db, req, "cancelled")
    db.add(Notification(user_id=req.cardiologist_id, study_id=study.id, kind="opinion_cancelled"))
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="opinion_cancel", target=f"opinion:{req.id}"))
    audit_event(db, user, "opinion", f"study:{study.id}", details={"kind": "cancel", "opinion_id": req.id})
    db.commit()


def notifications(db: Session, user: User, *, unread_only: bool = True, limit: int = 50) -> list[Notification]:
    """The user's notices, newest first."""
    q = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list(db.scalars(q.order_by(Notification.id.desc()).limit(limit)))


def mark_read(db: Session, user: User, study_id: int) -> int:
    """Mark the user's notices about ``study_id`` read (when they open it); committed; returns how many."""
    res = db.execute(update(Notification).where(Notification.user_id == user.id, Notification.study_id == study_id,
                                                Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.commit()
    return int(getattr(res, "rowcount", 0) or 0)


def notice_mail(sender: str, recipient: str, kind: str, link: str, lang: str = "fr") -> EmailMessage:
    """A short notice mail, without any patient data: what happened and the link to open."""
    if kind not in NOTICE_KINDS:
        raise RecordError(f"notice kind {kind!r} unknown; accepted: {', '.join(NOTICE_KINDS)}.")
    texts = {
        "opinion_requested": ("Demande d'avis ECG (télé-expertise)", "Un médecin vous demande un avis sur un ECG."),
        "opinion_answered": ("Avis cardiologique reçu", "Le cardiologue a répondu à votre demande d'avis sur un ECG."),
        "opinion_cancelled": ("Demande d'avis ECG retirée", "Une demande d'avis ECG qui vous était adressée a été retirée."),
    }
    subject, body = texts[kind]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1] or "ecgpilot.local")
    msg.set_content(f"{body}\n\nOuvrir : {link}\n\n(Aucune donnée de patient dans ce message : connectez-vous à ecgpilot.)\n")
    return msg


def queue_notice(engine: Engine, sender: str, recipient: User, kind: str, link: str) -> None:
    """Queue a notice mail (:func:`notice_mail`) to ``recipient`` in the MSSanté outbox."""
    from ecgpilot.export.mssante import enqueue

    msg = notice_mail(sender, recipient.mssante_address or recipient.email, kind, link)
    enqueue(engine, msg, target=f"notice:{kind}:user:{recipient.id}")


def record_view(db: Session, user: User, req: OpinionRequest) -> Study:
    """The cardiologist (or the requesting doctor) opens the study through the request: audited, committed,
    their notices about it marked read; the study."""
    study = req.study
    audit_event(db, user, "view", f"study:{study.id}", details={"via": f"opinion:{req.id}"})
    db.commit()
    return study
