"""The report's documents: one truth (the doctor's), frozen at signing, served byte for byte.

* What a document says (:func:`pdf_view`): once signed, the doctor's kept statements and urgency are
  the conclusion; the AI's proposal is only a labelled block (its urgency, how many of its statements
  the doctor confirmed, edited, rejected). Rejected statements are not printed, and the measured ST
  points are marked only for the statements the doctor kept (:func:`kept_reading`). A draft is
  printed as a draft (statements still to decide marked, "draft" across the tracing).
* Frozen at signing (:func:`freeze`): the PDF (in the signing language and in French), the CDA R2
  and the FHIR bundle are written to the file store by their SHA-256 (``store.files.store_document``, under ``files/documents/``),
  recorded as :class:`~ecgpilot.store.models.ReportDocument` rows and named in the signature's
  audit entry, in the signing transaction. When the CDA/FHIR cannot be made yet (no RPPS, no
  practice identifier, incomplete identity), they are made and frozen on first request
  (:func:`signed_document`), with their own audit entry. Afterwards the stored bytes are served,
  checked against their hash: a new renderer or new rules never change a signed document.
  The files are written before the signing transaction commits: a failed commit leaves at most an
  unreferenced, content-addressed file (reused if the same bytes are signed again), never a row
  without its file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgpilot import messages
from ecgpilot.errors import ECGPilotError, RecordError
from ecgpilot.store import files as filestore
from ecgpilot.store.models import Report, ReportDocument, Study, User

__all__ = ["MEDIA", "review_counts", "kept_reading", "pdf_view", "render_pdf", "freeze", "signed_document",
           "stored_documents", "pdf_bytes", "practice_name", "signed_version", "signed_pdf", "frozen_cda", "export_document",
           "export_pdf", "DOWNLOADS"]

#: kind -> media type of the stored bytes
MEDIA = {"pdf": "application/pdf", "cda": "application/xml", "fhir": "application/fhir+json"}
KEPT = ("confirmed", "edited")


def review_counts(decisions: list[dict[str, Any]]) -> dict[str, int]:
    """How the doctor treated the AI's statements: proposed, confirmed, edited, rejected, pending; added."""
    ai = [s for s in decisions if s.get("origin") == "ai"]
    out = {"proposed": len(ai), "added": sum(1 for s in decisions if s.get("origin") != "ai")}
    for d in ("confirmed", "edited", "rejected", "pending"):
        out[d] = sum(1 for s in ai if s.get("decision") == d)
    return out


def kept_reading(interpretation: dict[str, Any] | None, decisions: list[dict[str, Any]], *,
                 with_pending: bool = False) -> dict[str, Any]:
    """The reading restricted to the statements the doctor kept (and, for a draft, those still to
    decide): what the tracing's ST marks and the per-lead table's highlighted leads rest on."""
    keep = {s["id"] for s in decisions if s.get("decision") in KEPT or (with_pending and s.get("decision") == "pending")}
    reading = dict(interpretation or {})
    reading["statements"] = [s for s in reading.get("statements") or [] if s.get("id") in keep]
    return reading


def _label(level: str | None, lang: str) -> str | None:
    from ecgpilot.web.i18n import t

    return t("u_" + level, lang) if level else None


def pdf_view(study: Study, content: dict[str, Any], lang: str) -> dict[str, Any]:
    """The ``report`` argument of :func:`ecgpilot.render.pdf.report_pdf` for a report content
    (signed, or the current draft's :func:`~ecgpilot.web.services.studies.report_content`)."""
    decisions = content.get("decisions") or []
    patient = dict(content.get("patient") or {})
    patient["given_name"] = patient.get("given_names")
    if patient.get("age_years") is None and getattr(study, "age_years", None) is not None:
        patient["age_years"] = study.age_years
    level = content.get("urgency")
    signed = bool(content.get("signed_at"))
    return {
        "patient": patient,
        "final_statements": list(content.get("statements") or []),
        "pending_statements": [] if signed else [s["text"] for s in decisions if s.get("decision") == "pending"],
        "urgency": level, "urgency_text": _label(level, lang),
        "doctor": content.get("doctor"), "doctor_rpps": content.get("doctor_rpps"), "practice": content.get("practice"),
        "signed_at": content.get("signed_at"),
        "acquired_at": study.recorded_at.isoformat() if study.recorded_at else None,
        "ai_review": review_counts(decisions),
        "device_lines": _device_lines(study.analysis, lang),
    }


def _device_lines(analysis: dict[str, Any] | None, lang: str) -> list[str]:
    """The cart's own reading (statements, measurements beyond tolerance), printed apart from the conclusion."""
    from ecgpilot.compare import device_lines

    return device_lines(analysis, lang)


def render_pdf(data_dir: Path, study: Study, content: dict[str, Any], lang: str) -> bytes:
    """The PDF of ``content`` drawn now (a draft, or a signed version at the moment it is frozen)."""
    from ecgpilot.render.pdf import report_pdf
    from ecgpilot.web.services.common import Conflict
    from ecgpilot.web.services.tracing import study_record

    record = study_record(data_dir, study)
    if record is None:
        raise Conflict(messages.text("web.documents.no_tracing", messages.lang_or_en(lang)))
    reading = kept_reading(study.interpretation, content.get("decisions") or [],
                           with_pending=not content.get("signed_at"))
    reading["urgency"] = (study.interpretation or {}).get("urgency")
    return report_pdf(record, study.analysis or {}, reading, report=pdf_view(study, content, lang), lang=lang)


def _store(db: Session, data_dir: Path, rep: Report, kind: str, lang: str, data: bytes) -> str:
    sha = filestore.store_document(data_dir, data)
    db.add(ReportDocument(report_id=rep.id, study_id=rep.study_id, version=rep.version, kind=kind, lang=lang,
                          sha256=sha, size=len(data), media_type=MEDIA[kind]))
    return sha


def _exports(db: Session, study: Study, rep: Report, pdf_fr: bytes) -> tuple[bytes, bytes]:
    """CDA R2 N1 and FHIR R4 bytes of a signed version, the French PDF embedded."""
    from ecgpilot.export.cda import build_cda
    from ecgpilot.export.fhir import build_fhir_bundle
    from ecgpilot.web.services.sending import export_report

    report = export_report(db, study, rep)
    cda = build_cda(report, pdf_fr, created_at=report["signed_at"])
    fhir = json.dumps(build_fhir_bundle(report, pdf_fr, created_at=report["signed_at"]), ensure_ascii=False,
                      sort_keys=True).encode()
    return cda, fhir


def freeze(db: Session, data_dir: Path, study: Study, rep: Report, lang: str) -> dict[str, Any]:
    """Render and store the signed version's documents (not committed: the caller's signing
    transaction adds the rows). Returns ``{"documents": {"pdf:fr": sha, ...}, "exports_later": why}``."""
    docs: dict[str, str] = {}
    pdfs = {}
    for lg in dict.fromkeys((lang, "fr")):
        pdfs[lg] = render_pdf(data_dir, study, rep.content, lg)
        docs[f"pdf:{lg}"] = _store(db, data_dir, rep, "pdf", lg, pdfs[lg])
    out: dict[str, Any] = {"documents": docs}
    try:
        cda, fhir = _exports(db, study, rep, pdfs["fr"])
    except ECGPilotError as exc:   # no RPPS / practice id / full identity yet: made at the first export
        out["exports_later"] = str(exc)
        return out
    docs["cda"] = _store(db, data_dir, rep, "cda", "fr", cda)
    docs["fhir"] = _store(db, data_dir, rep, "fhir", "fr", fhir)
    return out


def stored_documents(db: Session, rep: Report) -> list[ReportDocument]:
    """The frozen documents of one signed version."""
    return list(db.scalars(select(ReportDocument).where(ReportDocument.report_id == rep.id).order_by(ReportDocument.id)))


def signed_document(db: Session, data_dir: Path, user: User, study: Study, rep: Report, kind: str,
                    lang: str = "fr") -> bytes:
    """The frozen bytes of a signed version's ``kind`` (pdf: in ``lang`` if it was frozen in it, else
    in the signing language). A version signed before documents were frozen, or whose CDA/FHIR could
    not be made at signing, gets them made and frozen now (committed, audited)."""
    from ecgpilot.web.services.common import audit_event

    if kind not in MEDIA:
        raise RecordError(f"document kind {kind!r} unknown; accepted: {', '.join(MEDIA)}.")
    have = [d for d in stored_documents(db, rep) if d.kind == kind]
    chosen = next((d for d in have if d.lang == lang), None) or (have[0] if have else None)
    if chosen is not None:
        return filestore.read_document(data_dir, chosen.sha256)
    docs: dict[str, str] = {}
    if kind == "pdf":
        data = render_pdf(data_dir, study, rep.content, lang)
        docs[f"pdf:{lang}"] = _store(db, data_dir, rep, "pdf", lang, data)
    else:
        pdf_fr = signed_document(db, data_dir, user, study, rep, "pdf", "fr")
        cda, fhir = _exports(db, study, rep, pdf_fr)
        docs["cda"] = _store(db, data_dir, rep, "cda", "fr", cda)
        docs["fhir"] = _store(db, data_dir, rep, "fhir", "fr", fhir)
        data = cda if kind == "cda" else fhir
    audit_event(db, user, "export", f"study:{study.id}", input_sha256=study.file_sha256,
                details={"format": "frozen at first export", "version": rep.version, "documents": docs})
    db.commit()
    return data


def practice_name(db: Session, study: Study) -> str | None:
    """The practice's name, for the printout."""
    return study.practice.name if study.practice is not None else None


def pdf_bytes(db: Session, data_dir: Path, study: Study, lang: str = "fr", version: int | None = None,
              user: User | None = None) -> bytes:
    """PDF of the last signed version (or ``version``): the bytes frozen at signing, never re-rendered;
    else of the current draft (marked as a draft), drawn now."""
    from ecgpilot.web.services.studies import report_content, reports

    reps = reports(db, study)
    chosen = None
    if version is not None:
        chosen = next((r for r in reps if r.version == version), None)
        if chosen is None:
            said = messages.lang_or_en(lang)
            raise RecordError(messages.text("web.documents.no_version", said, version=version,
                                            versions=", ".join(str(r.version) for r in reps)
                                            or messages.text("web.documents.no_versions", said)))
    elif study.status == "signed" and reps:
        chosen = reps[-1]
    if chosen is None:
        return render_pdf(data_dir, study, report_content(study, practice=practice_name(db, study)), lang)
    signer = user or chosen.signer
    return signed_document(db, data_dir, signer, study, chosen, "pdf", lang)


def signed_version(db: Session, user: User, study: Study, version: int | None = None) -> Report:
    """A signed version of ``study`` (the last one by default), for a user with identified access."""
    from ecgpilot.web.services.access import require_identified_access
    from ecgpilot.web.services.common import Conflict
    from ecgpilot.web.services.studies import reports

    require_identified_access(user)
    reps = reports(db, study)
    if not reps:
        raise Conflict(f"study {study.id} has no signed report yet; sign it first.")
    rep = reps[-1] if version is None else next((r for r in reps if r.version == version), None)
    if rep is None:
        raise RecordError(f"study {study.id} has no signed version {version}; versions: {[r.version for r in reps]}.")
    return rep


def signed_pdf(db: Session, data_dir: Path, user: User, study: Study, version: int | None = None) -> tuple[Report, bytes]:
    """(report row, French PDF) of a signed version (the last one by default), once its export is known to be
    possible (:func:`ecgpilot.web.services.sending.export_report` says what is missing otherwise)."""
    from ecgpilot.web.services.sending import export_report

    rep = signed_version(db, user, study, version)
    pdf = pdf_bytes(db, data_dir, study, lang="fr", version=rep.version, user=user)
    export_report(db, study, rep)
    return rep, pdf


def frozen_cda(db: Session, data_dir: Path, user: User, study: Study, rep: Report) -> bytes | None:
    """The CDA frozen for a signed version (made and frozen now if it could not be at signing);
    ``None`` when it cannot be made yet (the sending then says what is missing)."""
    try:
        return signed_document(db, data_dir, user, study, rep, "cda")
    except ECGPilotError:
        db.rollback()
        return None


#: format -> (media type, file suffix, audit label) of the downloadable signed documents
DOWNLOADS = {"cda": ("application/xml", "cda.xml", "CDA R2 N1"), "fhir": ("application/fhir+json", "fhir.json", "FHIR R4 Bundle")}


def export_document(db: Session, data_dir: Path, user: User, study: Study, fmt: str,
                    version: int | None = None) -> tuple[bytes, str, str]:
    """A signed version as CDA R2 N1 or FHIR R4 (``fmt`` ``"cda"``/``"fhir"``), frozen at signing, audited as an
    export (committed): (bytes, media type, file name)."""
    import hashlib

    from ecgpilot.web.services.common import audit_event

    media, suffix, label = DOWNLOADS[fmt]
    rep, _pdf = signed_pdf(db, data_dir, user, study, version)
    data = signed_document(db, data_dir, user, study, rep, fmt)
    audit_event(db, user, "export", f"study:{study.id}", details={"format": label, "version": rep.version,
                                                                  "document_sha256": hashlib.sha256(data).hexdigest()})
    db.commit()
    return data, media, f"ecg-{study.id}-v{rep.version}.{suffix}"


def export_pdf(db: Session, data_dir: Path, user: User, study: Study, *, lang: str = "fr",
               version: int | None = None) -> bytes:
    """The PDF of :func:`pdf_bytes` for a user with identified access, audited as an export (committed)."""
    from ecgpilot.web.services.access import require_identified_access
    from ecgpilot.web.services.common import audit_event

    require_identified_access(user)
    data = pdf_bytes(db, data_dir, study, lang=lang, version=version, user=user)
    audit_event(db, user, "export", f"study:{study.id}", details={"format": "pdf", "version": version})
    db.commit()
    return data
