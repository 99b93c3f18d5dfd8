"""The pilot's database edge: protocol drafts, randomisation, registration (freeze), activity import,
follow-ups, and the rows the analyses read. Each change is committed by the caller together with its
audit entry (:func:`ecgpilot.audit.append` on the session's connection, same transaction).

Audit actions used: ``settings`` (protocol saved, randomised, registered), ``admin`` (activity import),
``change`` (a follow-up entered or corrected); ``details["pilot"]`` says which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgpilot import audit
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.pilot import followup as fu
from ecgpilot.pilot import protocol as proto
from ecgpilot.store.models import OpinionRequest, Practice, Report, Study, User, utcnow
from ecgpilot.store.pilot import PilotActivity, PilotAllocation, PilotFollowUp, PilotProtocol

if TYPE_CHECKING:   # pandas comes with the [pilot] extra: the serving install (uploads, protocol pages) runs without it
    import pandas as pd

__all__ = ["Actor", "save_protocol", "load_protocol", "allocation_of", "randomise_practices", "register_protocol",
           "registered_protocols", "ai_on_for_practice", "import_activity", "save_followup", "due_followups",
           "gp_key", "volume_panel", "study_rows", "practice_sizes", "practice_label"]


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit trail: an id (user id or a CLI name) and a role."""

    id: str
    role: str


def _audit(db: Session, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
    audit.append(db.connection(), actor_id=actor.id, actor_role=actor.role, action=action, target=target, details=details)


def save_protocol(db: Session, protocol: proto.Protocol, actor: Actor) -> PilotProtocol:
    """Create or update a draft protocol (by name); a registered one is refused. The caller commits."""
    row = db.scalar(select(PilotProtocol).where(PilotProtocol.name == protocol.name))
    h = proto.protocol_sha256(protocol)
    if row is None:
        row = PilotProtocol(name=protocol.name, content=protocol.to_dict(), content_sha256=h, status="draft",
                            created_by=actor.id)
        db.add(row)
    else:
        if row.status == "registered":
            raise RecordError(f"protocol {protocol.name!r} was registered on {row.registered_at} (sha256 "
                              f"{row.registration_sha256}); it is frozen: create an amended protocol under a new name.")
        row.content, row.content_sha256 = protocol.to_dict(), h
        # a changed draft voids its randomisation
        for a in db.scalars(select(PilotAllocation).where(PilotAllocation.protocol_id == row.id)):
            db.delete(a)
        row.seed = row.randomised_at = row.allocation_sha256 = None
    db.flush()
    _audit(db, actor, "settings", f"pilot_protocol:{row.id}", {"pilot": "protocol_saved", "protocol_sha256": h})
    return row


def load_protocol(db: Session, name: str) -> tuple[proto.Protocol, PilotProtocol]:
    """The protocol named ``name`` and its row; :class:`ConfigError` naming the known ones when absent."""
    row = db.scalar(select(PilotProtocol).where(PilotProtocol.name == name))
    if row is None:
        known = list(db.scalars(select(PilotProtocol.name).order_by(PilotProtocol.name)))
        raise ConfigError(f"no pilot protocol named {name!r}; known: {', '.join(known) or 'none'}.")
    p = proto.Protocol.from_dict(row.content)
    if proto.protocol_sha256(p) != row.content_sha256:
        raise RecordError(f"protocol {name!r}: its stored content no longer matches its SHA-256 {row.content_sha256}.")
    return p, row


def allocation_of(db: Session, row: PilotProtocol) -> tuple[dict[int, int | None], dict[int, str]]:
    """(practice id → crossover period, practice id → stratum) of a protocol."""
    al: dict[int, int | None] = {}
    st: dict[int, str] = {}
    for a in db.scalars(select(PilotAllocation).where(PilotAllocation.protocol_id == row.id)):
        al[a.practice_id], st[a.practice_id] = a.crossover_period, a.stratum
    return al, st


def practice_sizes(db: Session, cut: int = 3) -> dict[int, str]:
    """A default stratum per practice: ``small`` (fewer than ``cut`` GPs) or ``large``."""
    counts = dict(db.execute(select(User.practice_id, func.count()).where(User.role == "gp").group_by(User.practice_id)).all())
    return {pid: ("large" if counts.get(pid, 0) >= cut else "small") for pid in db.scalars(select(Practice.id))}


def randomise_practices(db: Session, name: str, seed: int, strata: Mapping[int, str], actor: Actor) -> dict[int, int | None]:
    """Draw the allocation of a draft protocol (replacing a previous draw of the draft), store it with the
    seed and its hash, audit it. Practices must exist. The caller commits."""
    p, row = load_protocol(db, name)
    if row.status == "registered":
        raise RecordError(f"protocol {name!r} is registered; its allocation is frozen (seed {row.seed}).")
    known = set(db.scalars(select(Practice.id)))
    unknown = sorted(set(strata) - known)
    if unknown:
        raise ConfigError(f"practices {unknown} do not exist; known practice ids: {sorted(known)}.")
    al = proto.randomise(p, [proto.Practice(pid, s) for pid, s in strata.items()], seed)
    for a in db.scalars(select(PilotAllocation).where(PilotAllocation.protocol_id == row.id)):
        db.delete(a)
    db.flush()
    for pid, c in sorted(al.items()):
        db.add(PilotAllocation(protocol_id=row.id, practice_id=pid, stratum=strata[pid], crossover_period=c))
    row.seed, row.randomised_at = seed, utcnow()
    row.allocation_sha256 = proto.allocation_sha256(al, dict(strata), seed)
    db.flush()
    _audit(db, actor, "settings", f"pilot_protocol:{row.id}",
           {"pilot": "randomised", "seed": seed, "allocation_sha256": row.allocation_sha256, "practices": len(al)})
    return al


def register_protocol(db: Session, name: str, actor: Actor, today: date | None = None) -> str:
    """Freeze protocol and allocation before the first period starts; returns the registration SHA-256."""
    p, row = load_protocol(db, name)
    today = today or utcnow().date()
    if row.status == "registered":
        raise RecordError(f"protocol {name!r} is already registered (sha256 {row.registration_sha256}).")
    if row.allocation_sha256 is None:
        raise ConfigError(f"protocol {name!r} has no allocation yet; randomise it (pilot randomise) before registering.")
    if today >= p.start_date:
        raise ConfigError(f"protocol {name!r} starts on {p.start_date.isoformat()}; it must be registered before "
                          f"(today is {today.isoformat()}): amend the start month.")
    h = proto.registration_sha256(row.content_sha256, row.allocation_sha256)
    _audit(db, actor, "settings", f"pilot_protocol:{row.id}",
           {"pilot": "registered", "registration_sha256": h, "protocol_sha256": row.content_sha256,
            "allocation_sha256": row.allocation_sha256})
    row.status, row.registered_at, row.registered_by, row.registration_sha256 = "registered", utcnow(), actor.id, h
    db.flush()
    return h


def registered_protocols(db: Session) -> list[tuple[proto.Protocol, PilotProtocol, dict[int, int | None]]]:
    """Every registered protocol with its allocation, oldest first."""
    out = []
    for row in db.scalars(select(PilotProtocol).where(PilotProtocol.status == "registered").order_by(PilotProtocol.id)):
        p = proto.Protocol.from_dict(row.content)
        out.append((p, row, allocation_of(db, row)[0]))
    return out


def ai_on_for_practice(db: Session, practice_id: int, when: date) -> bool | None:
    """What the registered pilot protocols say for this practice at this date: ``None`` when no protocol
    governs it (practice not allocated, or the date outside the protocol's periods). The instance switch
    (:func:`ecgpilot.audit.ai_enabled`) still has the last word."""
    for p, _row, al in registered_protocols(db):
        on = proto.ai_on(p, al, practice_id, when)
        period = proto.period_of(p, when)
        if on is not None and period is not None and period >= 0:
            return on
    return None


def import_activity(db: Session, data: bytes, key: bytes, actor: Actor) -> dict[str, Any]:
    """Validate the insurer's extract and store it, all rows or none; rows whose (doctor, month) are already
    stored are refused (each named). RPPS numbers are pseudonymised before storage. The caller commits."""
    from ecgpilot.pilot.volume import doctor_key, parse_activity_csv

    rows = parse_activity_csv(data)
    sha = hashlib.sha256(data).hexdigest()
    keyed = [(r, doctor_key(r.doctor, key)) for r in rows]
    months = {r.month for r in rows}
    have = {(a.doctor_key, a.month): a for a in db.scalars(select(PilotActivity).where(PilotActivity.month.in_(months)))}
    dup = [(r.row, r.month) for r, k in keyed if (k, r.month) in have]
    if dup:
        shown = ", ".join(f"row {n} ({m})" for n, m in dup[:20])
        raise ConfigError(f"the activity file was refused, nothing imported: {len(dup)} row(s) are already imported "
                          f"(same doctor and month): {shown}. Import only new months, or correct the stored rows first.")
    for r, k in keyed:
        db.add(PilotActivity(doctor_key=k, month=r.month, n_acts=r.ecg_acts, ccam_code=r.ccam_code, source_sha256=sha,
                             imported_by=actor.id))
    db.flush()
    summary = {"pilot": "activity_import", "source_sha256": sha, "rows": len(rows), "doctors": len({k for _, k in keyed}),
               "first_month": min(months), "last_month": max(months), "acts": sum(r.ecg_acts for r in rows)}
    _audit(db, actor, "admin", "pilot_activity", summary)
    return summary


def _signed_date(db: Session, study: Study) -> datetime | None:
    return db.scalar(select(func.min(Report.signed_at)).where(Report.study_id == study.id))


def save_followup(db: Session, study_id: int, user: User, form: Mapping[str, Any], today: date | None = None) -> PilotFollowUp:
    """Record (or correct) the 30-day follow-up of a signed study by a doctor of its practice; audited with
    the before/after values (no identity). Every field is optional. The caller commits."""
    if user.role not in ("gp", "cardiologist"):
        raise RecordError(f"role {user.role!r} cannot enter a follow-up; accepted: gp, cardiologist.")
    study = db.get(Study, study_id)
    if study is None or study.practice_id != user.practice_id:
        raise RecordError(f"study {study_id} is not one of your practice's studies.")
    signed = _signed_date(db, study)
    if signed is None:
        raise RecordError(f"study {study_id} is not signed; the follow-up comes after the signed report.")
    ecg_day = (study.recorded_at or study.created_at).date()
    clean = fu.validate_followup(form, ecg_date=ecg_day, today=today or utcnow().date())
    row = db.scalar(select(PilotFollowUp).where(PilotFollowUp.study_id == study_id))
    before = None
    if row is None:
        row = PilotFollowUp(study_id=study_id, entered_by=user.id)
        db.add(row)
    else:
        before = {k: _jsonable(getattr(row, k)) for k in clean}
    for k, v in clean.items():
        setattr(row, k, v)
    row.entered_by, row.entered_at = user.id, utcnow()
    db.flush()
    after = {k: _jsonable(v) for k, v in clean.items() if k != "diagnosis_text"}
    after["diagnosis_text_given"] = clean["diagnosis_text"] is not None
    if before is not None:
        before.pop("diagnosis_text", None)
    _audit(db, Actor(str(user.id), user.role), "change", f"study:{study_id}",
           {"pilot": "followup_corrected" if before else "followup", "before": before, "after": after})
    return row


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def due_followups(db: Session, user: User, today: date | None = None, days: int = 30) -> list[dict[str, Any]]:
    """Signed studies of the user's practice, uploaded by this user, whose follow-up is due (signed ``days``
    or more ago) and not yet entered; oldest first. For the GP's worklist reminder."""
    today = today or utcnow().date()
    limit = datetime.combine(today - timedelta(days=days), datetime.max.time()).replace(tzinfo=timezone.utc)
    first_sign = (select(Report.study_id, func.min(Report.signed_at).label("signed_at"))
                  .group_by(Report.study_id).subquery())
    q = (select(Study.id, first_sign.c.signed_at)
         .join(first_sign, first_sign.c.study_id == Study.id)
         .outerjoin(PilotFollowUp, PilotFollowUp.study_id == Study.id)
         .where(Study.practice_id == user.practice_id, Study.uploaded_by == user.id, Study.archived_at.is_(None),
                PilotFollowUp.id.is_(None))
         .order_by(first_sign.c.signed_at))
    out = []
    for sid, signed_at in db.execute(q):
        s = signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=timezone.utc)
        if s <= limit:
            out.append({"study_id": sid, "signed_at": s, "days": (today - s.date()).days})
    return out


def gp_key(user: User, key: bytes) -> str:
    """A GP's pseudonym in the analysis: the keyed hash of the RPPS when known (so that the insurer's rows
    with the same RPPS join), else of the account id."""
    from ecgpilot.pilot.volume import doctor_key, pseudonym

    return doctor_key(user.rpps, key) if user.rpps else pseudonym("U-", f"user:{user.id}", key)


def volume_panel(db: Session, p: proto.Protocol, allocation: Mapping[int, int | None], key: bytes) -> pd.DataFrame:
    """The GP × month panel (:func:`ecgpilot.pilot.volume.build_panel`) from the app's studies (archived uploads
    left out) and the imported extract. A GP of an allocated practice counts from the month their account was
    created (or the panel's first month) to the last month with data anywhere — with 0 ECG in a month without
    any, so that a GP who performs none is not dropped from the outcome."""
    from ecgpilot.pilot.volume import build_panel

    gps = list(db.scalars(select(User).where(User.role == "gp", User.practice_id.in_(list(allocation)))))
    keys = {u.id: gp_key(u, key) for u in gps}
    gp_practice = {keys[u.id]: u.practice_id for u in gps}
    events = [(keys[uid], rec or cre) for uid, rec, cre in db.execute(
        select(Study.uploaded_by, Study.recorded_at, Study.created_at)
        .where(Study.uploaded_by.in_(list(keys)), Study.archived_at.is_(None)))]
    insurer = [(k, m, n) for k, m, n in db.execute(select(PilotActivity.doctor_key, PilotActivity.month, PilotActivity.n_acts))]
    months = [ts.year * 12 + ts.month - 1 for _, ts in events] + [proto.month_index(m) for _, m, _ in insurer]
    active: list[tuple[str, str]] = []
    if months:
        first = proto.month_index(p.start_month) - p.baseline_months
        last = min(max(months), proto.month_index(p.end_month))
        for u in gps:
            since = max(first, u.created_at.year * 12 + u.created_at.month - 1) if u.created_at else first
            active += [(keys[u.id], proto.month_str(m)) for m in range(since, last + 1)]
    return build_panel(p, allocation, gp_practice, events, insurer, gp_months=active)


def study_rows(db: Session, p: proto.Protocol, allocation: Mapping[int, int | None], key: bytes) -> list[dict[str, Any]]:
    """One pseudonymised row per signed study of an allocated practice, from the start of the pilot: arm,
    month, AI and doctor urgency, decisions on the AI proposal, tele-expertise, over-read urgency, follow-up.
    Reads only the columns it needs (JSON paths for the device and the report's urgency and decisions), so it
    scales to a national pilot."""
    from ecgpilot.pilot.volume import doctor_key, pseudonym

    practices = list(allocation)
    device = Study.analysis[("record", "source", "device")].as_string()
    studies = db.execute(select(Study.id, Study.practice_id, Study.uploaded_by, Study.recorded_at, Study.created_at,
                                Study.sex, Study.age_years, Study.birth_date, Study.model_version, Study.rules_version,
                                Study.ai_urgency, device.label("device"))
                         .where(Study.practice_id.in_(practices)).order_by(Study.id)).all()
    last: dict[int, tuple[str | None, Any]] = {}
    first_signed: dict[int, datetime] = {}
    q = (select(Report.study_id, Report.signed_at, Report.content[("urgency",)].as_string(), Report.content[("decisions",)])
         .join(Study, Study.id == Report.study_id).where(Study.practice_id.in_(practices))
         .order_by(Report.study_id, Report.version))
    for sid, signed_at, urgency, decisions in db.execute(q):
        last[sid] = (urgency, decisions)
        first_signed.setdefault(sid, signed_at)
    ops: dict[int, tuple[Any, Any, str | None]] = {}
    for sid, req, ans, urg in db.execute(select(OpinionRequest.study_id, OpinionRequest.requested_at,
                                                OpinionRequest.answered_at, OpinionRequest.urgency)
                                         .where(OpinionRequest.status != "cancelled").order_by(OpinionRequest.id)):
        ops.setdefault(sid, (req, ans, urg))
    fcols = ("referred", "referral_kind", "emergency", "hospitalised", "diagnosis", "new_diagnosis", "treatment_changed")
    fups = {r[0]: r[1:] for r in db.execute(select(PilotFollowUp.study_id, PilotFollowUp.seen_on,
                                                   *[getattr(PilotFollowUp, c) for c in fcols]))}
    rpps = dict(db.execute(select(User.id, User.rpps)).all())
    gp_keys: dict[int, str] = {}
    labels = {pid: practice_label(pid, key) for pid in practices}
    out = []
    for s in studies:
        if s.id not in last:
            continue
        when = s.recorded_at or s.created_at
        period = proto.period_of(p, when.date())
        if period is None or period < 0:
            continue
        urgency, decisions = last[s.id]
        ai_dec = [d.get("decision") for d in decisions or [] if isinstance(d, dict) and d.get("origin") == "ai"]
        decision = None if not ai_dec else ("accepted" if all(d == "confirmed" for d in ai_dec) else
                                             "rejected" if all(d == "rejected" for d in ai_dec) else "modified")
        o = ops.get(s.id)
        f = fups.get(s.id)
        if s.uploaded_by not in gp_keys:
            r = rpps.get(s.uploaded_by)
            gp_keys[s.uploaded_by] = doctor_key(r, key) if r else pseudonym("U-", f"user:{s.uploaded_by}", key)
        row: dict[str, Any] = {
            "study": pseudonym("S-", f"study:{s.id}", key), "practice": labels[s.practice_id],
            "practice_id": s.practice_id, "gp": gp_keys[s.uploaded_by],
            "arm": proto.arm_of(p, allocation, s.practice_id, when.date()), "period": period,
            "month": f"{when.year:04d}-{when.month:02d}", "sex": s.sex, "age_band": _age_band(s.age_years, s.birth_date, when),
            "device": s.device, "model_version": s.model_version, "rules_version": s.rules_version,
            "ai_urgency": s.ai_urgency, "doctor_urgency": urgency, "decision": decision,
            "tele_expertise": o is not None,
            "te_turnaround_h": _hours(o[0], o[1]) if o is not None and o[1] is not None else None,
            "overread_urgency": o[2] if o is not None else None,
            "followed_up": f is not None,
        }
        for i, c in enumerate(fcols):
            row[c] = f[1 + i] if f is not None else None
        seen_on = f[0] if f is not None else None
        row["days_to_cardiology"] = (seen_on - when.date()).days if seen_on else None
        row["seen_by_cardiologist"] = bool(seen_on)
        signed = first_signed.get(s.id)
        row["signed_month"] = f"{signed.year:04d}-{signed.month:02d}" if signed else None
        out.append(row)
    return out


def _hours(a: datetime, b: datetime) -> float:
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (b - a).total_seconds() / 3600


def practice_label(practice_id: int, key: bytes) -> str:
    """A practice's pseudonym in the analysis outputs."""
    from ecgpilot.pilot.volume import pseudonym

    return pseudonym("P-", f"practice:{practice_id}", key)


def _age_band(age: float | None, birth: date | None, when: datetime) -> str | None:
    if age is None and birth is not None:
        age = (when.date() - birth).days / 365.25
    if age is None:
        return None
    for hi, band in ((40, "<40"), (60, "40-59"), (75, "60-74")):
        if age < hi:
            return band
    return "75+"
