"""The study's history as sentences a GP reads ("Dr A a confirmé « Rythme sinusal »"), in French or
English; never the stored before/after dictionaries. Pseudonymised readers get what happened and
when, without names or free text."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot.store.models import StudyEvent, User
from ecgpilot.web.i18n import t

__all__ = ["sentence", "sentences"]

_FR = {
    "upload": "{who} a déposé l'ECG ({files})",
    "upload_again": "{who} a déposé à nouveau le même fichier : l'ECG existant a été ouvert",
    "statement": "{who} a {decision} l'énoncé « {text} »",
    "statement_edit": "{who} a modifié l'énoncé « {old} » en « {text} »",
    "add_statement": "{who} a ajouté l'énoncé « {text} »",
    "urgency": "{who} a fixé l'urgence : {level}",
    "identity": "{who} a modifié l'identité du patient ({fields})",
    "identity_check": "{who} a enregistré la vérification d'identité (statut : {status})",
    "sign": "{who} a signé le compte rendu (version {version})",
    "amend": "{who} a rouvert le compte rendu signé pour l'amender",
    "opinion_request": "{who} a demandé l'avis de {cardiologist}",
    "opinion_answer": "{who} a répondu à la demande d'avis (urgence : {level} ; {agree} accord(s), {disagree} désaccord(s))",
    "opinion_cancel": "{who} a retiré la demande d'avis",
    "opinion_adopt": "{who} a repris l'avis du cardiologue dans le brouillon ({n} proposition(s) à décider)",
    "send": "{who} a envoyé le compte rendu (version {version}) par MSSanté",
    "archive": "{who} a archivé l'ECG ({reason})",
    "restore": "{who} a remis l'ECG dans la liste de travail",
    "other": "{who} : {action}",
}
_EN = {
    "upload": "{who} uploaded the ECG ({files})",
    "upload_again": "{who} uploaded the same file again: the existing ECG was opened",
    "statement": "{who} {decision} the statement “{text}”",
    "statement_edit": "{who} edited the statement “{old}” into “{text}”",
    "add_statement": "{who} added the statement “{text}”",
    "urgency": "{who} set the urgency: {level}",
    "identity": "{who} changed the patient's identity ({fields})",
    "identity_check": "{who} recorded the identity verification (status: {status})",
    "sign": "{who} signed the report (version {version})",
    "amend": "{who} reopened the signed report to amend it",
    "opinion_request": "{who} asked {cardiologist} for an opinion",
    "opinion_answer": "{who} answered the opinion request (urgency: {level}; {agree} agreed, {disagree} disagreed)",
    "opinion_cancel": "{who} withdrew the opinion request",
    "opinion_adopt": "{who} took the cardiologist's opinion into the draft ({n} proposal(s) to decide)",
    "send": "{who} sent the report (version {version}) by MSSanté",
    "archive": "{who} archived the ECG ({reason})",
    "restore": "{who} put the ECG back on the worklist",
    "other": "{who}: {action}",
}
_DECISION = {"fr": {"confirmed": "confirmé", "rejected": "rejeté", "pending": "remis « à décider »", "edited": "modifié"},
             "en": {"confirmed": "confirmed", "rejected": "rejected", "pending": "set back to “to decide”", "edited": "edited"}}
_FIELDS = {"fr": {"family_name": "nom", "given_names": "prénoms", "birth_date": "date de naissance", "sex": "sexe",
                  "ins": "INS", "ins_status": "statut"},
           "en": {"family_name": "family name", "given_names": "given names", "birth_date": "birth date", "sex": "sex",
                  "ins": "INS", "ins_status": "status"}}


def sentence(event: StudyEvent, who: str, lang: str = "fr", *, pseudo: bool = False) -> str:
    """One event as a sentence in ``lang``; ``pseudo``: no free text or names (what happened only)."""
    texts = _FR if lang == "fr" else _EN
    before, after = event.before or {}, event.after or {}
    hidden = "…"
    v: dict[str, Any] = {"who": who, "action": event.action}
    kind = event.action if event.action in texts else "other"
    if kind == "upload":
        v["files"] = hidden if pseudo else ", ".join(after.get("files") or [])
    elif kind == "statement":
        decision = after.get("decision", "")
        v["text"] = hidden if pseudo else after.get("text", "")
        v["old"] = hidden if pseudo else before.get("text", "")
        if decision == "edited" and before.get("text") != after.get("text"):
            kind = "statement_edit"
        v["decision"] = _DECISION.get(lang, _DECISION["en"]).get(decision, decision)
    elif kind == "add_statement":
        v["text"] = hidden if pseudo else after.get("text", "")
    elif kind in ("urgency", "opinion_answer"):
        level = after.get("level") or after.get("urgency")
        v["level"] = t("u_" + level, lang) if level else "—"
        v["agree"], v["disagree"] = after.get("agree", 0), after.get("disagree", 0)
    elif kind == "identity":
        names = _FIELDS.get(lang, _FIELDS["en"])
        changed = [names.get(k, k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        v["fields"] = ", ".join(changed) or "—"
    elif kind == "identity_check":
        v["status"] = event.target or after.get("ins_status") or "—"
    elif kind in ("sign", "send"):
        v["version"] = (event.target or "v?").lstrip("v")
    elif kind == "opinion_request":
        v["cardiologist"] = hidden if pseudo else after.get("cardiologist", "")
    elif kind == "opinion_adopt":
        v["n"] = after.get("proposals", 0)
    elif kind == "archive":
        v["reason"] = hidden if pseudo else after.get("reason") or "—"
    out = texts[kind].format(**v)
    return out[:1].upper() + out[1:]


def sentences(db: Session, events: list[StudyEvent], lang: str = "fr", *, pseudo: bool = False) -> dict[int, str]:
    """Each event's sentence by event id (authors by name; "un médecin" / "a doctor" when pseudonymised)."""
    ids = {e.user_id for e in events}
    names = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_(ids or {0})))}
    anonymous = "un utilisateur" if lang == "fr" else "a user"
    return {e.id: sentence(e, anonymous if pseudo else names.get(e.user_id, anonymous), lang, pseudo=pseudo)
            for e in events}
