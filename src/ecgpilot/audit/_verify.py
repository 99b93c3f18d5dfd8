"""Verification: the chain with its checkpoints, seals and saved head, the signed reports and the
signed documents; see :mod:`ecgpilot.audit`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from ecgpilot.audit._anchor import _anchor_signature, _seal, anchor_location, load_key, read_anchor
from ecgpilot.audit._retention import _signature
from ecgpilot.audit._tables import GENESIS_HASH, _entry_hash, audit_log, audit_seal, digest
from ecgpilot.errors import ConfigError


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`: ``ok``, entries checked, and the first bad entry with the reason."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit trail OK: {self.checked} entries, chain intact"
        return f"audit trail BROKEN at entry {self.first_bad_seq}: {self.reason} ({self.checked} entries checked)"


def verify(engine: Engine, *, key: bytes | None = None, expected_head: tuple[int, str] | str | None = None,
           seal_key: bytes | None = None, anchor: dict[str, Any] | None = None) -> VerifyResult:
    """Walk the chain and report the first broken entry (changed, missing, reordered, bad checkpoint).

    With ``key``, checkpoint signatures are checked too; with ``expected_head`` (``(seq, hash)`` from
    :func:`head`, or a bare hash) entries removed from the end and a rewritten chain are detected.
    With ``seal_key`` (the instance key, :func:`load_key`) every entry's seal is checked: from the first
    sealed entry on (or from ``anchor["sealed_from"]``), an entry without a valid seal was written or
    rewritten without the key. ``anchor`` (:func:`read_anchor`) is checked as a signed expected head."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
        seals = {int(r.seq): r.mac for r in conn.execute(select(audit_seal.c.seq, audit_seal.c.mac))}
    sealed_from = None
    if anchor is not None:
        a_seq, a_hash = int(anchor["seq"]), str(anchor["hash"])
        sealed_from = int(anchor.get("sealed_from", a_seq + 1))
        if seal_key is not None:
            sig = str(anchor.get("signature") or "")
            if not hmac.compare_digest(_anchor_signature(seal_key, a_seq, a_hash, sealed_from), sig):
                return VerifyResult(False, 0, a_seq, "the saved head's signature does not match the audit key "
                                                     "(the head file was edited or belongs to another instance)")
        if expected_head is None:
            expected_head = (a_seq, a_hash)
    if not rows:
        want = expected_head if isinstance(expected_head, tuple) else None
        if (want and want[0] > 0) or (isinstance(expected_head, str) and expected_head != GENESIS_HASH):
            return VerifyResult(False, 0, want[0] if want else None,
                                "the log is empty but the saved head says it had entries")
        return VerifyResult(True, 0)
    # checkpoints, by the last seq they purged
    checkpoints: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["action"] == "checkpoint":
            try:
                d = json.loads(r["details"])
                checkpoints[int(d["purged_through_seq"])] = d | {"_seq": r["seq"]}
            except (ValueError, KeyError, TypeError):
                return VerifyResult(False, 0, r["seq"], "checkpoint entry has unreadable details")
    first = rows[0]
    if first["seq"] == 1:
        expected_prev = GENESIS_HASH
    else:
        cp = checkpoints.get(first["seq"] - 1)
        if cp is None:
            return VerifyResult(
                False, 0, first["seq"] - 1,
                f"entries before {first['seq']} are missing and no checkpoint records their purge (deleted rows)",
            )
        if key is not None:
            sig = _signature(key, int(cp["purged_from_seq"]), int(cp["purged_through_seq"]), str(cp["anchor_hash"]))
            if not hmac.compare_digest(sig, str(cp.get("signature", ""))):
                return VerifyResult(False, 0, cp["_seq"], "checkpoint signature does not match the key")
        expected_prev = str(cp["anchor_hash"])
    if seal_key is not None and sealed_from is None:
        sealed_from = min(seals) if seals else None
    expected_seq = first["seq"]
    for n, r in enumerate(rows):
        if r["seq"] != expected_seq:
            return VerifyResult(False, n, expected_seq, f"entry {expected_seq} is missing (next entry found is {r['seq']})")
        if r["prev_hash"] != expected_prev:
            return VerifyResult(False, n, r["seq"], "previous-hash link does not match the preceding entry (rows reordered, replaced or deleted)")
        if _entry_hash(r) != r["hash"]:
            return VerifyResult(False, n, r["seq"], "content does not match its hash (entry modified)")
        if seal_key is not None:
            mac = seals.get(r["seq"])
            if mac is not None and not hmac.compare_digest(_seal(seal_key, r["seq"], r["hash"]), mac):
                return VerifyResult(False, n, r["seq"], "seal does not match the audit key (entry rewritten and its "
                                                        "hash chain recomputed without the key)")
            if mac is None and sealed_from is not None and r["seq"] >= sealed_from:
                return VerifyResult(False, n, r["seq"], "entry has no seal although the trail is sealed from entry "
                                                        f"{sealed_from} on (written or rewritten without the key)")
        expected_prev = r["hash"]
        expected_seq += 1
    if isinstance(expected_head, str):
        h = expected_head.strip().lower()
        if h != GENESIS_HASH and not any(r["hash"] == h for r in rows):
            return VerifyResult(False, len(rows), None, "no entry has the expected head hash: entries were removed "
                                                        "from the end or the chain was rewritten")
    elif expected_head is not None:
        seq, h = expected_head
        last = rows[-1]
        if last["seq"] < seq:
            return VerifyResult(False, len(rows), last["seq"] + 1, f"entries {last['seq'] + 1}..{seq} were removed from the end")
        match = next((r for r in rows if r["seq"] == seq), None)
        if seq > 0 and match is not None and match["hash"] != h:
            return VerifyResult(False, len(rows), seq, "entry differs from the saved head hash (chain rewritten)")
    return VerifyResult(True, len(rows))


@dataclass(frozen=True)
class ReportsResult:
    """Outcome of :func:`verify_reports`: reports checked, those whose signature entry was purged
    (retention), and the bad ones as (study id, version, reason)."""

    checked: int
    unchecked: int = 0
    bad: tuple[tuple[int, int, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.bad

    def __str__(self) -> str:
        extra = f" ({self.unchecked} older than the trail's retention not checked)" if self.unchecked else ""
        if self.ok:
            return f"signed reports OK: {self.checked} match their signature entries{extra}"
        lines = [f"signed reports BROKEN: {len(self.bad)} of {self.checked}{extra}"]
        lines += [f"  study {sid} version {v}: {why}" for sid, v, why in self.bad]
        return "\n".join(lines)


def verify_reports(engine: Engine) -> ReportsResult:
    """Check every signed report (table ``report``) against the signature entry of the trail: the
    content's SHA-256 must equal both the row's ``content_sha256`` and the entry's ``report_sha256``,
    and its canonical digest the entry's ``outputs_digest``. A report whose entry was purged by
    retention is counted as unchecked; with nothing purged, a report without an entry is bad."""
    from sqlalchemy import inspect as sa_inspect

    if not sa_inspect(engine).has_table("report"):
        return ReportsResult(0)
    with engine.connect() as conn:
        reps = conn.execute(text("SELECT study_id, version, content, content_sha256 FROM report ORDER BY study_id, version")).all()
        sigs = conn.execute(select(audit_log.c.seq, audit_log.c.target, audit_log.c.outputs_digest, audit_log.c.details)
                            .where(audit_log.c.action == "signature")).all()
        first_seq = conn.execute(select(func.min(audit_log.c.seq))).scalar() or 1
    entry: dict[tuple[int, int], tuple[str | None, str | None]] = {}
    for _seq, target, out_digest, raw in sigs:
        try:
            d = json.loads(raw)
            sid = int(str(target).removeprefix("study:"))
            entry[(sid, int(d["version"]))] = (d.get("report_sha256"), out_digest)
        except (ValueError, KeyError, TypeError):
            continue
    checked = unchecked = 0
    bad: list[tuple[int, int, str]] = []
    for sid, version, raw, stored in reps:
        content = json.loads(raw) if isinstance(raw, str) else raw
        own = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        if (sid, version) not in entry:
            if first_seq > 1:
                unchecked += 1
            else:
                checked += 1
                bad.append((sid, version, "no signature entry in the audit trail"))
            continue
        checked += 1
        logged, out_digest = entry[(sid, version)]
        if own != stored:
            bad.append((sid, version, "content does not match its stored SHA-256 (report changed)"))
        elif own != logged or (out_digest is not None and digest(content) != out_digest):
            bad.append((sid, version, "content and its SHA-256 differ from those sealed in the audit trail at signing "
                                      "(report rewritten with its hash recomputed)"))
    return ReportsResult(checked, unchecked, tuple(bad))


def verify_instance(engine: Engine, *, data_dir: Path | None, key: bytes | None = None,
                    expected_head: str | None = None) -> tuple[bool, list[str]]:
    """Everything ``ecgpilot audit verify`` checks, as (all good, lines to print): the chain with its
    seals (instance key from :func:`load_key`) and saved head (``<data_dir>/audit-head.json`` or
    ``$ECGPILOT_AUDIT_ANCHOR``), ``expected_head`` (``HASH`` or ``SEQ:HASH``), the signed reports and,
    with ``data_dir``, the signed documents."""
    lines: list[str] = []
    seal_key = load_key(data_dir)
    anchor_path = anchor_location(data_dir)
    anchor = read_anchor(anchor_path) if anchor_path is not None else None
    want: tuple[int, str] | str | None = None
    if expected_head:
        raw = expected_head.strip()
        if ":" in raw:
            a, _, b = raw.partition(":")
            if not a.isdigit():
                raise ConfigError(f"--expect-head {raw!r}: give HASH or SEQ:HASH (from the audit head file or log).")
            want = (int(a), b.lower())
        else:
            want = raw.lower()
        if len(want[1] if isinstance(want, tuple) else want) != 64:
            raise ConfigError(f"--expect-head {raw!r}: the hash has 64 hex characters.")
    with engine.connect() as conn:
        any_seal = conn.execute(select(audit_seal.c.seq).limit(1)).first() is not None
    result = verify(engine, key=key, expected_head=want, seal_key=seal_key, anchor=anchor)
    ok = result.ok
    if result.ok and want is not None and anchor is not None:  # both: the anchor and the given head
        result2 = verify(engine, key=key, expected_head=want, seal_key=seal_key)
        ok, result = result2.ok, result2
    lines.append(str(result))
    if seal_key is None:
        lines.append("seals not checked: no audit key (ECGPILOT_AUDIT_KEY, ECGPILOT_AUDIT_KEY_FILE or "
                     "<data folder>/audit_key)" + (" although the trail is sealed" if any_seal else ""))
        ok = ok and not any_seal
    else:
        lines.append("seals checked with the instance's audit key")
    if anchor is not None:
        lines.append(f"saved head {anchor_path} checked: entry {anchor['seq']} {str(anchor['hash'])[:16]}...")
    elif want is None:
        lines.append("removal of the last entries not checked: no saved head (give --expect-head or the data folder)")
    reps = verify_reports(engine)
    lines.append(str(reps))
    ok = ok and reps.ok
    if data_dir is None:
        lines.append("signed documents not checked: give --data-dir (the app's data folder)")
    else:
        from ecgpilot.store import files as filestore

        docs = verify_documents(engine, lambda sha: filestore.read_document(data_dir, sha))
        lines.append(str(docs))
        ok = ok and docs.ok
    return ok, lines


@dataclass(frozen=True)
class DocumentsResult:
    """Outcome of :func:`verify_documents`: documents checked, and the bad ones as (seq, name, sha256, reason)."""

    checked: int
    bad: tuple[tuple[int, str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.bad

    def __str__(self) -> str:
        if self.ok:
            return f"signed documents OK: {self.checked} checked against the hashes in the audit trail"
        lines = [f"signed documents BROKEN: {len(self.bad)} of {self.checked}"]
        lines += [f"  audit entry {seq}: {name} {sha[:16]}... {reason}" for seq, name, sha, reason in self.bad]
        return "\n".join(lines)


def verify_documents(engine: Engine, read: Callable[[str], bytes | None]) -> DocumentsResult:
    """Check every document named in the trail (``details.documents``) against its SHA-256.

    ``read(sha256)`` returns the stored bytes, or ``None`` when there are none (e.g. the file store's
    reader). A document is bad when missing or when its bytes hash to something else."""
    checked = 0
    bad: list[tuple[int, str, str, str]] = []
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.seq, audit_log.c.target, audit_log.c.details)
                            .where(audit_log.c.details.like('%"documents"%')).order_by(audit_log.c.seq)).all()
    for seq, target, raw in rows:
        try:
            docs = json.loads(raw).get("documents") or {}
        except ValueError:
            continue
        for name, sha in sorted(docs.items()) if isinstance(docs, dict) else ():
            checked += 1
            try:
                data = read(str(sha))
            except Exception as exc:  # the reader's own refusal (missing, unreadable) counts as missing
                data, why = None, str(exc)
            else:
                why = "is missing"
            label = f"{target} {name}" if target else name
            if data is None:
                bad.append((seq, label, str(sha), why))
            elif hashlib.sha256(data).hexdigest() != sha:
                bad.append((seq, label, str(sha), "was changed (its SHA-256 no longer matches the trail)"))
    return DocumentsResult(checked, tuple(bad))
