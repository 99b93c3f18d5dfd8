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

A status above ``provisoire`` is never typed by hand: it follows from a recorded verification
(:func:`status_from_checks`): a high-trust ID document checked (``validee``), the INS obtained
from the INSi teleservice (``recuperee``), both (``qualifiee``). The INSi call itself goes through
an :class:`InsiClient`; this installation has no connection to it (:class:`OfflineInsi` says so),
so the doctor may only declare that the practice software retrieved the INS through INSi.
Errors carry a code and say what is wrong in French or English (:meth:`InsError.message`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Protocol

from ecgpilot import messages
from ecgpilot.errors import ECGPilotError, RecordError

__all__ = [
    "OID_INS_NIR",
    "OID_INS_NIA",
    "OID_INS_NIR_TEST",
    "OID_INS_NIR_DEMO",
    "STATUSES",
    "INS_STATUSES",
    "STATUS_LABELS",
    "ID_DOCUMENTS",
    "INSI_SOURCES",
    "InsError",
    "InsiUnavailable",
    "InsiClient",
    "OfflineInsi",
    "status_label",
    "status_from_checks",
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
#: the status names, least to most trusted
INS_STATUSES: tuple[str, ...] = tuple(STATUSES)
#: status name -> its label in each language (catalogue ``ins.status``), e.g. ``STATUS_LABELS["validee"]["en"]``
STATUS_LABELS = messages.Bilingual("ins.status")
#: high-trust identity documents of the RNIV: code -> its label in each language (catalogue ``ins.id_document``),
#: e.g. ``ID_DOCUMENTS["cni"]["en"]``
ID_DOCUMENTS = messages.Bilingual("ins.id_document")
#: how the INS was obtained from INSi: code -> its label in each language (catalogue ``ins.insi_source``)
INSI_SOURCES = messages.Bilingual("ins.insi_source")


class InsError(RecordError):
    """An INS that cannot be accepted (``code``: ``length``, ``matricule``, ``key_format``, ``key``);
    ``str()`` is English (the catalogue's ``ins.error.<code>`` unless ``english`` is given),
    :meth:`message` speaks the user's language."""

    def __init__(self, code: str, value: str, english: str | None = None, **params: Any) -> None:
        super().__init__(english if english is not None else messages.text(f"ins.error.{code}", "en", value=value, **params))
        self.code, self.value, self.params = code, value, params

    def message(self, lang: str = "fr") -> str:
        """What is wrong and what to do, in ``lang`` (``fr`` or ``en``; catalogue ``ins.error.<code>``)."""
        if lang == "en" or not messages.has(f"ins.error.{self.code}", lang):
            return str(self)
        return messages.text(f"ins.error.{self.code}", lang, value=self.value, **self.params)


class InsiUnavailable(ECGPilotError):
    """The INSi teleservice cannot be reached from this installation; ``str()`` is English, :attr:`fr` French."""

    @property
    def fr(self) -> str:
        """The French message (catalogue ``ins.insi_unavailable``)."""
        return messages.text("ins.insi_unavailable", "fr")


class InsiClient(Protocol):
    """A connection to the INSi teleservice (pluggable; none ships with ecgpilot)."""

    def lookup(self, ins: str, traits: dict[str, Any]) -> dict[str, Any]:
        """The identity INSi returns for ``ins`` and the traits (raises :class:`InsiUnavailable`)."""
        ...


class OfflineInsi:
    """The default :class:`InsiClient`: no teleservice is reachable, says so."""

    def lookup(self, ins: str, traits: dict[str, Any]) -> dict[str, Any]:
        raise InsiUnavailable(messages.text("ins.insi_unavailable", "en"))


def status_label(status: str | None, lang: str = "fr") -> str:
    """The status as people read it (``Qualifiée``), ``—`` when none."""
    if not status:
        return "—"
    return messages.text(f"ins.status.{normalize_status(status)}", lang)


def status_from_checks(id_document: str | None, insi_source: str | None) -> str:
    """RNIV status after a verification: ID document and INSi -> ``qualifiee``; only the document ->
    ``validee``; only INSi -> ``recuperee``; neither -> ``provisoire``."""
    if id_document is not None and id_document not in ID_DOCUMENTS:
        raise RecordError(f"identity document {id_document!r} unknown; accepted: {', '.join(ID_DOCUMENTS)}.")
    if insi_source is not None and insi_source not in INSI_SOURCES:
        raise RecordError(f"INSi source {insi_source!r} unknown; accepted: {', '.join(INSI_SOURCES)}.")
    return {(True, True): "qualifiee", (True, False): "validee", (False, True): "recuperee",
            (False, False): "provisoire"}[(id_document is not None, insi_source is not None)]

_MATRICULE = re.compile(r"^[1-478]\d{4}(\d{2}|2A|2B)\d{6}$")


def ins_key(matricule: str) -> int:
    """Control key (1..97) of a 13-character matricule; ``2A``/``2B`` count as 19/18."""
    m = matricule.strip().upper()
    if not _MATRICULE.match(m):
        raise InsError("matricule", matricule)
    dept = m[5:7]
    number = int(m[:5] + {"2A": "19", "2B": "18"}.get(dept, dept) + m[7:])
    return 97 - number % 97


def normalize_ins(value: str) -> str:
    """Check an INS as printed (spaces, dots, dashes, non-breaking spaces allowed) and return its
    15 characters; raises :class:`InsError` naming the value and the problem."""
    s = re.sub(r"[\s.\-\u00a0\u202f]", "", str(value)).upper()
    if len(s) != 15:
        raise InsError("length", value, n=len(s))
    matricule, key = s[:13], s[13:]
    if not key.isdigit():
        raise InsError("key_format", value, key=key)
    try:
        expected = ins_key(matricule)
    except InsError as exc:
        raise InsError("matricule", value, str(exc)) from None
    if int(key) != expected:
        raise InsError("key", value, key=key, expected=f"{expected:02d}")
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
