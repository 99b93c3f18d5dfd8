"""Persistence of studies, doctors' decisions and signed reports (SQLAlchemy 2).

SQLite by default (``sqlite:///./ecgpilot-data/ecgpilot.db``); any SQLAlchemy URL
(e.g. ``postgresql+psycopg://...``) works. The schema is created and upgraded by the Alembic
revisions shipped in :mod:`ecgpilot.store.migrations`, run by :func:`ecgpilot.store.migrate.migrate`.
"""

from __future__ import annotations

from ecgpilot.store.db import open_database
from ecgpilot.store.migrate import SCHEMA_VERSION, current_revision, current_version, migrate
from ecgpilot.store.models import ApiToken, Base, Practice, Report, Study, StudyEvent, User
from ecgpilot.store.users import add_user, authenticate, create_api_token, user_for_token

__all__ = [
    "open_database", "migrate", "current_version", "current_revision", "SCHEMA_VERSION",
    "Base", "Practice", "User", "ApiToken", "Study", "StudyEvent", "Report",
    "add_user", "authenticate", "create_api_token", "user_for_token",
]
