"""Canonical ECG lead names and the mapping of vendor spellings onto them."""

from __future__ import annotations

import difflib
import re

from ecgpilot.errors import RecordError

__all__ = [
    "STANDARD_12",
    "LIMB_INDEPENDENT",
    "KNOWN_LEADS",
    "canonical_lead",
]

#: The 12 standard leads, in the conventional order.
STANDARD_12: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF",
    "V1", "V2", "V3", "V4", "V5", "V6",
)
#: The 8 independent leads stored by many carts (GE MUSE): the rest is derived.
LIMB_INDEPENDENT: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
#: Other leads accepted: right/posterior chest leads, Holter/monitor leads,
#: Frank leads and "ECG" for a single lead of unknown placement (handhelds).
EXTRA_LEADS: tuple[str, ...] = (
    "V3R", "V4R", "V5R", "V6R", "V7", "V8", "V9",
    "MLI", "MLII", "MLIII", "X", "Y", "Z", "ECG", "ECG2", "ECG3",
)
KNOWN_LEADS: tuple[str, ...] = STANDARD_12 + EXTRA_LEADS

_BY_KEY = {name.upper(): name for name in KNOWN_LEADS}
_ALIASES = {
    # French / European "D" notation for the limb leads
    "DI": "I", "DII": "II", "DIII": "III", "D1": "I", "D2": "II", "D3": "III",
    "L1": "I", "L2": "II", "L3": "III", "LEADI": "I", "LEADII": "II", "LEADIII": "III",
    "1": "I", "2": "II", "3": "III",
    "AVR": "aVR", "AVL": "aVL", "AVF": "aVF",
    "ML2": "MLII", "ML1": "MLI", "ML3": "MLIII",
    "SINGLE": "ECG", "LEAD": "ECG", "ECG1": "ECG",
}


def _key(name: str) -> str:
    s = name.strip().upper()
    for prefix in ("MDC_ECG_LEAD_", "LEAD_", "LEAD "):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return re.sub(r"[\s_\-]", "", s)


def canonical_lead(name: str) -> str:
    """Return the canonical spelling of a lead name (``'AVL'`` → ``'aVL'``).

    Raises :class:`RecordError` naming the value and the accepted names when the
    lead is unknown, with a suggestion when one is close.
    """
    key = _key(str(name))
    if key in _BY_KEY:
        return _BY_KEY[key]
    if key in _ALIASES:
        return _ALIASES[key]
    close = difflib.get_close_matches(str(name), KNOWN_LEADS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise RecordError(
        f"Unknown lead name {name!r}.{hint} Accepted: {', '.join(KNOWN_LEADS)}."
    )
