"""The ASGI app factory that ``bench_scale.py`` gives to ``uvicorn --workers N --factory``.

``ecgpilot serve`` runs one process; uvicorn's own ``--workers`` needs an import string, so each
worker process builds the app here from the same settings as ``serve``: ``ECGPILOT_WEB_DATA`` (the
shared data folder: files, session key, audit key and head) and ``ECGPILOT_DATABASE_URL``
(the shared PostgreSQL database). Outbox sending is left off (no ``ECGPILOT_SMTP_HOST``).
``ECGPILOT_BENCH_READ_TIMEOUT_S`` sets ``Settings.read_timeout_s`` (0: uploads read in the worker, no reader processes).
"""

from __future__ import annotations

import os
from pathlib import Path


def create():  # noqa: ANN201 - uvicorn calls it once per worker process
    from ecgpilot.web.app import create_app
    from ecgpilot.web.settings import Settings
    from ecgpilot.web.server import load_secret_key

    data_dir = Path(os.environ["ECGPILOT_WEB_DATA"]).resolve()
    extra = {}
    if os.environ.get("ECGPILOT_BENCH_READ_TIMEOUT_S") and hasattr(Settings, "read_timeout_s"):
        extra["read_timeout_s"] = float(os.environ["ECGPILOT_BENCH_READ_TIMEOUT_S"])   # 0: uploads read in the worker
    settings = Settings(data_dir=data_dir, database_url=os.environ["ECGPILOT_DATABASE_URL"],
                        secret_key=load_secret_key(data_dir), **extra)
    return create_app(settings)
