"""The pilot's indicators, pseudonymised: activity, the doctors' decisions on the AI proposal, the
AI measured against the cardiologists' over-reads, tele-expertise turnaround, sending.

For the evaluator role (read only): no name, birth date or INS leaves this module; practices and
studies appear as keyed pseudonyms (:func:`ecgpilot.audit.pseudonymise`). The arithmetic lives in
small pure functions (:func:`wilson`, :func:`proportion`, :func:`urgency_agreement`,
:func:`quantiles`) so it is tested on hand-counted cases.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot.store.models import Dispatch, OpinionRequest, Report, Study, User
from ecgpilot.web.services.common import URGENCY_LEVELS

__all__ = ["wilson", "proportion", "urgency_agreement", "quantiles", "indicators", "study_rows", "rows_csv", "CSV_COLUMNS",
           "export_csv"]


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score 95% interval of ``k`` successes out of ``n`` (``None`` when ``n == 0``), by
    :func:`scipy.stats.binomtest` (``proportion_ci(method="wilson")``); ``z`` is kept for callers and
    must be the 95 % quantile."""
    if n <= 0:
        return None
    if abs(z - 1.959964) > 1e-3:
        raise ValueError(f"wilson: only the 95 % interval is provided (z=1.96), got z={z!r}")
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def proportion(k: int, n: int) -> dict[str, Any]:
    """``{"k", "n", "value", "ci95"}`` (value ``None`` when ``n == 0``)."""
    ci = wilson(k, n)
    return {"k": k, "n": n, "value": None if n == 0 else k / n, "ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)]}


def urgency_agreement(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """AI urgency vs a reference urgency, ``pairs = [(ai_level, reference_level), ...]``.

    Returns the confusion matrix (``matrix[ai][reference]``), exact agreement, under-triage (AI less
    urgent than the reference) and, per reference level, the AI's sensitivity (same level) and, for
    emergencies, whether the AI flagged them as emergency."""
    pairs = [(a, r) for a, r in pairs if a in URGENCY_LEVELS and r in URGENCY_LEVELS]
    rank = {lvl: i for i, lvl in enumerate(URGENCY_LEVELS)}  # 0 = most urgent
    matrix = {a: {r: 0 for r in URGENCY_LEVELS} for a in URGENCY_LEVELS}
    for a, r in pairs:
        matrix[a][r] += 1
    n = len(pairs)
    same = sum(a == r for a, r in pairs)
    under = sum(rank[a] > rank[r] for a, r in pairs)
    per_level = {}
    for lvl in URGENCY_LEVELS:
        ref = [a for a, r in pairs if r == lvl]
        per_level[lvl] = {"sensitivity": proportion(sum(a == lvl for a in ref), len(ref)),
                          "ppv": proportion(sum(r == lvl for a, r in pairs if a == lvl), sum(a == lvl for a, _ in pairs))}
    return {"n": n, "matrix": matrix, "agreement": proportion(same, n), "under_triage": proportion(under, n),
            "per_level": per_level}


def quantiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.9)) -> dict[str, float | None]:
    """Linear-interpolated quantiles (:func:`numpy.quantile`'s default method) of ``values``;
    ``None`` when empty."""
    import numpy as np

    keys = [f"p{int(round(q * 100))}" for q in qs]
    if not values:
        return {k: None for k in keys}
    got = np.quantile(np.asarray(values, dtype=np.float64), list(qs))
    return {k: float(v) for k, v in zip(keys, got)}


def _last_reports(db: Session) -> dict[int, Report]:
    last: dict[int, Report] = {}
    for rep in db.scalars(select(Report).order_by(Report.study_id, Report.version)):
        last[rep.study_id] = rep
    return last


def indicators(db: Session, engine: Engine, key: bytes) -> dict[str, Any]:
    """Every indicator over the whole instance (all practices), pseudonymised."""
    from ecgpilot import audit
    from ecgpilot.export.mssante import outbox_entries

    studies = list(db.scalars(select(Study).order_by(Study.id)))
    last = _last_reports(db)
    opinions = list(db.scalars(select(OpinionRequest).order_by(OpinionRequest.id)))
    by_month = Counter(s.created_at.strftime("%Y-%m") for s in studies)
    by_practice = Counter(audit.pseudonymise(f"practice:{s.practice_id}", key) for s in studies)
    not_interp = sum(1 for s in studies if s.analysis and not (s.analysis.get("quality") or {}).get("interpretable", True))
    signed = [s for s in studies if s.id in last]

    decisions: Counter[str] = Counter()
    added = 0
    urg_pairs = []
    for s in signed:
        content = last[s.id].content
        for d in content.get("decisions") or []:
            if d.get("origin") == "ai":
                decisions[d.get("decision", "pending")] += 1
            elif d.get("decision") in ("confirmed", "edited"):  # the doctor's own statements kept in the report
                added += 1
        if s.ai_urgency and content.get("urgency"):
            urg_pairs.append((s.ai_urgency, content["urgency"]))
    rated = decisions["confirmed"] + decisions["edited"] + decisions["rejected"]

    answered = [o for o in opinions if o.status == "answered"]
    turn_h = [o.turnaround_s / 3600 for o in answered if o.turnaround_s is not None]
    stmt_agree = [bool(x["agree"]) for o in answered for x in (o.statement_opinions or [])]
    by_cat: dict[str, list[bool]] = {}
    for o in answered:
        for x in o.statement_opinions or []:
            by_cat.setdefault(x.get("category") or "other", []).append(bool(x["agree"]))
    cardio_pairs = [(o.ai_urgency, o.urgency) for o in answered if o.ai_urgency and o.urgency]

    outbox = {e["id"]: e for e in outbox_entries(engine)} if _has_outbox(engine) else {}
    sending: Counter[str] = Counter()
    for d in db.scalars(select(Dispatch)):
        sending[f"{d.kind}:{(outbox.get(d.outbox_id) or {}).get('status', 'unknown')}"] += 1

    return {
        "activity": {"studies": len(studies), "by_month": dict(sorted(by_month.items())), "by_practice": dict(sorted(by_practice.items())),
                     "unreadable": sum(s.status == "unreadable" for s in studies), "not_interpretable": not_interp,
                     "signed": proportion(len(signed), sum(s.status != "unreadable" for s in studies))},
        "urgency": {"ai": dict(Counter(s.ai_urgency for s in studies if s.ai_urgency)),
                    "final": dict(Counter(last[s.id].content.get("urgency") for s in signed if last[s.id].content.get("urgency")))},
        "doctor_vs_ai": {"ai_statements": dict(decisions), "doctor_added": added,
                         "accepted_unchanged": proportion(decisions["confirmed"], rated),
                         "rejected": proportion(decisions["rejected"], rated),
                         "urgency": urgency_agreement(urg_pairs)},
        "tele_expertise": {"requested": len(opinions), "answered": len(answered),
                           "open": sum(o.status == "open" for o in opinions), "cancelled": sum(o.status == "cancelled" for o in opinions),
                           "turnaround_hours": quantiles(turn_h)},
        "ai_vs_cardiologist": {"statements_agreed": proportion(sum(stmt_agree), len(stmt_agree)),
                               "by_category": {c: proportion(sum(v), len(v)) for c, v in sorted(by_cat.items())},
                               "urgency": urgency_agreement(cardio_pairs)},
        "sending": dict(sorted(sending.items())),
        "model_versions": dict(Counter(s.model_version or "none (AI off)" for s in studies if s.status != "unreadable")),
        "ai_enabled": audit.ai_enabled(engine),
    }


def _has_outbox(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table("outbox")


CSV_COLUMNS = ("study", "practice", "month", "format", "status", "quality", "model_version", "rules_version", "ai_urgency",
               "final_urgency", "ai_confirmed", "ai_edited", "ai_rejected", "doctor_added", "opinion_status",
               "cardiologist_urgency", "cardiologist_agreed", "cardiologist_disagreed", "turnaround_h")


def study_rows(db: Session, key: bytes) -> list[dict[str, Any]]:
    """One pseudonymised row per study (columns :data:`CSV_COLUMNS`), for the evaluator's own analyses."""
    from ecgpilot import audit

    last = _last_reports(db)
    ops: dict[int, OpinionRequest] = {}
    for o in db.scalars(select(OpinionRequest).order_by(OpinionRequest.id)):  # the latest answered, else the latest
        prev = ops.get(o.study_id)
        if prev is None or o.status == "answered" or prev.status != "answered":
            ops[o.study_id] = o
    rows = []
    for s in db.scalars(select(Study).order_by(Study.id)):
        rep = last.get(s.id)
        dec = Counter(d.get("decision") for d in (rep.content.get("decisions") or []) if d.get("origin") == "ai") if rep else Counter()
        op = ops.get(s.id)
        answered = op is not None and op.status == "answered"
        agreed = sum(bool(x["agree"]) for x in (op.statement_opinions or [])) if op is not None and answered else None
        rows.append({
            "study": audit.pseudonymise(f"study:{s.id}", key), "practice": audit.pseudonymise(f"practice:{s.practice_id}", key),
            "month": s.created_at.strftime("%Y-%m"), "format": s.file_format or "", "status": s.status,
            "quality": ((s.analysis or {}).get("quality") or {}).get("verdict", ""), "model_version": s.model_version or "",
            "rules_version": s.rules_version or "", "ai_urgency": s.ai_urgency or "",
            "final_urgency": (rep.content.get("urgency") or "") if rep else "",
            "ai_confirmed": dec["confirmed"], "ai_edited": dec["edited"], "ai_rejected": dec["rejected"],
            "doctor_added": sum(1 for d in (rep.content.get("decisions") or [])
                                if d.get("origin") != "ai" and d.get("decision") in ("confirmed", "edited")) if rep else 0,
            "opinion_status": op.status if op else "", "cardiologist_urgency": (op.urgency or "") if op else "",
            "cardiologist_agreed": "" if agreed is None else agreed,
            "cardiologist_disagreed": "" if agreed is None or op is None else len(op.statement_opinions or []) - agreed,
            "turnaround_h": "" if not op or op.turnaround_s is None else round(op.turnaround_s / 3600, 3),
        })
    return rows


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV text (header :data:`CSV_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def export_csv(db: Session, user: User, key: bytes) -> str:
    """The pseudonymised per-study CSV (:func:`study_rows`), audited as an export (committed)."""
    from ecgpilot.web.services.common import audit_event

    text = rows_csv(study_rows(db, key))
    audit_event(db, user, "export", "evaluation", details={"format": "csv", "pseudonymised": True})
    db.commit()
    return text
