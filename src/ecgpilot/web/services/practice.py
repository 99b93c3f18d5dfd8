"""What makes the app fit a practice: practices and their doctors (RPPS, MSSanté), the worklist's
hygiene (archive, the same file uploaded twice) and the patient's previous ECG.

Like :mod:`ecgpilot.web.services.studies`, every change is committed with its :class:`StudyEvent` (for a
study) and its audit entry. Messages meant for people come in their language (``lang``).
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot import compare, messages
from ecgpilot.errors import RecordError
from ecgpilot.ins import normalize_trait
from ecgpilot.store.models import ROLES, Practice, Report, Study, StudyEvent, User, utcnow
from ecgpilot.web.services.access import access_of
from ecgpilot.web.services.common import Conflict, audit_event, undone_on_refusal

__all__ = ["age_at_recording", "rpps_key", "check_rpps", "check_mssante", "rpps_warning", "practices", "create_practice", "rename_practice",
           "update_account", "find_duplicate", "archive", "restore", "archived_studies", "previous_signed",
           "previous_for_page", "serial_proposal", "apply_serial_comparison", "update_settings", "one_address", "set_ai",
           "ai_on"]


def _msg(lang: str, key: str, **fields: Any) -> str:
    """The text ``web.practice_check.<key>`` in ``lang`` (English for any language but French, as before)."""
    return messages.text(f"web.practice_check.{key}", messages.lang_or_en(lang), **fields)


# ------------------------------------------------------------------ doctors ---------

def rpps_key(first10: str) -> int:
    """The RPPS check digit (Luhn) of the first 10 digits."""
    total = 0
    for i, ch in enumerate(reversed(first10)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def check_rpps(value: str | None, lang: str = "fr") -> str | None:
    """The RPPS number (11 digits, the last one its Luhn key; spaces allowed), ``None`` when empty;
    raises :class:`RecordError` saying what is wrong."""
    raw = (value or "").strip()
    if not raw:
        return None
    s = re.sub(r"[\s.\u00a0]", "", raw)
    if not (s.isascii() and s.isdigit() and len(s) == 11):
        raise RecordError(_msg(lang, "rpps_digits", raw=raw))
    if rpps_key(s[:10]) != int(s[10]):
        raise RecordError(_msg(lang, "rpps_key", raw=raw, digit=s[10], expected=rpps_key(s[:10])))
    return s


def check_mssante(value: str | None, lang: str = "fr") -> str | None:
    """One MSSanté address (lower-cased), ``None`` when empty."""
    raw = (value or "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[a-z]{2,}", raw.lower()):
        raise RecordError(_msg(lang, "mssante", raw=raw))
    return raw.lower()


def rpps_warning(user: User, lang: str = "fr") -> str | None:
    """The warning shown before signing when the signer has no RPPS, else ``None``."""
    if not user.can_sign or user.rpps:
        return None
    return _msg(lang, "rpps_missing")


# ------------------------------------------------------------------ practices -------

def _require_admin(user: User) -> None:
    if user.role != "admin":
        raise PermissionError(f"role {user.role!r} cannot manage practices and accounts; ask your admin.")


def practices(db: Session) -> list[Practice]:
    """Every practice of the instance, by name."""
    return list(db.scalars(select(Practice).order_by(Practice.name)))


def _practice_name(name: str, lang: str) -> str:
    clean = " ".join((name or "").split())
    if not clean or len(clean) > 200:
        raise RecordError(_msg(lang, "practice_name"))
    return clean


def _name_taken(db: Session, name: str, but: int | None = None) -> bool:
    q = select(Practice.id).where(func.lower(Practice.name) == name.lower())
    return any(pid != but for pid in db.scalars(q))


@undone_on_refusal
def create_practice(db: Session, admin: User, name: str, lang: str = "fr") -> Practice:
    """A new practice (committed, audited)."""
    _require_admin(admin)
    name = _practice_name(name, lang)
    if _name_taken(db, name):
        raise RecordError(_msg(lang, "practice_taken", name=name))
    p = Practice(name=name)
    db.add(p)
    db.flush()
    audit_event(db, admin, "settings", f"practice:{p.id}", details={"kind": "create_practice"})
    db.commit()
    return p


@undone_on_refusal
def rename_practice(db: Session, admin: User, practice_id: int, name: str, lang: str = "fr") -> Practice:
    """Rename a practice (committed, audited)."""
    _require_admin(admin)
    p = db.get(Practice, practice_id)
    if p is None:
        raise RecordError(_msg(lang, "practice_id_unknown", practice_id=practice_id))
    name = _practice_name(name, lang)
    if _name_taken(db, name, but=p.id):
        raise RecordError(_msg(lang, "practice_taken", name=name))
    p.name = name
    audit_event(db, admin, "settings", f"practice:{p.id}", details={"kind": "rename_practice"})
    db.commit()
    return p


@undone_on_refusal
def update_account(db: Session, admin: User, user_id: int, fields: Mapping[str, str], lang: str = "fr") -> User:
    """Change an account's name, role, practice, RPPS and MSSanté address (checked; committed, audited)."""
    _require_admin(admin)
    u = db.get(User, user_id)
    if u is None:
        raise RecordError(_msg(lang, "account_unknown", user_id=user_id))
    new: dict[str, Any] = {}
    if "name" in fields:
        new["name"] = " ".join(fields["name"].split()) or u.email
    if "role" in fields:
        if fields["role"] not in ROLES:
            raise RecordError(_msg(lang, "role_unknown", role=fields["role"]))
        if u.id == admin.id and fields["role"] != "admin":
            raise RecordError(_msg(lang, "own_admin_role"))
        new["role"] = fields["role"]
    if "practice_id" in fields:
        raw = fields["practice_id"].strip()
        p = db.get(Practice, int(raw)) if raw.isascii() and raw.isdigit() else None
        if p is None:
            raise RecordError(_msg(lang, "practice_unknown", raw=raw))
        new["practice_id"] = p.id
    if "rpps" in fields:
        new["rpps"] = check_rpps(fields["rpps"], lang)
    if "mssante_address" in fields:
        new["mssante_address"] = check_mssante(fields["mssante_address"], lang)
    changed = sorted(k for k, v in new.items() if getattr(u, k) != v)
    for k in changed:
        setattr(u, k, new[k])
    if changed:
        audit_event(db, admin, "settings", f"user:{u.id}", details={"changed": changed})
    db.commit()
    return u


# ------------------------------------------------------------------ worklist --------

def find_duplicate(db: Session, user: User, sha256: str) -> Study | None:
    """The practice's live (not archived) study of the same file set, if any."""
    return db.scalar(select(Study).where(Study.practice_id == user.practice_id, Study.file_sha256 == sha256,
                                         Study.archived_at.is_(None)).order_by(Study.id))


@undone_on_refusal
def archive(db: Session, user: User, study: Study, reason: str, lang: str = "fr") -> None:
    """Take an unreadable or mistaken upload out of the worklist (kept, with its history; committed,
    audited). A signed study is not archived: amend it instead."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot archive a study; only doctors can.")
    if study.status == "signed":
        raise Conflict(_msg(lang, "signed_not_archived"))
    reason = " ".join((reason or "").split())
    if not reason:
        raise RecordError(_msg(lang, "archive_reason"))
    if study.archived_at is not None:
        return
    study.archived_at, study.archive_reason = utcnow(), reason[:500]
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="archive", after={"reason": study.archive_reason}))
    audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "archive"}]})
    db.commit()


def restore(db: Session, user: User, study: Study) -> None:
    """Bring an archived study back to the worklist (committed, audited)."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot restore a study; only doctors can.")
    if study.archived_at is None:
        return
    before = {"reason": study.archive_reason}
    study.archived_at, study.archive_reason = None, None
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="restore", before=before))
    audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "restore"}]})
    db.commit()


def archived_studies(db: Session, user: User, limit: int = 50) -> list[Study]:
    """The practice's archived studies, newest first (none for roles without access)."""
    if access_of(user) is None:
        return []
    return list(db.scalars(select(Study).where(Study.practice_id == user.practice_id, Study.archived_at.is_not(None))
                           .order_by(Study.archived_at.desc()).limit(limit)))


# ------------------------------------------------------------------ previous ECG ----

def age_at_recording(study: Study) -> float | None:
    """The patient's age at the recording: the file's, else from the birth date (``None`` if unknown)."""
    if study.age_years is not None:
        return float(study.age_years)
    if study.birth_date is None:
        return None
    when = (study.recorded_at or study.created_at).date()
    b = study.birth_date
    return float(when.year - b.year - ((when.month, when.day) < (b.month, b.day)))


def _when(study: Study) -> Any:
    """When the ECG was recorded (else uploaded), naive, so that files with and without a zone compare."""
    return (study.recorded_at or study.created_at).replace(tzinfo=None)


def previous_signed(db: Session, study: Study) -> Study | None:
    """The same patient's latest signed ECG recorded before ``study`` in the same practice: same INS,
    or the same birth name (INS form) and birth date."""
    same: list[Any] = []
    if study.ins:
        same.append(Study.ins == study.ins)
    if study.family_name and study.birth_date:
        same.append(Study.birth_date == study.birth_date)
    if not same:
        return None
    rows = db.scalars(select(Study).where(Study.practice_id == study.practice_id, Study.id != study.id,
                                          Study.status == "signed", Study.archived_at.is_(None), or_(*same)))
    key = normalize_trait(study.family_name) if study.family_name else None
    found = [s for s in rows
             if ((study.ins and s.ins == study.ins)
                 or (key and s.family_name and normalize_trait(s.family_name) == key and s.birth_date == study.birth_date))
             and s.analysis and _when(s) < _when(study)]
    return max(found, key=_when, default=None)


def _last_report(db: Session, study: Study) -> Report | None:
    return db.scalar(select(Report).where(Report.study_id == study.id).order_by(Report.version.desc()))


def serial_proposal(db: Session, study: Study, lang: str = "fr") -> dict[str, Any] | None:
    """The comparison with the previous signed ECG: ``{"study", "report", "changes", "level",
    "reasons"}`` (``level``: the proposal's urgency once raised), or ``None`` without one."""
    prev = previous_signed(db, study)
    if prev is None or not study.analysis:
        return None
    rep = _last_report(db, prev)
    changes = compare.serial_changes(prev.analysis or {}, rep.content if rep else prev.interpretation,
                                     study.analysis, study.interpretation, lang)
    level, reasons = compare.raised_urgency(study.ai_urgency, changes)
    return {"study": prev, "report": rep, "changes": changes, "level": level, "reasons": reasons}


def apply_serial_comparison(db: Session, study: Study, lang: str = "fr") -> None:
    """At upload: a new LBBB or new ST elevation since the previous signed ECG raises the proposal's
    urgency (kept in ``interpretation["serial"]`` with the reasons); the caller commits."""
    found = serial_proposal(db, study, lang)
    if found is None or not study.interpretation:
        return
    interp = dict(study.interpretation)
    interp["serial"] = {"previous_study": found["study"].id, "changes": found["changes"],
                        "raised_from": study.ai_urgency if found["reasons"] else None, "reasons": found["reasons"]}
    if found["reasons"]:
        study.ai_urgency = found["level"]
        interp["urgency"] = dict(interp.get("urgency") or {}, level=found["level"])
        draft = dict(study.draft or {"statements": [], "urgency": {}})
        draft["urgency"] = dict(draft.get("urgency") or {}, ai_level=found["level"], level=found["level"],
                                decision="pending")
        study.draft = draft
    study.interpretation = interp


def previous_for_page(db: Session, data_dir: Path, study: Study, lang: str = "fr") -> dict[str, Any] | None:
    """What the study page shows of the previous ECG (recomputed, so a later signature counts)."""
    if study.status == "unreadable":
        return None
    found = serial_proposal(db, study, lang)
    if found is None:
        return None
    rep = found["report"]
    found["statements"] = (rep.content or {}).get("statements", []) if rep else []
    found["urgency"] = (rep.content or {}).get("urgency") if rep else None
    found["notable"] = [c for c in found["changes"] if c["notable"]]
    found["stable"] = [c for c in found["changes"] if not c["notable"]]
    serial = (study.interpretation or {}).get("serial") or {}
    found["applied"] = serial.get("reasons") or []
    if found["applied"]:   # raised at upload: the reasons again, in this page's language
        found["reasons"] = compare.raised_urgency(serial.get("raised_from"), found["changes"])[1]
    return found


def update_settings(db: Session, admin: User, org_id: str, patient_id_root: str, mssante_address: str) -> Practice:
    """The admin's practice identifiers for exported documents: FINESS (9 digits) or SIRET (14), the OID of
    local patient ids, the MSSanté address (each empty to clear it); checked, audited, committed."""
    p = admin.practice
    org = org_id.strip() or None
    if org is not None and not (org.isascii() and org.isdigit() and len(org) in (9, 14)):
        raise RecordError(f"organisation id {org!r} is not a FINESS (9 digits) or SIRET (14 digits).")
    root = patient_id_root.strip() or None
    if root is not None and not all(part.isascii() and part.isdigit() for part in root.split(".")):
        raise RecordError(f"{root!r} is not an OID (digits separated by dots, e.g. 1.2.250.1.999.1).")
    addr = mssante_address.strip() or None
    p.org_id, p.patient_id_root = org, root
    p.org_id_prefix = None if org is None else ("1" if len(org) == 9 else "3")
    p.mssante_address = one_address(addr) if addr else None
    audit_event(db, admin, "settings", f"practice:{p.id}", details={"org_id_set": org is not None,
                                                                      "mssante_set": p.mssante_address is not None})
    db.commit()
    return p


def one_address(raw: str) -> str:
    """The one MSSanté address of ``raw``; refused when it holds none or several."""
    from ecgpilot.web.services.sending import parse_addresses

    found = parse_addresses(raw)
    if len(found) != 1:
        raise RecordError(f"give one MSSanté address, not {len(found)} ({raw!r}).")
    return found[0]


def set_ai(engine: Engine, admin: User, state: str, reason: str) -> None:
    """The AI stop switch of the admin's practice (``"on"``/``"off"``; stopping needs a reason), audited; the
    app keeps working for manual reading when it is off."""
    from ecgpilot import audit

    if state not in ("on", "off"):
        raise RecordError(f"AI switch state {state!r} unknown; use 'on' or 'off'.")
    reason = reason.strip()
    if state == "off" and not reason:
        raise RecordError("say why the AI reading is stopped (kept in the audit trail).")
    audit.set_ai_enabled(engine, state == "on", actor_id=str(admin.id), actor_role=admin.role, reason=reason,
                         practice_id=admin.practice_id)   # a practice's admin stops it for their practice only


def ai_on(engine: Engine, practice_id: int) -> bool:
    """Whether the AI reading is on for the practice (its switch and the instance's)."""
    from ecgpilot import audit

    return bool(audit.ai_enabled(engine, practice_id))

