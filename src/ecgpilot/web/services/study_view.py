"""What the study page shows, gathered in one place: the tracing (with the ST marks of what the doctor keeps),
the reading in the page's language, the draft, the signed versions and their signers, the history, the opinion
requests, the sendings, the identity, the previous ECG; redacted for pseudonymised access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ecgpilot.ins import ID_DOCUMENTS, INS_STATUSES, INSI_SOURCES, status_label
from ecgpilot.render.matrix import MATRIX_COLUMNS, matrix_rows
from ecgpilot.store.models import Study, User
from ecgpilot.web.services import access, care, history, identity, practice, sending, studies, tracing
from ecgpilot.web.services.documents import kept_reading

__all__ = ["page_context", "reading_in"]


def reading_in(study: Study, lang: str) -> dict[str, Any]:
    """The stored reading, or the same rules re-read in the page's language when it differs (the evidence,
    the AI-only statements and the 'also considered' list follow the page; the draft keeps its text)."""
    stored = study.interpretation or {}
    if not stored or stored.get("lang") == lang or not study.analysis:
        return {"statements": stored.get("statements", []), "also_considered": stored.get("also_considered", [])}
    from ecgpilot.interpret import interpret

    return interpret(study.analysis, lang=lang)


def page_context(db: Session, engine: Engine, data_dir: Path, user: User, study: Study, *, lang: str,
                 speed: str | None = None, gain: str | None = None, draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """The study page's template context for ``user`` in ``lang``, the paper at ``?speed=``/``?gain=``;
    ``draft``: a draft to show instead of the stored one (e.g. the refused attempt to sign)."""
    from ecgpilot import compare

    record = tracing.study_record(data_dir, study)
    speed_mm_s, gain_mm_mv = tracing.paper_settings(speed, gain)
    shown = draft or study.draft or {"statements": []}   # the ST marks of what the doctor keeps (or has yet to decide)
    reading = kept_reading(study.interpretation, shown["statements"], with_pending=study.status != "signed")
    svg = (tracing.tracing_svg(record, study.analysis, reading=reading, lang=lang, speed_mm_s=speed_mm_s,
                               gain_mm_mv=gain_mm_mv) if record is not None else None)
    reps = studies.reports(db, study)
    events = list(study.events)
    opinions = care.opinions_of_study(db, study)
    pseudo = access.access_of(user) == "pseudonymised"
    page_reading = reading_in(study, lang)
    return {
        "pseudo": pseudo, "opinions": opinions, "people": {o.cardiologist_id: o.cardiologist for o in opinions},
        "cardiologists": [c for c in care.cardiologists(db) if c.id != user.id],
        "dispatches": sending.dispatches(db, engine, study),
        "user": user, "study": study, "svg": svg, "reports": reps, "signers": {r.signed_by: r.signer.name for r in reps},
        "events": events, "history": history.sentences(db, events, lang, pseudo=pseudo),
        "paper": {"speed": speed_mm_s, "gain": gain_mm_mv},
        "ins_statuses": INS_STATUSES, "analysis": study.analysis or {},
        "draft": (access.redacted_draft(study.draft) if pseudo else study.draft) or {"statements": [], "urgency": {}},
        "matrix": matrix_rows(study.analysis, study.interpretation), "matrix_columns": MATRIX_COLUMNS,
        "reading": {s["id"]: s for s in page_reading["statements"]},
        "ai_only": [s for s in page_reading["statements"] if s.get("status") == "ai_only"],
        "also_considered": page_reading.get("also_considered", []),
        "status_label": status_label(study.ins_status, lang), "id_documents": ID_DOCUMENTS, "insi_sources": INSI_SOURCES,
        "identity_check": identity.check_summary(study.identity_check, lang), "identity_error": None, "form": None,
        "verify_error": None, "notice": None, "age": practice.age_at_recording(study),
        "cart": compare.device_comparison(study.analysis, lang),
        "previous": None if pseudo else practice.previous_for_page(db, data_dir, study, lang),
        "rpps_missing": practice.rpps_warning(user, lang) if study.status == "to_read" else None,
        # pseudonymised access: the signed conclusion without text the doctor typed (access.redacted_report)
        "conclusion": access.redacted_report(reps[-1].content) if pseudo and reps else None,
    }
