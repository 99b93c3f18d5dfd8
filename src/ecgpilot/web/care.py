"""The care pathway around a study: tele-expertise, notifications, sending the signed report on.

* Tele-expertise: a GP asks a cardiologist (any practice on this instance) a question on one study
  (:func:`request_opinion`); the cardiologist sees a queue (:func:`opinion_queue`), reads the study
  through the request (:func:`get_opinion`) and answers, agreeing or not with each AI statement and
  with the AI urgency (:func:`answer_opinion`). The requesting GP is notified in the app (and by mail
  when a mail server is configured). Turnaround = ``answered_at - requested_at``. The answers are the
  reference that measures the AI in real use (:mod:`ecgpilot.web.evaluation`).
* Into the report: :func:`adopt_opinion` takes an answer into the GP's draft in one step (the
  cardiologist's view beside each statement, their answer and urgency as proposals), each still to
  be decided by the GP.
* Sending ("en Y"): :func:`export_report` turns a signed version into the report dict of
  :mod:`ecgpilot.export`; :func:`send_report` queues it as CDA-in-XDM mail (MSSanté) to the treating
  doctor and/or the patient's Mon espace santé address (qualified INS only), recorded as
  :class:`~ecgpilot.store.models.Dispatch` rows whose delivery state is the outbox row's.

Same conventions as :mod:`ecgpilot.web.services`: each function commits its change with its
``StudyEvent`` and audit entry; failures raise the project's exceptions with a message that says
what to do.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError
from ecgpilot.store.lookup import must_get
from ecgpilot.store.models import (
    Dispatch,
    Notification,
    OpinionRequest,
    Practice,
    Report,
    Study,
    StudyEvent,
    User,
    utcnow,
)
from ecgpilot.web.services import URGENCY_LEVELS, Conflict, Invalid, audit_event, reports

__all__ = [
    "cardiologists", "request_opinion", "opinion_queue", "get_opinion", "opinions_of_study", "answer_opinion",
    "adopt_opinion",
    "cancel_opinion", "notifications", "mark_read", "notice_mail", "export_report", "send_report",
    "dispatches", "patient_id_root", "split_name", "iso", "outbox_practice", "parse_addresses", "MAX_QUESTION", "PATIENT_MSSANTE_DOMAIN",
]

MAX_QUESTION = 2000
PATIENT_MSSANTE_DOMAIN = "patient.mssante.fr"
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
NOTICE_KINDS = ("opinion_requested", "opinion_answered", "opinion_cancelled")


# ------------------------------------------------------------------ tele-expertise --

def cardiologists(db: Session) -> list[User]:
    """Every cardiologist account on this instance (any practice), by name."""
    return list(db.scalars(select(User).where(User.role == "cardiologist").order_by(User.name)))


def request_opinion(db: Session, user: User, study: Study, cardiologist_id: int, question: str, *,
                    consent: bool) -> OpinionRequest:
    """Ask ``cardiologist_id`` a question on ``study`` (committed); the cardiologist is notified.

    ``consent``: the patient agreed to the tele-expertise (Code de la santé publique, R.6316-2);
    recorded in the study's history and the audit trail, and required."""
    if not user.can_sign or user.practice_id != study.practice_id:
        raise PermissionError(f"role {user.role!r} cannot ask an opinion; only the practice's doctors (gp, cardiologist) can.")
    if study.status == "unreadable":
        raise Conflict(f"study {study.id} has no readable tracing; upload a readable file before asking an opinion.",
                       fr="Le tracé de cet ECG est illisible : déposez un fichier lisible avant de demander un avis.")
    if consent is not True:
        raise Invalid("the patient's consent to the tele-expertise is not recorded; ask the patient, then tick "
                      "the consent box (consent: true).",
                      fr="Le consentement du patient à la télé-expertise n'est pas coché : demandez-le au patient, "
                         "puis cochez la case.")
    question = (question or "").strip()
    if not question:
        raise Invalid("the question to the cardiologist is empty; say what you want to know.",
                      fr="La question au cardiologue est vide : écrivez ce que vous voulez savoir.")
    if len(question) > MAX_QUESTION:
        raise Invalid(f"the question has {len(question)} characters; at most {MAX_QUESTION}.",
                      fr=f"La question compte {len(question)} caractères ; {MAX_QUESTION} au plus : raccourcissez-la.")
    cardio = db.get(User, cardiologist_id) if isinstance(cardiologist_id, int) else None
    if cardio is None or cardio.role != "cardiologist":
        names = ", ".join(f"{c.id} ({c.name})" for c in cardiologists(db)) or "none registered"
        raise Invalid(f"user {cardiologist_id!r} is not a cardiologist on this instance; cardiologists: {names}.",
                      fr="Choisissez un cardiologue dans la liste.")
    if cardio.id == user.id:
        raise Invalid("you cannot ask yourself for an opinion; choose another cardiologist.",
                      fr="Vous ne pouvez pas vous demander un avis à vous-même : choisissez un autre cardiologue.")
    already = db.scalar(select(OpinionRequest).where(OpinionRequest.study_id == study.id, OpinionRequest.status == "open",
                                                     OpinionRequest.cardiologist_id == cardio.id))
    if already is not None:
        raise Conflict(f"an opinion request to {cardio.name} on study {study.id} is already open (request {already.id}).",
                       fr=f"Une demande d'avis à {cardio.name} sur cet ECG attend déjà sa réponse.")
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
    study = must_get(db, Study, req.study_id)
    if study is not None and study.practice_id == user.practice_id and user.can_sign:
        return req
    return None


def opinions_of_study(db: Session, study: Study) -> list[OpinionRequest]:
    """Every request on ``study``, oldest first."""
    return list(db.scalars(select(OpinionRequest).where(OpinionRequest.study_id == study.id).order_by(OpinionRequest.id)))


def _ai_statements(study: Study) -> list[dict[str, Any]]:
    return [s for s in (study.interpretation or {}).get("statements", []) if s.get("id")]


def answer_opinion(db: Session, user: User, req: OpinionRequest, answer: str, agreement: dict[str, dict[str, Any]],
                   urgency: str | None) -> OpinionRequest:
    """The cardiologist's answer (committed): free text, ``agreement[statement_id] = {"agree": bool,
    "comment": str}`` for every AI statement, and the urgency they would give. The GP is notified."""
    if user.id != req.cardiologist_id:
        raise PermissionError("only the cardiologist the request was sent to can answer it.")
    if req.status != "open":
        raise Conflict(f"opinion request {req.id} is {req.status}; it cannot be answered again.",
                       fr="Cette demande d'avis a déjà reçu une réponse, ou a été retirée : elle ne peut plus être "
                          "répondue.")
    study = must_get(db, Study, req.study_id)
    statements = _ai_statements(study)
    missing = [s["id"] for s in statements if not isinstance((agreement.get(s["id"]) or {}).get("agree"), bool)]
    if missing:
        texts = {s["id"]: s.get("text", s["id"]) for s in statements}
        raise Invalid(f"say whether you agree with each AI statement; still to decide: {', '.join(missing)}.",
                      fr=f"Dites pour chaque énoncé si vous êtes d'accord ; {len(missing)} reste(nt) à décider : "
                         + " ; ".join(f"« {texts[i]} »" for i in missing) + ".")
    unknown = sorted(set(agreement) - {s["id"] for s in statements})
    if unknown:
        raise RecordError(f"statement ids {', '.join(unknown)} are not AI statements of study {study.id}; "
                          f"ids: {', '.join(s['id'] for s in statements) or 'none'}.")
    if urgency not in URGENCY_LEVELS:
        raise Invalid(f"urgency {urgency!r} unknown; give the urgency you would set: {', '.join(URGENCY_LEVELS)}.",
                      fr="Choisissez l'urgence que vous retiendriez.")
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
        raise Conflict(f"opinion request {req.id} is {req.status}; only an answer can be taken into the report.",
                       fr="Cette demande d'avis n'a pas encore de réponse : rien à reprendre dans le compte rendu.")
    if study.status != "to_read" or study.draft is None:
        raise Conflict(f"study {study.id} is {study.status}; amend it to take the opinion into a new version.",
                       fr="Le compte rendu est signé : cliquez « Amender (nouvelle version) », puis reprenez l'avis.")
    draft = copy.deepcopy(study.draft)
    if req.id in draft.get("opinions_taken", []):
        raise Conflict(f"opinion request {req.id} was already taken into this draft.",
                       fr="Cet avis a déjà été repris dans le brouillon : décidez chaque énoncé surligné, puis signez.")
    cardio = db.get(User, req.cardiologist_id)
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
    study = must_get(db, Study, req.study_id)
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


# ------------------------------------------------------------------ sending ---------

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


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset (SQLite gives back naive UTC datetimes)."""
    a = _aware(dt)
    return None if a is None else a.astimezone(ZoneInfo("UTC")).isoformat()


def _aware(dt: datetime | None, naive_tz: str = "UTC") -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=ZoneInfo(naive_tz))


def export_report(db: Session, study: Study, rep: Report) -> dict[str, Any]:
    """The :mod:`ecgpilot.export` report dict of one signed version (checked by ``check_report`` later).

    Recording times without a zone are taken as French local time (the devices' clock)."""
    signer = must_get(db, User, rep.signed_by)
    practice = must_get(db, Practice, study.practice_id)
    if not signer.rpps:
        raise Invalid(f"the signing doctor {signer.name} has no RPPS number; set it under /account before sending.",
                      fr=f"Le médecin signataire ({signer.name}) n'a pas de numéro RPPS : renseignez-le dans « Mon compte », "
                         "puis renvoyez.")
    if not practice.org_id:
        raise Invalid(f"practice {practice.name!r} has no FINESS/SIRET identifier; the administrator sets it under /admin/users.",
                      fr=f"Le cabinet « {practice.name} » n'a pas de numéro FINESS ou SIRET : l'administrateur le "
                         "renseigne dans « Cabinet ».")
    c = rep.content
    p = c.get("patient") or {}
    missing = [k for k in ("family_name", "given_names", "birth_date") if not p.get(k)]
    if missing:
        raise Invalid(f"the signed report lacks the patient's {', '.join(missing)}; amend the study, fill the identity and sign again.",
                      fr="Le compte rendu signé n'a pas l'identité complète du patient (nom, prénoms, date de naissance) : "
                         "amendez-le, complétez l'identité et signez à nouveau.")
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
                  "acquired_at": _aware(study.recorded_at, "Europe/Paris") or _aware(study.created_at)},
        "measurements": {k: v for k, v in ((study.analysis or {}).get("measurements") or {}).items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "statements": list(c.get("statements") or []),
        "conclusion": conclusion,
        "urgency": level,   # the doctor's level, one of five, coded in ecgpilot.export.URGENCY_CODES
        "signed_at": _aware(rep.signed_at),
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
    ``cda``: the CDA frozen at signing (:func:`ecgpilot.web.documents.signed_document`), sent as is.

    Each becomes an outbox row (kept until sent, retried) and a :class:`Dispatch`; nothing is sent
    inline. Raises when nothing is to be sent, the study is not signed or an identity is missing."""
    from ecgpilot.export.mssante import queue_report

    if not user.can_sign or user.practice_id != study.practice_id:
        raise PermissionError(f"role {user.role!r} cannot send a report; only the practice's doctors can.")
    reps = reports(db, study)
    if study.status != "signed" or not reps:
        raise Conflict(f"study {study.id} is {study.status}; sign the report before sending it.",
                       fr="Le compte rendu n'est pas signé : signez-le avant de l'envoyer.")
    rep = reps[-1]
    to_doctors = parse_addresses(doctors)
    if not to_doctors and not to_patient:
        raise Invalid("no recipient: give the treating doctor's MSSanté address and/or tick the patient's record.",
                      fr="Aucun destinataire : saisissez l'adresse MSSanté du médecin traitant et/ou cochez le dossier "
                         "du patient.")
    practice = must_get(db, Practice, study.practice_id)
    sender = user.mssante_address or practice.mssante_address
    if not sender:
        raise Invalid("no MSSanté sender address: set yours under /account (or the practice's) before sending.",
                      fr="Pas d'adresse MSSanté d'envoi : renseignez la vôtre dans « Mon compte » (ou celle du cabinet).")
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
