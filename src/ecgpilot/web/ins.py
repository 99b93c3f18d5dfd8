"""INS (Identifiant National de Santé): matricule (NIR/NIA, 13 characters) + 2-digit key.

The key is ``97 - (matricule mod 97)``; for Corsica the department ``2A`` counts as ``19``
and ``2B`` as ``18`` in the number. Identity status follows the RNIV: provisoire,
récupérée, validée, qualifiée.
"""

from __future__ import annotations

import re

from ecgpilot.errors import RecordError

__all__ = ["INS_STATUSES", "ins_key", "normalize_ins"]

INS_STATUSES = ("provisoire", "recuperee", "validee", "qualifiee")

_MATRICULE = re.compile(r"^[1-478]\d{4}(\d{2}|2A|2B)\d{6}$")


def ins_key(matricule: str) -> int:
    """The control key of a 13-character matricule (``2A``/``2B`` handled)."""
    m = matricule.upper()
    if not _MATRICULE.match(m):
        raise RecordError(
            f"INS matricule {matricule!r} is not valid: 13 characters expected, sex digit 1, 2, 3, 4, 7 or 8, "
            "digits only except a Corsican department 2A/2B."
        )
    number = int(m.replace("2A", "19", 1) if m[5:7] == "2A" else m.replace("2B", "18", 1) if m[5:7] == "2B" else m)
    return 97 - number % 97


def normalize_ins(value: str) -> str:
    """Check an INS (matricule + key, spaces allowed) and return its 15 characters.

    Raises :class:`RecordError` naming the value when the format or key is wrong.
    """
    s = re.sub(r"[\s.-]", "", value).upper()
    if len(s) != 15:
        raise RecordError(f"INS {value!r} has {len(s)} characters; 15 expected (13-character matricule + 2-digit key).")
    matricule, key = s[:13], s[13:]
    if not key.isdigit():
        raise RecordError(f"INS key {key!r} must be two digits.")
    expected = ins_key(matricule)
    if int(key) != expected:
        raise RecordError(f"INS {value!r}: key {key} does not match the matricule (expected {expected:02d}); check the number.")
    return s
