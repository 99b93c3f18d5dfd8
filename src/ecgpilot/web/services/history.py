"""The study's history as sentences a GP reads ("Dr A a confirmé « Rythme sinusal »"), in French or
English (the catalogue's ``web.history_sentence`` section); never the stored before/after dictionaries. Pseudonymised readers get what happened and
when, without names or free text."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.store.models import StudyEvent, User
from ecgpilot.web.i18n import t

__all__ = ["sentence", "sentences"]

_TEXTS = "web.history_sentence"   # the catalogue section: event.<action>, decision.<decision>, field.<field>, anonymous


def sentence(event: StudyEvent, who: str, lang: str = "fr", *, pseudo: bool = False) -> str:
    """One event as a sentence in ``lang``; ``pseudo``: no free text or names (what happened only)."""
    lang = messages.lang_or_en(lang)
    events = messages.section(f"{_TEXTS}.event", lang)
    before, after = event.before or {}, event.after or {}
    hidden = "…"
    v: dict[str, Any] = {"who": who, "action": event.action}
    kind = event.action if event.action in events else "other"
    if kind == "upload":
        v["files"] = hidden if pseudo else ", ".join(after.get("files") or [])
    elif kind == "statement":
        decision = after.get("decision", "")
        v["text"] = hidden if pseudo else after.get("text", "")
        v["old"] = hidden if pseudo else before.get("text", "")
        if decision == "edited" and before.get("text") != after.get("text"):
            kind = "statement_edit"
        v["decision"] = messages.section(f"{_TEXTS}.decision", lang).get(decision, decision)
    elif kind == "add_statement":
        v["text"] = hidden if pseudo else after.get("text", "")
    elif kind in ("urgency", "opinion_answer"):
        level = after.get("level") or after.get("urgency")
        v["level"] = t("u_" + level, lang) if level else "—"
        v["agree"], v["disagree"] = after.get("agree", 0), after.get("disagree", 0)
    elif kind == "identity":
        names = messages.section(f"{_TEXTS}.field", lang)
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
    out = messages.text(f"{_TEXTS}.event.{kind}", lang, **v)
    return out[:1].upper() + out[1:]


def sentences(db: Session, events: list[StudyEvent], lang: str = "fr", *, pseudo: bool = False) -> dict[int, str]:
    """Each event's sentence by event id (authors by name; "un médecin" / "a doctor" when pseudonymised)."""
    ids = {e.user_id for e in events}
    names = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_(ids or {0})))}
    anonymous = messages.text(f"{_TEXTS}.anonymous", messages.lang_or_en(lang))
    return {e.id: sentence(e, anonymous if pseudo else names.get(e.user_id, anonymous), lang, pseudo=pseudo)
            for e in events}
