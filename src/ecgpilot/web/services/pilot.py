"""The pilot's evaluation as the web app shows it: whether an upload gets the AI (the registered protocol's
allocation), the protocols with their allocations, the evaluator's indicators with plots, and the GP's 30-day
follow-up. The rules and their audit entries are :mod:`ecgpilot.pilot.service`'s; this module finds the rows,
commits, and turns a missing protocol into :class:`~ecgpilot.web.services.common.NotFound`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot.store.models import User
from ecgpilot.web.services.common import NotFound

__all__ = ["ai_on_for", "protocols", "save_protocol", "randomise", "register", "indicators", "followup_of",
           "save_followup", "due_followups", "INDICATOR_PLOTS"]

INDICATOR_PLOTS = ["referral", "tele_expertise", "emergency", "new_diagnosis", "treatment_changed"]


def ai_on_for(db: Session, user: User, when: date) -> bool:
    """What the registered pilot protocol of ``user``'s practice says at ``when`` (off in the control arm, on in
    the AI arm); ``True`` outside the pilot (the switches, checked first by the caller, have the say)."""
    from ecgpilot.pilot.service import ai_on_for_practice

    on = ai_on_for_practice(db, user.practice_id, when)
    return True if on is None else on


def _actor(user: User) -> Any:
    from ecgpilot.pilot.service import Actor

    return Actor(str(user.id), user.role)


def _inline(svg: str) -> str:
    """matplotlib's SVG without its XML prolog, to sit inside the page."""
    i = svg.find("<svg")
    return svg[i:] if i >= 0 else ""


def _row(db: Session, protocol_id: int) -> Any:
    from ecgpilot.store.pilot import PilotProtocol

    row = db.get(PilotProtocol, protocol_id)
    if row is None:
        raise NotFound(f"protocol {protocol_id} not found.")
    return row


def analysis_extra_missing() -> str | None:
    """The packages of the ``[pilot]`` extra (pandas, statsmodels, matplotlib) a serving install lacks, in
    words, or ``None``: the pilot's analyses and plots need them, its protocol, allocation and follow-up pages do not."""
    import importlib

    lacking = []
    for name in ("pandas", "statsmodels", "matplotlib"):
        try:
            importlib.import_module(name)
        except ImportError:
            lacking.append(name)
    return f"{', '.join(lacking)} ([pilot] extra)" if lacking else None


def protocols(db: Session) -> list[dict[str, Any]]:
    """Each protocol with its allocation, strata and (when the [pilot] extra is there) its stepped-wedge diagram."""
    from ecgpilot.pilot import service
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.store.pilot import PilotProtocol

    out = []
    for row in db.scalars(select(PilotProtocol).order_by(PilotProtocol.id)):
        p = proto.Protocol.from_dict(row.content)
        al, st = service.allocation_of(db, row)
        diagram = None
        if al and analysis_extra_missing() is None:
            from ecgpilot.pilot import plots

            diagram = _inline(plots.stepped_wedge_diagram(proto.schedule(p, al)))
        out.append({"row": row, "p": p, "allocation": sorted(al.items()), "strata": st, "diagram": diagram})
    return out


def save_protocol(db: Session, user: User, fields: Mapping[str, Any]) -> None:
    """Create or update the draft protocol from the admin's form (committed; refused: rolled back, raised)."""
    from ecgpilot.pilot import protocol as proto
    from ecgpilot.pilot import service

    try:
        p = proto.Protocol(**fields)
        service.save_protocol(db, p, _actor(user))
        db.commit()
    except Exception:
        db.rollback()
        raise


def randomise(db: Session, user: User, protocol_id: int, seed: int) -> None:
    """Randomise the practices for a protocol (stratified by practice size); committed."""
    from ecgpilot.pilot import service

    row = _row(db, protocol_id)
    try:
        service.randomise_practices(db, row.name, seed, service.practice_sizes(db), _actor(user))
        db.commit()
    except Exception:
        db.rollback()
        raise


def register(db: Session, user: User, protocol_id: int) -> None:
    """Register (freeze) a protocol and its allocation; committed."""
    from ecgpilot.pilot import service

    row = _row(db, protocol_id)
    try:
        service.register_protocol(db, row.name, _actor(user))
        db.commit()
    except Exception:
        db.rollback()
        raise


def indicators(db: Session, protocol_id: int, key: bytes) -> dict[str, Any]:
    """The evaluator's results for a protocol: ``row``, ``res`` (primary effect, indicators per arm with Wilson
    CIs, costs; ``None`` before any allocation), ``figs`` (inline SVG plots) and ``missing`` (the extra a
    serving install lacks for the analyses, else ``None``)."""
    row = _row(db, protocol_id)
    missing = analysis_extra_missing()
    if missing:   # a serving install without the [pilot] extra: say so instead of failing
        return {"row": row, "res": None, "figs": {}, "missing": missing}
    from ecgpilot.pilot import evaluate, followup, plots, service
    from ecgpilot.pilot import protocol as proto

    p = proto.Protocol.from_dict(row.content)
    al, _st = service.allocation_of(db, row)
    res, figs = None, {}
    if al:
        panel = service.volume_panel(db, p, al, key)
        rows = service.study_rows(db, p, al, key)
        res = evaluate.evaluate(p, al, panel, rows, n_resamples=500)
        if plots.available() and len(panel):
            starts = [proto.month_str(proto.month_index(p.start_month) + k * p.period_months) for k in range(p.n_periods)]
            figs["volume"] = _inline(plots.volume_by_arm(panel, starts))
            figs["funnel"] = _inline(plots.funnel(res["funnel"]))
            figs["indicators"] = _inline(plots.indicator_forest(res["indicators"], INDICATOR_PLOTS))
            if res["drift_agreement"]:
                figs["drift"] = _inline(plots.p_chart_plot(res["drift_agreement"], "AI / doctor agreement"))
            pairs = [(r.get("ai_urgency"), r.get("overread_urgency")) for r in rows if r.get("arm") == "ai_on"]
            figs["confusion"] = _inline(plots.confusion_heatmap(pairs, followup.URGENCY_LEVELS, "AI vs over-read"))
            if "icer" in res:
                figs["plane"] = _inline(plots.cost_effect_plane(res["icer"]["replicates"],
                                                                (res["icer"]["delta_effect"], res["icer"]["delta_cost_per_ecg"])))
            figs["tornado"] = _inline(plots.tornado(res["sensitivity"]))
    return {"row": row, "res": res, "figs": figs, "missing": None}


def due_followups(db: Session, user: User) -> list[dict[str, Any]]:
    """The GP's signed ECGs whose 30-day follow-up is due."""
    from ecgpilot.pilot import service

    return service.due_followups(db, user)


def followup_of(db: Session, study_id: int) -> Any:
    """The study's follow-up row, or ``None``."""
    from ecgpilot.store.pilot import PilotFollowUp

    return db.scalar(select(PilotFollowUp).where(PilotFollowUp.study_id == study_id))


def save_followup(db: Session, study_id: int, user: User, values: Mapping[str, str]) -> None:
    """Save the 30-day follow-up of a study (committed; refused: rolled back, raised)."""
    from ecgpilot.pilot import service

    try:
        service.save_followup(db, study_id, user, values, date.today())
        db.commit()
    except Exception:
        db.rollback()
        raise
