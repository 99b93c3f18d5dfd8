"""The AI stop switch (instance and practice scopes), persisted in ``settings`` and audited; see
:mod:`ecgpilot.audit`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select

from ecgpilot.audit._anchor import write_anchor
from ecgpilot.audit._chain import append
from ecgpilot.audit._tables import _now, settings


def _ai_key(practice_id: int | None) -> str:
    return "ai_enabled" if practice_id is None else f"ai_enabled:practice:{int(practice_id)}"


def set_ai_enabled(engine: Engine, enabled: bool, *, actor_id: str, actor_role: str, reason: str = "",
                   practice_id: int | None = None) -> None:
    """The AI stop switch: persist it and audit the change (action ``settings``), in one transaction.

    Two scopes: the whole instance (``practice_id=None``: the operator, ``ecgpilot ai off``) and one
    practice (its administrator, on the practice page). The AI reads for a practice only when both are on:
    a practice's administrator can stop it for their practice, never for the others."""
    ts = _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = "true" if enabled else "false"
    key = _ai_key(practice_id)
    with engine.begin() as conn:
        found = conn.execute(select(settings.c.key).where(settings.c.key == key)).first()
        if found:
            conn.execute(settings.update().where(settings.c.key == key).values(value=value, updated_at=ts, updated_by=actor_id))
        else:
            conn.execute(insert(settings).values(key=key, value=value, updated_at=ts, updated_by=actor_id))
        details: dict[str, Any] = {"setting": "ai_enabled", "value": enabled, "reason": reason,
                                   "scope": "instance" if practice_id is None else "practice"}
        append(conn, actor_id=actor_id, actor_role=actor_role, action="settings",
               target=None if practice_id is None else f"practice:{int(practice_id)}", details=details)
    write_anchor(engine)


def ai_enabled(engine: Engine, practice_id: int | None = None) -> bool:
    """Whether the AI reading may run: for the instance (``practice_id=None``), or for one practice (the
    instance switch and the practice's own both on). ``True`` until an administrator turns it off."""
    keys = [_ai_key(None)] + ([] if practice_id is None else [_ai_key(practice_id)])
    with engine.connect() as conn:
        values = conn.execute(select(settings.c.value).where(settings.c.key.in_(keys))).scalars().all()
    return "false" not in values
