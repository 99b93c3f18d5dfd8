"""INS (Identité Nationale de Santé) helpers: matricule key, OIDs, identity status, transmission rule.

The INS matricule is a NIR (or a NIA for people awaiting one): 13 characters plus a 2-digit key
``97 - (matricule mod 97)``, where a Corsican department ``2A`` counts as ``19`` and ``2B`` as ``18``.

Identity status follows the RNIV (FR Core ``fr-core-cs-identity-status``):
``provisoire`` (PROV), ``recuperee`` (RECUP, from INSi, not checked against an ID document),
``validee`` (VALI, checked against an ID document, not from INSi), ``qualifiee`` (QUAL, both).
The INS may be transmitted (CDA, FHIR, MSSanté) **only for a qualified identity**: see
:func:`transmissible_ins`.

OIDs (ANS / FR Core): ``1.2.250.1.213.1.4.8`` INS-NIR, ``…4.9`` INS-NIA, ``…4.10`` INS-NIR test,
``…4.11`` INS-NIR demo. The test and demo OIDs are refused unless ``allow_test=True``.
"""

from __future__ import annotations

import re
import unicodedata

from ecgpilot.errors import RecordError

__all__ = [
    "OID_INS_NIR",
    "OID_INS_NIA",
    "OID_INS_NIR_TEST",
    "OID_INS_NIR_DEMO",
    "STATUSES",
    "ins_key",
    "normalize_ins",
    "is_valid_ins",
    "ins_oid",
    "normalize_status",
    "status_code",
    "transmissible_ins",
    "normalize_trait",
]

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_INS_NIR_DEMO = "1.2.250.1.213.1.4.11"

#: status name -> FR Core identity-status code
STATUSES = {"provisoire": "PROV", "recuperee": "RECUP", "validee": "VALI", "qualifiee": "QUAL"}

_MATRICULE = re.compile(r"^[1-478]\d{4}(\d{2}|2A|2B)\d{6}$")


def ins_key(matricule: str) -> int:
    """Control key (1..97) of a 13-character matricule; ``2A``/``2B`` count as 19/18."""
    m = matricule.strip().upper()
    if not _MATRICULE.match(m):
        raise RecordError(
            f"INS matricule {matricule!r} is not valid: 13 characters expected (first digit 1, 2, 3, 4, 7 or 8; "
            "digits only, except a Corsican department 2A or 2B in positions 6-7)."
        )
    dept = m[5:7]
    number = int(m[:5] + {"2A": "19", "2B": "18"}.get(dept, dept) + m[7:])
    return 97 - number % 97


def normalize_ins(value: str) -> str:
    """Check an INS (matricule + key; spaces, dots, dashes allowed) and return its 15 characters."""
    s = re.sub(r"[\s.\-]", "", str(value)).upper()
    if len(s) != 15:
        raise RecordError(f"INS {value!r} has {len(s)} characters; 15 are expected (13-character matricule + 2-digit key).")
    matricule, key = s[:13], s[13:]
    if not key.isdigit():
        raise RecordError(f"INS {value!r}: the key {key!r} must be two digits.")
    expected = ins_key(matricule)
    if int(key) != expected:
        raise RecordError(f"INS {value!r}: key {key} does not match the matricule (expected {expected:02d}); check the number.")
    return s


def is_valid_ins(value: str) -> bool:
    """``True`` when :func:`normalize_ins` accepts ``value``."""
    try:
        normalize_ins(value)
    except RecordError:
        return False
    return True


def ins_oid(kind: str = "NIR", *, allow_test: bool = False) -> str:
    """OID of an INS kind: ``NIR``, ``NIA`` (production), ``NIR-TEST``, ``NIR-DEMO`` (only with ``allow_test``)."""
    k = kind.upper().replace("_", "-")
    oids = {"NIR": OID_INS_NIR, "NIA": OID_INS_NIA, "NIR-TEST": OID_INS_NIR_TEST, "NIR-DEMO": OID_INS_NIR_DEMO}
    if k not in oids:
        raise RecordError(f"INS kind {kind!r} is not known; accepted: NIR, NIA, NIR-TEST, NIR-DEMO.")
    if k in ("NIR-TEST", "NIR-DEMO") and not allow_test:
        raise RecordError(f"INS kind {kind!r} ({oids[k]}) is a test/demo OID, refused in production; pass allow_test=True in tests.")
    return oids[k]


def normalize_status(status: str) -> str:
    """Status name (``provisoire``/``recuperee``/``validee``/``qualifiee``) from a name, accented name or code."""
    s = unicodedata.normalize("NFKD", str(status)).encode("ascii", "ignore").decode().strip().lower()
    by_code = {code.lower(): name for name, code in STATUSES.items()}
    if s in STATUSES:
        return s
    if s in by_code:
        return by_code[s]
    raise RecordError(
        f"identity status {status!r} is not known; accepted: provisoire, récupérée, validée, qualifiée "
        "(or PROV, RECUP, VALI, QUAL)."
    )


def status_code(status: str) -> str:
    """FR Core code (PROV, RECUP, VALI, QUAL) of a status."""
    return STATUSES[normalize_status(status)]


def transmissible_ins(ins: str | None, status: str | None) -> str | None:
    """The normalised INS if it may be transmitted (identity ``qualifiee``), else ``None``.

    An invalid INS raises :class:`RecordError` even when the identity is qualified.
    """
    if not ins or not status or normalize_status(status) != "qualifiee":
        return None
    return normalize_ins(ins)


def normalize_trait(value: str) -> str:
    """INS strict trait (names) in the INS form: upper case, no diacritics, single spaces; ``-`` and ``'`` kept."""
    s = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode().upper()
    s = re.sub(r"[^A-Z\-' ]", " ", s)
    s = re.sub(r"\s*-\s*", "-", s)
    return re.sub(r"\s+", " ", s).strip()
