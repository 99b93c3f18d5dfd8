"""Request ids and an access log without patient data; JSON log lines for log collectors.

Every request gets an id (the client's ``X-Request-ID`` when it is a plain token of 8–64 letters, digits,
``-`` or ``_``; else a new one), sent back in ``X-Request-ID`` and put on every log line of that request.
The access log (logger ``ecgpilot.access``, level INFO) holds one record per request: the method, the
**route template** (``/studies/{study_id}``, never the path with its ids, never the query string), the
status, the duration and the request id — no name, no INS, no file name, no address, no user.
``ecgpilot serve`` with ``ECGPILOT_LOG_FORMAT=json`` writes every log line as one JSON object
(:class:`JsonFormatter`); otherwise plain text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = ["request_id_of", "access_record", "JsonFormatter", "configure_logging", "CURRENT_REQUEST_ID"]

CURRENT_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("ecgpilot_request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def request_id_of(header: str | None) -> str:
    """The client's request id when it is a plain token, else a new random one."""
    if header and _SAFE_ID.match(header):
        return header
    return uuid.uuid4().hex


def access_record(method: str, route: str | None, status: int, ms: float, request_id: str) -> dict[str, Any]:
    """One access-log record: nothing from the path but its route template, nothing from the query or body."""
    return {"request_id": request_id, "method": method, "route": route or "(no route)", "status": int(status),
            "ms": round(float(ms), 1)}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request id when there is one,
    and the access record's fields for ``ecgpilot.access``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = getattr(record, "request_id", None) or CURRENT_REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            out.update(access)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(fmt: str | None) -> None:
    """Root logging for ``ecgpilot serve``: JSON lines (``fmt == "json"``) or plain text, INFO for the
    access log, WARNING elsewhere. Refuses an unknown format, naming the accepted ones."""
    from ecgpilot.errors import ConfigError

    fmt = (fmt or "text").strip().lower()
    if fmt not in ("text", "json"):
        raise ConfigError(f"ECGPILOT_LOG_FORMAT {fmt!r} is not accepted; use text or json.")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("ecgpilot.access").setLevel(logging.INFO)
