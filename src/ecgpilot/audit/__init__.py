"""Append-only, tamper-evident audit trail (EU AI Act Art. 12 record keeping) and the AI stop switch.

Storage: a SQLAlchemy Core table ``audit_log`` in any database (the app's own database URL, or a
separate SQLite file: pass an :class:`~sqlalchemy.Engine` or a URL / file path to :func:`open_audit`).

Hash chain. Every entry has a sequence number ``seq`` (1, 2, 3...) and stores the hash of the
previous entry. Its own hash is::

    hash = sha256(prev_hash + canonical_json(entry))

where ``canonical_json`` is ``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` of every column except ``hash`` (seq, ts, actor, role, action, target, input
sha256, model and rules versions, outputs digest, details, prev_hash). The first entry's
``prev_hash`` is 64 zeros. :func:`verify` recomputes the chain and reports the first entry whose
content was changed, whose predecessor is missing (deleted rows) or whose order is wrong.

Retention. :func:`purge` deletes the oldest entries (a contiguous prefix of the chain, older than
``N`` days) and, in the same transaction, appends a ``checkpoint`` entry recording the range purged
and the *anchor* hash (the hash of the last purged entry, i.e. the ``prev_hash`` of the first entry
kept). The checkpoint is itself chained, so it cannot be changed without breaking the chain; when a
secret key is given it also carries an HMAC-SHA256 signature of (range, anchor) that
:func:`verify` checks with the same key. A chain whose head rows are missing verifies only if a
checkpoint covering exactly those rows exists.

Signed documents. An entry whose ``details`` has ``documents`` (``{"pdf:fr": sha256, "cda": ...}``:
the signature of a report, or the first export that froze a document) vouches for those bytes;
:func:`verify_documents` reads each through a caller-given function (the file store) and reports
the missing ones and those whose SHA-256 no longer matches.

Anchoring (outside the database). A hash chain alone can be recomputed by whoever can write the
database, and deleting its *last* rows leaves a shorter chain that still links. Two anchors close that:

* a **keyed seal**: with an instance key (:func:`load_key`: ``$ECGPILOT_AUDIT_KEY``, the file named by
  ``$ECGPILOT_AUDIT_KEY_FILE``, else ``<data_dir>/audit_key`` created 0600 at first start; never in the
  database), every entry gets ``HMAC-SHA256(key, "seal:<seq>:<hash>")`` in the table ``audit_seal``,
  written in the same transaction. A chain recomputed without the key has no valid seals;
* a **signed head** exported after every request that appended (:func:`write_anchor`): the file
  ``<data_dir>/audit-head.json`` (or ``$ECGPILOT_AUDIT_ANCHOR``) holds the last ``seq`` and ``hash``,
  the first sealed ``seq`` and an HMAC of them, and the same line goes to the ``ecgpilot.audit.head``
  logger (send it to syslog / another host). :func:`verify` with ``anchor=`` (or ``expected_head=``, e.g.
  ``ecgpilot audit verify --expect-head HASH`` with a head kept elsewhere) detects removed last rows
  and a rewritten chain.

Keep the key (and a copy of the head) where the database's writer cannot reach: another mount, the
operator's password safe, a log host. A key kept beside the database only stops attackers who can
write the database but not read the data folder (e.g. SQL access, a restored or copied database).

Signed reports. :func:`verify_reports` checks every signed report row against its signature entry
(content SHA-256 in ``details.report_sha256`` and the ``outputs_digest``): a report rewritten with its
own ``content_sha256`` recomputed no longer matches the sealed trail.

No patient identity goes into the log: targets are study ids, and :func:`pseudonymise` gives a
keyed hash for anything that identifies a person; :func:`append` refuses detail keys that look like
identity fields.
"""

from __future__ import annotations

from ecgpilot.audit._anchor import (
    ANCHOR_FILE as ANCHOR_FILE,
    KEY_FILE as KEY_FILE,
    anchor_location,
    is_sealed,
    load_key,
    log_head as log_head,
    protect,
    read_anchor,
    write_anchor,
)
from ecgpilot.audit._chain import append
from ecgpilot.audit._retention import purge
from ecgpilot.audit._switch import ai_enabled, set_ai_enabled
from ecgpilot.audit._tables import (
    ACTIONS,
    GENESIS_HASH,
    _entry_hash as _entry_hash,
    audit_log as audit_log,
    audit_seal as audit_seal,
    canonical_json as canonical_json,
    count,
    digest,
    entries,
    head,
    metadata as metadata,
    open_audit,
    pseudonymise,
    settings as settings,
)
from ecgpilot.audit._verify import (
    DocumentsResult,
    ReportsResult,
    VerifyResult,
    verify,
    verify_documents,
    verify_instance,
    verify_reports,
)

__all__ = [
    "ACTIONS",
    "GENESIS_HASH",
    "VerifyResult",
    "open_audit",
    "append",
    "entries",
    "head",
    "verify",
    "verify_documents",
    "DocumentsResult",
    "purge",
    "count",
    "pseudonymise",
    "digest",
    "set_ai_enabled",
    "ai_enabled",
    "load_key",
    "protect",
    "write_anchor",
    "read_anchor",
    "verify_reports",
    "ReportsResult",
    "verify_instance",
    "anchor_location",
    "is_sealed",
]
