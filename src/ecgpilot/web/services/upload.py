"""Uploads: check and group the files into studies, read and analyse each (in the app's bounded pool,
the reading in a worker process with a time limit), store it as a new study with its AI proposal."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ecgpilot.errors import ECGPilotError, NotInterpretableError
from ecgpilot.record import ECGRecord
from ecgpilot.store import files as filestore
from ecgpilot.store.models import Study, StudyEvent, User
from ecgpilot.web.services.common import NothingUploaded, UploadRejected, audit_event

__all__ = ["group_upload", "run_analysis", "ingest", "size_fr", "Size"]

log = logging.getLogger("ecgpilot.web")

# ------------------------------------------------------------------ upload ----------

def group_upload(files: list[tuple[str, bytes]], *, max_bytes: int, max_files: int = 20) -> list[list[tuple[str, bytes]]]:
    """Check an upload and group it into studies: a WFDB ``.hea`` with its same-stem
    ``.dat``/``.mat`` files make one study, any other file is a study by itself."""
    if not files:
        raise NothingUploaded.said("no_file")
    if len(files) > max_files:
        raise UploadRejected.said("too_many_files", n=len(files), max=max_files)
    total = sum(len(c) for _, c in files)
    if total > max_bytes:
        raise UploadRejected.said("upload_too_big", total=Size(total), limit=Size(max_bytes))
    clean = [(filestore.safe_name(n), c) for n, c in files]
    for name, content in clean:
        if not content:
            raise NothingUploaded.said("empty_file", name=name)
    stems = {Path(n).stem for n, _ in clean if n.lower().endswith(".hea")}
    groups: dict[str, list[tuple[str, bytes]]] = {}
    for name, content in clean:
        stem, ext = Path(name).stem, Path(name).suffix.lower()
        key = f"wfdb:{stem}" if stem in stems and ext in (".hea", ".dat", ".mat") else f"file:{name}"
        groups.setdefault(key, []).append((name, content))
    return list(groups.values())


async def run_analysis(pool: Executor, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` (an ingest: reading and analysis, CPU work) in ``pool``, the app's bounded
    analysis pool (``Settings.analysis_workers`` threads): off the event loop, and never more analyses
    at once than that, however many uploads arrive (the others wait their turn; page requests use
    their own threads and keep flowing)."""
    import asyncio

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))


def size_fr(n: int) -> str:
    """A byte count as a French size: ``2,5 Mo`` from 100 kB on, else ``512 octets``."""
    return f"{n / 1e6:.1f} Mo".replace(".", ",") if n >= 100_000 else f"{n} octets"


class Size(int):
    """A byte count for the catalogue's texts: ``{n}`` writes the number, ``{n:size}`` the French size
    (:func:`size_fr`), so that both languages format the same field."""

    def __format__(self, spec: str) -> str:
        return size_fr(self) if spec == "size" else super().__format__(spec)


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
    from ecgpilot.web.services import practice

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
