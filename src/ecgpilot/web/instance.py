"""The instance behind the app: its database opened (refusing what must not be papered over), migrated and its
audit trail anchored (:func:`open_instance`), and the thread that sends the mail outbox (:class:`OutboxWorker`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ecgpilot.errors import ConfigError
from ecgpilot.export.mssante import SmtpConfig
from ecgpilot.store import migrate, open_database
from ecgpilot.web.settings import Settings

__all__ = ["open_instance", "OutboxWorker"]


def open_instance(settings: Settings) -> tuple[Any, Any]:
    """Open (or, in a fresh data folder, create) the instance's database, refusing with a clear message
    what must not be papered over (:mod:`ecgpilot.store.health`): an empty or missing database where an
    instance lived, a damaged one (``PRAGMA integrity_check``), a read-only data folder or database.
    Then the schema is migrated, the audit trail opened and anchored (:func:`ecgpilot.audit.protect`:
    the instance key outside the database, the exported head checked)."""
    from sqlalchemy.exc import DBAPIError

    from ecgpilot import audit
    from ecgpilot.export import mssante
    from ecgpilot.store import health
    from ecgpilot.store.locks import schema_lock

    data = Path(settings.data_dir)
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fault = health.storage_fault(exc)
        raise (type(fault)(f"the data folder {data} cannot be created: {fault}", fr=fault.fr) if fault else
               ConfigError(f"the data folder {data} cannot be created ({exc.strerror}).")) from None
    url = settings.db_url()
    new = health.check_before_open(url, data)
    engine, factory = open_database(url)
    try:
        if not new:
            problems = health.integrity_problems(engine) if settings.integrity_check_at_start else []
            if problems:
                raise health.database_damaged("PRAGMA integrity_check: " + "; ".join(problems[:5]))
            health.probe_writable(engine, data)
        with schema_lock(engine):   # several workers starting at once take turns (PostgreSQL)
            migrate(engine)
            audit.open_audit(engine)  # the audit trail lives in the app's database
            mssante.open_outbox(engine)  # so does the outbox of mails to send
        if new:
            health.probe_writable(engine, data)
    except DBAPIError as exc:
        engine.dispose()
        fault = health.storage_fault(exc)
        if fault is not None:
            raise fault from None
        raise ConfigError(f"the database cannot be opened: {exc.orig}") from None
    except BaseException:
        engine.dispose()
        raise
    key_dir = settings.audit_key_dir or data
    key = audit.load_key(key_dir)
    if key is None and not audit.is_sealed(engine):   # a new key only for a trail that has no seals yet
        key = audit.load_key(key_dir, create=True)
    try:
        audit.protect(engine, key=key, anchor_path=audit.anchor_location(data))
    except BaseException:
        engine.dispose()
        raise
    return engine, factory


class OutboxWorker:
    """Background thread sending the outbox every ``interval_s`` (retries with backoff are the
    outbox's own rules, :func:`ecgpilot.export.mssante.process_outbox`)."""

    def __init__(self, engine: Any, smtp: SmtpConfig, interval_s: float) -> None:
        self.engine, self.smtp, self.interval_s = engine, smtp, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecgpilot-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # checked between messages: the one being sent is finished and marked first
        self._thread.join(timeout=self.smtp.timeout + 10)

    def _run(self) -> None:
        import logging

        from ecgpilot.export.mssante import process_outbox

        log = logging.getLogger("ecgpilot.outbox")
        while not self._stop.is_set():
            try:
                counts = process_outbox(self.engine, self.smtp, audit_actor=("system", "system"),
                                        should_stop=self._stop.is_set)
                if counts["sent"] or counts["failed"]:
                    log.info("outbox: %(sent)d sent, %(failed)d failed", counts)
            except Exception:  # the worker must survive a bad row or a database hiccup
                log.exception("outbox worker error")
            self._stop.wait(self.interval_s)
