"""What the pages and the API do: ingest uploads, keep the doctor's draft, sign, render.

Pure bookkeeping on SQLAlchemy sessions; the routes only translate HTTP to these calls.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
from datetime import date, datetime
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgpilot.errors import ECGPilotError, NotInterpretableError, RecordError
from ecgpilot.record import ECGRecord
from ecgpilot.store import files as filestore
from ecgpilot.store.lookup import must_get
from ecgpilot.store.models import Report, Study, StudyEvent, User, utcnow
from ecgpilot.ins import normalize_ins, normalize_status

__all__ = [
    "UploadRejected", "NothingUploaded", "Invalid", "Conflict", "group_upload", "ingest", "get_study", "list_studies", "worklist", "update_draft",
    "update_identity", "identity", "reports", "access_of", "ACCESS", "require_identified_access", "redacted_report", "redacted_draft", "WITHHELD", "redacted_analysis", "audit_event", "sign", "amend", "study_record", "tracing_svg", "paper_settings",
    "pdf_bytes", "report_content", "NotReady", "still_to_decide", "not_ready",
    "preview_draft",
]

log = logging.getLogger("ecgpilot.web")

URGENCY_LEVELS = ("emergency", "repeat_now", "soon", "routine", "normal")   # most urgent first (interpret.LEVELS reversed)
DECISIONS = ("pending", "confirmed", "edited", "rejected")


class _Said(ECGPilotError):
    """A refusal with its words for the GP: ``str()`` is English (API, logs), :meth:`message` the user's language."""

    def __init__(self, message: str, *, fr: str | None = None) -> None:
        super().__init__(message)
        self.fr = fr

    def message(self, lang: str = "fr") -> str:
        """What is wrong and what to do, in ``lang`` (French when given, else the English text)."""
        return self.fr if lang == "fr" and self.fr else str(self)


class UploadRejected(_Said):
    """An upload refused before storage (size, count, names): HTTP 413."""


class NothingUploaded(_Said, RecordError):
    """The upload held no file (or only empty ones): HTTP 422."""


class Invalid(_Said, RecordError):
    """A value the user gave cannot be accepted (HTTP 422), with its French words."""


class Conflict(_Said):
    """The action does not fit the study's state (e.g. signing with undecided statements): HTTP 409."""


def audit_event(db: Session, user: User, action: str, target: str, **fields: Any) -> None:
    """Append to the tamper-evident audit trail (:mod:`ecgpilot.audit`) inside the session's
    transaction, so the change and its entry are committed together. No patient identity."""
    from ecgpilot import audit

    audit.append(db.connection(), actor_id=str(user.id), actor_role=user.role, action=action, target=target, **fields)


# ------------------------------------------------------------------ upload ----------

def group_upload(files: list[tuple[str, bytes]], *, max_bytes: int, max_files: int = 20) -> list[list[tuple[str, bytes]]]:
    """Check an upload and group it into studies: a WFDB ``.hea`` with its same-stem
    ``.dat``/``.mat`` files make one study, any other file is a study by itself."""
    if not files:
        raise NothingUploaded("no file received; choose at least one ECG file.",
                              fr="Aucun fichier n'a été reçu : choisissez au moins un fichier ECG, puis « Envoyer ».")
    if len(files) > max_files:
        raise UploadRejected(f"{len(files)} files sent; at most {max_files} per upload.",
                             fr=f"{len(files)} fichiers envoyés : au plus {max_files} par dépôt. Déposez-les en plusieurs fois.")
    total = sum(len(c) for _, c in files)
    if total > max_bytes:
        raise UploadRejected(f"upload of {total} bytes is over the limit of {max_bytes} bytes.",
                             fr=f"Le dépôt fait {_size_fr(total)}, au-delà de la limite de {_size_fr(max_bytes)} : "
                                "un fichier ECG pèse d'ordinaire moins de 1 Mo. Vérifiez le fichier choisi.")
    clean = [(filestore.safe_name(n), c) for n, c in files]
    for name, content in clean:
        if not content:
            raise NothingUploaded(f"file {name!r} is empty.",
                                  fr=f"Le fichier « {name} » est vide (0 octet) : exportez à nouveau l'ECG depuis "
                                     "l'appareil, puis déposez-le.")
    stems = {Path(n).stem for n, _ in clean if n.lower().endswith(".hea")}
    groups: dict[str, list[tuple[str, bytes]]] = {}
    for name, content in clean:
        stem, ext = Path(name).stem, Path(name).suffix.lower()
        key = f"wfdb:{stem}" if stem in stems and ext in (".hea", ".dat", ".mat") else f"file:{name}"
        groups.setdefault(key, []).append((name, content))
    return list(groups.values())


async def run_analysis(app: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` (an ingest: reading and analysis, CPU work) in the app's bounded
    analysis pool (``Settings.analysis_workers`` threads): off the event loop, and never more analyses
    at once than that, however many uploads arrive (the others wait their turn; page requests use
    their own threads and keep flowing)."""
    import asyncio

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app.state.analysis_pool, functools.partial(fn, *args, **kwargs))


def _size_fr(n: int) -> str:
    return f"{n / 1e6:.1f} Mo".replace(".", ",") if n >= 100_000 else f"{n} octets"


def _main_name(group: list[tuple[str, bytes]]) -> str:
    heads = [n for n, _ in group if n.lower().endswith(".hea")]
    return heads[0] if heads else group[0][0]


def _interpret(analysis: dict[str, Any], lang: str) -> dict[str, Any]:
    from ecgpilot.interpret import interpret

    return interpret(analysis, lang=lang)


def _initial_draft(interp: dict[str, Any] | None) -> dict[str, Any]:
    statements = [
        {"id": s["id"], "origin": "ai", "category": s.get("category"), "ai_text": s.get("text", ""),
         "text": s.get("text", ""), "confidence": s.get("confidence"), "decision": "pending"}
        for s in (interp or {}).get("statements", []) if s.get("status", "finding") == "finding"
    ]   # AI-only statements are shown apart (study page), not proposed for sign-off
    level = ((interp or {}).get("urgency") or {}).get("level")
    return {"statements": statements, "urgency": {"ai_level": level, "level": level, "decision": "pending" if level else "edited"}}


def _prefill(study: Study, record: ECGRecord) -> None:
    p = record.patient
    study.family_name = p.family_name
    study.given_names = p.given_name
    study.birth_date = p.birth_date
    study.sex = p.sex if p.sex in ("M", "F") else None
    study.age_years = p.age_years
    study.recorded_at = record.start_time


def ingest(db: Session, data_dir: Path, user: User, group: list[tuple[str, bytes]], *, lang: str = "fr",
           use_ai: bool = True, reader: Any = None) -> Study:
    """Store one file set and its AI proposal as a new study (committed).

    The files are staged, read and analysed, moved into place, then the row is committed;
    if the database write fails the just-created folder is removed. ``reader`` reads the main file
    (default :func:`ecgpilot.io.read_ecg` in this thread).
    """
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot upload ECGs; only doctors (gp, cardiologist) can.")
    main = _main_name(group)
    sha = filestore.fileset_sha256(group, main)
    from ecgpilot.web import practice

    existing = practice.find_duplicate(db, user, sha)
    if existing is not None:   # the same file again: open the study already made of it
        filestore.sweep_staging(data_dir)   # a later upload sweeps crash leftovers, a repeated one too
        db.add(StudyEvent(study_id=existing.id, user_id=user.id, action="upload_again", after={"files": [n for n, _ in group]}))
        audit_event(db, user, "view", f"study:{existing.id}", input_sha256=sha, details={"kind": "same_file_uploaded_again"})
        db.commit()
        setattr(existing, "uploaded_again", True)   # read by the pages (a transient mark, not a column)
        return existing
    staged = filestore.stage_files(data_dir, group)
    try:
        study = _analyse_staged(staged, main, sha, user, group, lang=lang, use_ai=use_ai, reader=reader)
    except Exception:   # a bug met by this file: it becomes its own "unreadable" study, the others go on
        log.exception("reading or analysing %s failed unexpectedly; stored as unreadable", main)
        study = Study(practice_id=user.practice_id, uploaded_by=user.id, file_sha256=sha, file_name=main,
                      file_names=[n for n, _ in group], status="unreadable",
                      error=("this file could not be read (an unexpected error in ecgpilot, written to the server log; "
                             "nothing else of the upload was affected). Export the ECG again from the device, or "
                             "send the file to the administrator."))
    except BaseException:
        filestore.discard(staged)  # an interruption leaves no staging folder behind
        raise
    folder, created = filestore.commit_files(data_dir, staged, sha)
    try:
        db.add(study)
        db.flush()
        practice.apply_serial_comparison(db, study, lang)   # a new LBBB / ST elevation since the last signed ECG
        db.add(StudyEvent(study_id=study.id, user_id=user.id, action="upload", after={"files": study.file_names, "sha256": sha}))
        audit_event(db, user, "analysis", f"study:{study.id}", input_sha256=sha, model_version=study.model_version,
                    rules_version=study.rules_version, outputs={"analysis": study.analysis, "interpretation": study.interpretation},
                    details={"status": study.status, "ai": use_ai})
        db.commit()
    except Exception:
        db.rollback()
        if created:
            filestore.discard(folder)
        raise
    log.info("study %s stored (status %s)", study.id, study.status)
    return study


def _analyse_staged(staged: Path, main: str, sha: str, user: User, group: list[tuple[str, bytes]], *, lang: str,
                    use_ai: bool, reader: Any = None) -> Study:
    """The (not yet added) study row for a staged file set: read (by ``reader``, e.g. the app's
    :class:`~ecgpilot.web.reader_pool.ReaderPool` with its time limit, else in this thread), analysed, interpreted."""
    from ecgpilot.analysis import analyze_record
    from ecgpilot.io import read_ecg

    study = Study(practice_id=user.practice_id, uploaded_by=user.id, file_sha256=sha, file_name=main,
                  file_names=[n for n, _ in group], status="to_read")
    try:
        record = (reader or read_ecg)(staged / main)
    except ECGPilotError as exc:
        study.status, study.error = "unreadable", str(exc).replace(str(staged), "")
        record = None
    if record is not None:
        study.file_format = record.source.format
        _prefill(study, record)
        try:
            analysis = analyze_record(record, use_ai=use_ai)
        except NotInterpretableError as exc:
            analysis = {"quality": {"verdict": "not_interpretable", "interpretable": False,
                                    "reasons": [{"code": "refused", "message_fr": str(exc), "message_en": str(exc)}]},
                        "measurements": None, "ai": None}
        analysis["file"] = {"name": main, "sha256": sha, "format": record.source.format}
        interp = _interpret(analysis, lang)
        study.analysis = _jsonable(analysis)
        study.interpretation = _jsonable(interp) if interp else None
        ai = analysis.get("ai") or {}
        study.model_version = ai.get("model_version")
        study.rules_version = (interp or {}).get("rules_version")
        study.ai_urgency = ((interp or {}).get("urgency") or {}).get("level")
        study.draft = _initial_draft(interp)
    return study


def _jsonable(doc: Any) -> Any:
    return json.loads(json.dumps(doc, default=str))


# ------------------------------------------------------------------ access ----------

#: who sees a study of their own practice, and how (anyone else: not at all, except a cardiologist
#: asked for an opinion, through the request: :mod:`ecgpilot.web.care`)
ACCESS = {"gp": "full", "cardiologist": "full", "evaluator": "pseudonymised", "admin": None}


def access_of(user: User) -> str | None:
    """``"full"``, ``"pseudonymised"`` (no name, birth date, INS) or ``None`` for the user's practice's studies."""
    return ACCESS.get(user.role)


def get_study(db: Session, user: User, study_id: int) -> Study | None:
    """The study when it belongs to the user's practice and the role may read studies, else
    ``None`` (no existence leak). Administrators manage accounts, not patients: ``None``."""
    if access_of(user) is None:
        return None
    return db.scalar(select(Study).where(Study.id == study_id, Study.practice_id == user.practice_id))


def list_studies(db: Session, user: User, status: str | None = None, limit: int = 200) -> list[Study]:
    """The practice's studies: to read first (most urgent first), then unreadable, then signed;
    newest first within each group. Every study still to read, however old (an urgent one must not
    fall off), then the newest ``limit`` others. Empty for roles without access to studies."""
    rows, _total = worklist(db, user, status)
    to_read = [s for s in rows if s.status == "to_read"]
    return to_read + [s for s in rows if s.status != "to_read"][:limit]


def worklist(db: Session, user: User, status: str | None = None, offset: int = 0,
             limit: int | None = None) -> tuple[list[Study], int]:
    """One page of the worklist in its order (:func:`list_studies`) and the number of studies in all.

    Only the light columns are loaded to order the list (the analysis and interpretation documents
    are left in the database), then the page is sliced: a page costs the same at 50 or 5,000 studies."""
    from sqlalchemy.orm import defer

    if access_of(user) is None:
        return [], 0
    q = (select(Study).options(defer(Study.analysis), defer(Study.interpretation), defer(Study.identity_check))
         .where(Study.practice_id == user.practice_id, Study.archived_at.is_(None)))
    if status:
        q = q.where(Study.status == status)
    order = {"to_read": 0, "unreadable": 1, "signed": 2}
    rows = list(db.scalars(q.order_by(Study.created_at.desc(), Study.id.desc())))
    rows.sort(key=lambda s: (order.get(s.status, 3), _urgency_rank(s) if s.status == "to_read" else 0))
    end = None if limit is None else offset + limit
    return rows[offset:end], len(rows)


def _urgency_rank(study: Study) -> int:
    level = ((study.draft or {}).get("urgency") or {}).get("level") or study.ai_urgency
    return URGENCY_LEVELS.index(level) if level in URGENCY_LEVELS else len(URGENCY_LEVELS)


def reports(db: Session, study: Study) -> list[Report]:
    """Signed versions of a study, oldest first."""
    return list(db.scalars(select(Report).where(Report.study_id == study.id).order_by(Report.version)))


# ------------------------------------------------------------------ doctor ----------

def _editable_draft(study: Study, user: User) -> dict[str, Any]:
    """The study's draft once :func:`_require_editable` allows the change (so never ``None``)."""
    _require_editable(study, user)
    assert study.draft is not None
    return study.draft


def _require_editable(study: Study, user: User) -> None:
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot change a report; only gp and cardiologist can.")
    if study.status != "to_read" or study.draft is None:
        raise Conflict(f"study {study.id} is {study.status}; amend it to change a signed report.",
                       fr="Ce compte rendu est déjà signé : il ne peut plus être modifié. Pour le corriger, cliquez "
                          "« Amender (nouvelle version) » sur la page de l'ECG." if study.status == "signed" else
                          "Le tracé de cet ECG est illisible : il n'y a pas de compte rendu à rédiger. Déposez à "
                          "nouveau le fichier d'origine.")


def _apply_changes(study: Study, user: User, draft: dict[str, Any], changes: list[dict[str, Any]],
                   new_statements: list[str] | tuple[str, ...], urgency: str | None) -> list[StudyEvent]:
    """Apply the doctor's decisions to ``draft`` (in place); the events describing them (not added)."""
    by_id = {s["id"]: s for s in draft["statements"]}
    events = []
    for ch in changes:
        sid, decision = ch.get("id"), ch.get("decision")
        if sid not in by_id:
            raise RecordError(f"statement id {sid!r} is not in study {study.id}; ids: {', '.join(by_id) or 'none'}.")
        if decision not in DECISIONS:
            raise RecordError(f"decision {decision!r} unknown; use one of {', '.join(DECISIONS)}.")
        s = by_id[sid]
        before = {"decision": s["decision"], "text": s["text"]}
        text = (ch.get("text") or "").strip() or s["text"]
        if decision == "confirmed":
            text = s["ai_text"] if s["origin"] == "ai" else s["text"]
        if decision == "edited" and s["origin"] == "ai" and text == s["ai_text"]:
            decision = "confirmed"
        after = {"decision": decision, "text": text}
        if after != before:
            s.update(after)
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="statement", target=sid, before=before, after=after))
    for text in new_statements:
        text = text.strip()
        if text:
            sid = f"dr-{len(draft['statements']) + 1}"
            draft["statements"].append({"id": sid, "origin": "doctor", "category": "free_text", "ai_text": None,
                                        "text": text, "confidence": None, "decision": "confirmed"})
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="add_statement", target=sid,
                                     before=None, after={"text": text}))
    if urgency:
        if urgency not in URGENCY_LEVELS:
            raise RecordError(f"urgency {urgency!r} unknown; use one of {', '.join(URGENCY_LEVELS)}.")
        u = draft["urgency"]
        before = {"level": u["level"], "decision": u["decision"]}
        u["level"] = urgency
        u["decision"] = "confirmed" if urgency == u.get("ai_level") else "edited"
        after = {"level": u["level"], "decision": u["decision"]}
        if after != before:
            events.append(StudyEvent(study_id=study.id, user_id=user.id, action="urgency", target="urgency", before=before, after=after))
    return events


def preview_draft(study: Study, user: User, changes: list[dict[str, Any]], new_statements: list[str] | tuple[str, ...] = (),
                  urgency: str | None = None) -> dict[str, Any]:
    """The draft as it would be with these decisions, nothing saved (e.g. to check a sign attempt first)."""
    draft = copy.deepcopy(_editable_draft(study, user))
    _apply_changes(study, user, draft, changes, new_statements, urgency)
    return draft


DRAFT_ATTEMPTS = 30
"""How many times :func:`update_draft` re-applies a change on top of concurrent ones before answering 409."""


def update_draft(db: Session, user: User, study: Study, changes: list[dict[str, Any]],
                 new_statements: list[str] | tuple[str, ...] = (), urgency: str | None = None, *,
                 expected_version: int | None = None) -> None:
    """Apply the doctor's decisions: ``changes`` items ``{id, decision, text?}``; free-text
    statements; the final urgency. Each change is logged with before/after (committed).

    Concurrent changes are never lost: the row's version is checked at commit
    (:attr:`~ecgpilot.store.models.Study.row_version`); when another request changed the study in
    between, the study is read again and these decisions are applied on top of it (up to
    :data:`DRAFT_ATTEMPTS` times, then :class:`Conflict`). With ``expected_version`` (the version the
    client saw) a study changed since is refused at once (:class:`Conflict`, HTTP 409)."""
    from sqlalchemy.orm.exc import StaleDataError

    for _attempt in range(DRAFT_ATTEMPTS):
        current = _editable_draft(study, user)
        if expected_version is not None and study.row_version != expected_version:
            raise Conflict(f"study {study.id} changed since version {expected_version} (now {study.row_version}); "
                           "read it again and apply your change to the current draft.",
                           fr="Cet ECG a été modifié entre-temps : rechargez la page et refaites votre modification.")
        draft = copy.deepcopy(current)
        events = _apply_changes(study, user, draft, changes, new_statements, urgency)
        study.draft = draft
        db.add_all(events)
        if events:
            audit_event(db, user, "change", f"study:{study.id}", input_sha256=study.file_sha256, outputs=draft,
                        details={"changes": [{"what": e.action, "id": e.target} for e in events]})
        try:
            db.commit()
            return
        except StaleDataError:   # another request changed the study first: ours again, on top of theirs
            db.rollback()
            db.refresh(study)
    raise Conflict(f"study {study.id} is being changed by too many requests at once; nothing of this one was saved, "
                   "retry it.", fr="Cet ECG est modifié par trop d'actions à la fois : votre modification n'a pas été "
                                   "enregistrée, refaites-la.")


def update_identity(db: Session, user: User, study: Study, fields: Mapping[str, str | None]) -> None:
    """Set the patient identity (INS checked); committed. The status can only be put back to
    ``provisoire`` here (a higher one comes from :func:`ecgpilot.web.identity.verify_identity`);
    changing a verified trait (INS, names, birth date, sex) drops the verification."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot change a patient identity.")
    if study.status == "signed":
        raise Conflict(f"study {study.id} is signed; amend it to change the identity.",
                       fr="Le compte rendu est signé : l'identité du patient ne peut plus être modifiée. Cliquez « Amender "
                          "(nouvelle version) », corrigez l'identité, puis signez à nouveau.")
    before = identity(study)
    new: dict[str, Any] = {}
    for key in ("family_name", "given_names"):
        if key in fields:
            new[key] = (fields[key] or "").strip() or None
    if "sex" in fields:
        sex = (fields["sex"] or "").strip().upper() or None
        if sex not in (None, "M", "F"):
            raise RecordError(f"sex {fields['sex']!r} unknown; use M, F or leave empty.")
        new["sex"] = sex
    if "birth_date" in fields:
        raw = (fields["birth_date"] or "").strip()
        try:
            new["birth_date"] = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise RecordError(f"birth date {raw!r} is not a date; use YYYY-MM-DD.") from None
    if "ins" in fields:
        raw = (fields["ins"] or "").strip()
        new["ins"] = normalize_ins(raw) if raw else None
    if "ins_status" in fields:
        st = (fields["ins_status"] or "").strip() or None
        st = normalize_status(st) if st else None
        if st not in (None, "provisoire", study.ins_status):
            raise RecordError(f"identity status {st!r} cannot be typed: record the verification (ID document seen, "
                              "INSi lookup) on the study page or POST /api/v1/studies/{id}/identity/verify.")
        new["ins_status"] = st
    for k, v in new.items():
        setattr(study, k, v)
    if study.identity_check and any(before[k] != identity(study)[k] for k in ("family_name", "given_names", "birth_date",
                                                                             "sex", "ins")):
        study.ins_status, study.identity_check = "provisoire", None   # a changed trait is no longer verified
    after = identity(study)
    if after != before:
        db.add(StudyEvent(study_id=study.id, user_id=user.id, action="identity", before=before, after=after))
        audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "identity"}]})
    db.commit()


PSEUDONYMISED = "—"


def require_identified_access(user: User) -> None:
    """Refuse documents that carry the patient's identity (PDF, CDA, FHIR) to pseudonymised access."""
    if access_of(user) != "full":
        raise PermissionError(f"role {user.role!r} has pseudonymised access only; this document carries the patient's "
                              "identity. Use the evaluation indicators and the pseudonymised CSV instead.")


def redacted_analysis(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """The analysis document for pseudonymised access, built from an allow-list: quality,
    measurements, AI output, the recording's technical traits, the device's own measurements and
    statements, and of the patient only sex and age. No file name, path, free text or identity."""
    if not analysis:
        return analysis
    rec = analysis.get("record") or {}
    src = rec.get("source") or {}
    pat = rec.get("patient") or {}
    return copy.deepcopy({
        "schema": analysis.get("schema"), "ecgpilot_version": analysis.get("ecgpilot_version"),
        "file": {"format": (analysis.get("file") or {}).get("format")},
        "record": {**{k: rec.get(k) for k in ("format", "fs", "n_samples", "duration_s", "leads", "units")},
                   "source": {k: src.get(k) for k in ("format", "manufacturer", "device", "device_measurements",
                                                      "device_statements")},
                   "patient": {k: pat.get(k) for k in ("sex", "age_years")}},
        "quality": analysis.get("quality"), "measurements": analysis.get("measurements"), "ai": analysis.get("ai"),
    })


WITHHELD = "[texte libre masqué / free text withheld]"
"""What pseudonymised access (evaluators) sees in place of text a doctor typed: it can name the patient."""


def redacted_draft(draft: dict[str, Any] | None) -> dict[str, Any] | None:
    """The draft for pseudonymised access: the AI's own statement texts and every decision kept; text a
    doctor typed (free-text statements, edited wording) withheld (:data:`WITHHELD`)."""
    if not draft:
        return draft
    out = copy.deepcopy(draft)
    for st in out.get("statements") or []:
        if st.get("origin") != "ai":
            st["text"] = WITHHELD
        elif st.get("text") != st.get("ai_text"):
            st["text"] = WITHHELD
    return out


def redacted_report(content: dict[str, Any]) -> dict[str, Any]:
    """A signed report's content without the patient identity and without text a doctor typed (for
    pseudonymised access): the kept statements that are not the AI's wording are withheld."""
    out = dict(content)
    decisions = redacted_draft({"statements": out.get("decisions") or []}) or {"statements": []}
    out["decisions"] = decisions["statements"]
    ai_texts = {d.get("ai_text") for d in content.get("decisions") or [] if d.get("origin") == "ai"
                and d.get("decision") == "confirmed"}
    out["statements"] = [t if t in ai_texts else WITHHELD for t in out.get("statements") or []]
    p = dict(out.get("patient") or {})
    out["patient"] = {"family_name": None, "given_names": None, "birth_date": None, "sex": p.get("sex"), "ins": None,
                      "ins_status": p.get("ins_status"), "pseudonymised": True}
    return out


def identity(study: Study, *, pseudonymised: bool = False) -> dict[str, Any]:
    """The patient identity fields; with ``pseudonymised`` only sex and the INS status remain."""
    if pseudonymised:
        return {"family_name": None, "given_names": None, "birth_date": None, "sex": study.sex, "ins": None,
                "ins_status": study.ins_status, "pseudonymised": True}
    return {"family_name": study.family_name, "given_names": study.given_names,
            "birth_date": study.birth_date.isoformat() if study.birth_date else None, "sex": study.sex,
            "ins": study.ins, "ins_status": study.ins_status}


def report_content(study: Study, user: User | None = None, signed_at: datetime | None = None, version: int | None = None,
                   practice: str | None = None) -> dict[str, Any]:
    """The report document: kept statements, urgency (the doctor's; the AI's kept apart as
    ``ai_urgency``), patient, doctor (name, RPPS), practice, provenance (draft when unsigned)."""
    draft = study.draft or {"statements": [], "urgency": {}}
    return {
        "study_id": study.id, "version": version,
        "statements": [s["text"] for s in draft["statements"] if s["decision"] in ("confirmed", "edited")],
        "decisions": draft["statements"],
        "urgency": (draft.get("urgency") or {}).get("level"),
        "ai_urgency": (draft.get("urgency") or {}).get("ai_level"),
        "doctor": user.name if user else None, "doctor_email": user.email if user else None,
        "doctor_rpps": user.rpps if user else None, "practice": practice,
        "signed_at": signed_at.isoformat() if signed_at else None,
        "patient": identity(study),
        "file_sha256": study.file_sha256, "model_version": study.model_version, "rules_version": study.rules_version,
    }


class NotReady(Conflict):
    """Signing refused: statements (``pending``, their ids) or the urgency (``urgency_pending``) are undecided."""

    def __init__(self, message: str, pending: list[str], urgency_pending: bool) -> None:
        super().__init__(message)
        self.pending, self.urgency_pending = pending, urgency_pending


def still_to_decide(draft: dict[str, Any] | None) -> tuple[list[str], bool]:
    """(ids of the statements still to decide, whether the urgency is still to decide) of a draft."""
    draft = draft or {"statements": [], "urgency": {}}
    u = draft.get("urgency") or {}
    return [s["id"] for s in draft["statements"] if s["decision"] == "pending"], (u.get("decision") == "pending"
                                                                                 or not u.get("level"))


def not_ready(draft: dict[str, Any], lang: str = "fr") -> NotReady | None:
    """The refusal to sign ``draft`` (in ``lang``, the statements named by their text), or ``None`` when it can be signed."""
    pending, urgency = still_to_decide(draft)
    if not pending and not urgency:
        return None
    texts = {s["id"]: s["text"] for s in draft["statements"]}
    named = [f"« {texts[i]} »" if lang == "fr" else f"“{texts[i]}”" for i in pending]
    if lang == "fr":
        what = [f"{len(pending)} énoncé(s) à décider ({' ; '.join(named)})"] if pending else []
        what += ["l'urgence à choisir"] if urgency else []
        msg = (f"Le compte rendu n'est pas signé : {' et '.join(what)}. Pour chaque énoncé surligné, choisissez "
               "« confirmé », « modifié » ou « rejeté », choisissez l'urgence, puis signez.")
    else:
        what = [f"{len(pending)} statement(s) to decide ({'; '.join(named)})"] if pending else []
        what += ["the urgency to choose"] if urgency else []
        msg = (f"The report is not signed: {' and '.join(what)}. For each highlighted statement choose confirmed, "
               "edited or rejected, choose the urgency, then sign.")
    return NotReady(msg, pending, urgency)


def sign(db: Session, user: User, study: Study, *, data_dir: Path | None = None, lang: str = "fr") -> Report:
    """Freeze the draft as a new signed report version (committed).

    Refused (:class:`NotReady`, nothing logged) while a statement or the urgency is undecided. With
    ``data_dir`` the version's documents (PDF in ``lang`` and French, CDA, FHIR) are rendered and frozen
    in the file store, their SHA-256 in the signature's audit entry (:func:`ecgpilot.web.documents.freeze`)."""
    refusal = not_ready(_editable_draft(study, user), lang)
    if refusal is not None:
        raise refusal
    from ecgpilot.web import documents

    version = (db.scalar(select(func.max(Report.version)).where(Report.study_id == study.id)) or 0) + 1
    now = utcnow()
    content = report_content(study, user, now, version, practice=documents.practice_name(db, study))
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    rep = Report(study_id=study.id, version=version, signed_by=user.id, signed_at=now, content=content, content_sha256=digest)
    db.add(rep)
    db.flush()
    frozen = documents.freeze(db, data_dir, study, rep, lang) if data_dir is not None else {}
    study.status = "signed"
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="sign", target=f"v{version}", after={"sha256": digest}))
    audit_event(db, user, "signature", f"study:{study.id}", input_sha256=study.file_sha256, model_version=study.model_version,
                rules_version=study.rules_version, outputs=content,
                details={"version": version, "report_sha256": digest, **frozen})
    db.commit()
    return rep


def amend(db: Session, user: User, study: Study) -> None:
    """Reopen a signed study for a new version (the signed versions stay unchanged)."""
    if not user.can_sign:
        raise PermissionError(f"role {user.role!r} cannot amend a report.")
    if study.status != "signed":
        raise Conflict(f"study {study.id} is {study.status}; only a signed study can be amended.",
                       fr="Ce compte rendu n'est pas signé : il se modifie directement, sans amendement.")
    study.status = "to_read"
    db.add(StudyEvent(study_id=study.id, user_id=user.id, action="amend"))
    audit_event(db, user, "change", f"study:{study.id}", details={"changes": [{"what": "amend"}]})
    db.commit()


# ------------------------------------------------------------------ rendering -------

@functools.lru_cache(maxsize=16)
def _read_cached(path: str, sha: str) -> ECGRecord:
    from ecgpilot.io import read_ecg

    return read_ecg(path)


def study_record(data_dir: Path, study: Study) -> ECGRecord | None:
    """The stored recording read again (``None`` when unreadable)."""
    if study.status == "unreadable":
        return None
    try:
        return _read_cached(str(filestore.stored_path(data_dir, study.file_sha256, study.file_name)), study.file_sha256)
    except ECGPilotError:
        return None


def tracing_svg(record: ECGRecord, analysis: dict[str, Any] | None, *, reading: dict[str, Any] | None = None,
                lang: str = "fr", speed_mm_s: float = 25, gain_mm_mv: float = 10) -> str:
    """The ECG paper SVG (``ecgpilot.render.svg``) at ``speed_mm_s`` (25, 50) and ``gain_mm_mv``
    (5, 10, 20); with ``reading`` the measured ST points of the leads an ischaemia statement rests
    on are marked, legend in ``lang``."""
    from ecgpilot.render.svg import ecg_svg

    svg = ecg_svg(record, analysis=analysis, reading=reading, lang=lang, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv)
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def paper_settings(speed: str | None, gain: str | None) -> tuple[float, float]:
    """(speed mm/s, gain mm/mV) from the page's ``?speed=``/``?gain=``; the standard 25 and 10 otherwise."""
    from ecgpilot.render import GAINS, SPEEDS

    def pick(raw: str | None, allowed: tuple[float, ...], default: float) -> float:
        try:
            value = float(raw) if raw else default
        except ValueError:
            return default
        return value if value in allowed else default

    return pick(speed, SPEEDS, 25.0), pick(gain, GAINS, 10.0)


def pdf_bytes(db: Session, data_dir: Path, study: Study, lang: str = "fr", version: int | None = None,
              user: User | None = None) -> bytes:
    """PDF of the last signed version (or ``version``): the bytes frozen at signing, never re-rendered;
    else of the current draft (marked as a draft), drawn now."""
    from ecgpilot.web import documents

    reps = reports(db, study)
    chosen = None
    if version is not None:
        chosen = next((r for r in reps if r.version == version), None)
        if chosen is None:
            raise RecordError((f"cet ECG n'a pas de version signée {version} ; versions signées : "
                               f"{', '.join(str(r.version) for r in reps) or 'aucune'}.") if lang == "fr" else
                              (f"this ECG has no signed version {version}; signed versions: "
                               f"{', '.join(str(r.version) for r in reps) or 'none'}."))
    elif study.status == "signed" and reps:
        chosen = reps[-1]
    if chosen is None:
        return documents.render_pdf(data_dir, study, report_content(study, practice=documents.practice_name(db, study)), lang)
    signer = user or must_get(db, User, chosen.signed_by)
    return documents.signed_document(db, data_dir, signer, study, chosen, "pdf", lang)
