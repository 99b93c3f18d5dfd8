"""Rows that must exist: a foreign key's target (the study of an opinion request, the signer of a report).

``db.get`` returns ``None`` for a missing row; where the schema guarantees the row (a foreign key), a
missing one is a damaged database, said as such instead of an ``AttributeError`` further on.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ecgpilot.errors import RecordError

__all__ = ["must_get"]

T = TypeVar("T")


def must_get(db: Session, model: type[T], key: Any) -> T:
    """The ``model`` row with primary key ``key``; :class:`~ecgpilot.errors.RecordError` naming both when absent."""
    row = db.get(model, key)
    if row is None:
        raise RecordError(f"{model.__name__} {key!r} is referenced but missing from the database: the database "
                          "is damaged or was edited by hand; run `ecgpilot check` and restore from a backup.")
    return row
