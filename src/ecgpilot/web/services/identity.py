"""The patient's identity verification (RNIV): who checked what, and the status it gives.

A status above ``provisoire`` comes only from :func:`verify_identity`, which records the doctor, the
time, the ID document seen and how the INS was obtained from INSi, as a :class:`StudyEvent` and an
audit entry (committed together). The INSi teleservice is reached through an
:class:`ecgpilot.ins.InsiClient`; the default one (:class:`ecgpilot.ins.OfflineInsi`) says it is
not reachable, so the doctor can only declare a lookup made in the practice software.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ecgpilot import ins as ins_mod
from ecgpilot import messages
from ecgpilot.errors import RecordError
from ecgpilot.store.models import Study, StudyEvent, User, utcnow
from ecgpilot.web.services.access import identity as identity_fields
from ecgpilot.web.services.common import Conflict, audit_event, undone_on_refusal

__all__ = ["verify_identity", "missing_traits", "check_summary"]

_TEXTS = "web.identity_check"   # the catalogue section of this module's sentences (and ``trait.<name>``)


def missing_traits(study: Study, status: str, lang: str = "fr") -> list[str]:
    """The identity traits ``status`` needs that the study lacks, named in ``lang``."""
    need = ["family_name", "given_names", "birth_date", "sex"]
    if status in ("recuperee", "qualifiee"):
        need.append("ins")
    return [messages.text(f"{_TEXTS}.trait.{k}", messages.lang_or_en(lang)) for k in need if not getattr(study, k)]


@undone_on_refusal
def verify_identity(db: Session, user: User, study: Study, *, id_document: str | None, insi_source: str | None,
                    insi: ins_mod.InsiClient | None = None, lang: str = "fr") -> str:
    """Record a verification and set the status it gives (:func:`ecgpilot.ins.status_from_checks`); committed.

    ``insi_source="teleservice"`` calls ``insi`` (default: offline, which raises
    :class:`ecgpilot.ins.InsiUnavailable`). Refused for a signed study or missing traits."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot verify a patient identity; only doctors can.")
    if study.status == "signed":
        raise Conflict(f"study {study.id} is signed; amend it to change the identity.")
    id_document = id_document or None
    insi_source = insi_source or None
    status = ins_mod.status_from_checks(id_document, insi_source)
    if status == "provisoire":
        raise RecordError(messages.text(f"{_TEXTS}.nothing_verified", messages.lang_or_en(lang)))
    missing = missing_traits(study, status, lang)
    if missing:
        # the French sentence names the status as people read it (« qualifiée »), the English one by its code
        shown = ins_mod.status_label(status, "fr").lower() if lang == "fr" else status
        raise RecordError(messages.text(f"{_TEXTS}.fill_first", messages.lang_or_en(lang), status=shown,
                                        missing=", ".join(missing)))
    if insi_source == "teleservice":
        (insi or ins_mod.OfflineInsi()).lookup(study.ins or "", identity_fields(study))
    before = {"ins_status": study.ins_status, "identity_check": study.identity_check}
    check: dict[str, Any] = {"by": user.id, "by_name": user.name, "at": utcnow().isoformat(timespec="seconds"),
                             "id_document": id_document, "insi": insi_source, "status": status}
    study.ins_status, study.identity_check = status, check
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="identity_check", target=status, before=before,
                      after={"ins_status": status, "identity_check": check}))
    audit_event(db, user, "change", f"study:{study.id}",
                         details={"changes": [{"what": "identity_check", "status": status, "id_document": id_document,
                                               "insi": insi_source}]})
    db.commit()
    return status


def check_summary(check: dict[str, Any] | None, lang: str = "fr") -> str | None:
    """One sentence: who verified the identity, when and how (``None`` without a verification)."""
    if not check:
        return None
    lang = messages.lang_or_en(lang)
    how = [ins_mod.ID_DOCUMENTS[check["id_document"]][lang].lower() if check.get("id_document") else None,
           ins_mod.INSI_SOURCES[check["insi"]][lang] if check.get("insi") else None]
    when = str(check.get("at", ""))[:16].replace("T", " ")
    return messages.text(f"{_TEXTS}.verified", lang, who=check.get("by_name"), when=when,
                         how=" ; ".join(h for h in how if h))
