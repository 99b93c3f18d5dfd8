"""Amplitude units: one table from a file's unit to microvolts, for every reader.

Readers write the unit as they find it (``mV``, ``uV``, ``µV`` with the micro sign U+00B5,
``μV`` with the Greek mu U+03BC, ``MICROVOLTS`` in GE MUSE XML...); :func:`unit_factor` turns
it into the factor to µV or refuses it with an error naming the unit and the accepted ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ecgpilot.errors import UnsupportedFormatError

__all__ = ["UNIT_TO_UV", "ACCEPTED_UNITS", "unit_factor"]

#: Lower-cased unit → factor to microvolts (read-only).
UNIT_TO_UV: Mapping[str, float] = MappingProxyType({
    "nv": 1e-3,
    "uv": 1.0,
    "µv": 1.0,   # U+00B5 MICRO SIGN
    "μv": 1.0,   # U+03BC GREEK SMALL LETTER MU
    "mv": 1e3,
    "v": 1e6,
    "nanovolts": 1e-3,  # GE MUSE XML spells them out
    "microvolts": 1.0,
    "millivolts": 1e3,
    "volts": 1e6,
})

#: The accepted units as a person writes them (for messages).
ACCEPTED_UNITS = "nV, uV (µV), mV, V (or NANOVOLTS, MICROVOLTS, MILLIVOLTS, VOLTS)"


def unit_factor(unit: str | None, *, where: str = "", what: str = "unit", hint: str = "") -> float:
    """Factor from ``unit`` to microvolts (case and surrounding spaces ignored).

    Raises :class:`~ecgpilot.errors.UnsupportedFormatError` naming the unit, ``where`` it was
    found (e.g. ``"'a.csv': lead II"``), the accepted units and an optional ``hint`` on how to fix it.
    """
    key = (unit or "").strip().lower()
    factor = UNIT_TO_UV.get(key)
    if factor is not None:
        return factor
    prefix = f"{where}: " if where else ""
    tail = f" {hint}" if hint else ""
    raise UnsupportedFormatError(
        f"{prefix}{what} {unit!r} is not an amplitude unit ecgpilot accepts; accepted: {ACCEPTED_UNITS}.{tail}"
    )
