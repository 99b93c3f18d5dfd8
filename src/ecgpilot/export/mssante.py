"""MSSanté-style sending: mail with the IHE XDM attachment, SMTP + STARTTLS, durable outbox with retries.

* :func:`build_message` makes the mail (stdlib :mod:`email`): text body, ``IHE_XDM.ZIP`` attachment,
  optional PDF, and the MSSanté headers of Référentiel #2 (ECO.2.4.x): ``X-MSS-CODECDA`` (the CDA
  document type code) and ``X-MSS-INS`` (only for a qualified identity, i.e. when the CDA carries
  an INS). Urgent reports get ``Importance: high`` / ``X-Priority: 1``.
* :func:`send_message` sends over SMTP, upgrading with STARTTLS (refuses to send in clear unless
  ``SmtpConfig.starttls=False`` for a local relay), and logs in when credentials are set.
* The outbox (SQL table ``outbox``) keeps every message until sent: :func:`enqueue` stores it
  ``pending``; :func:`process_outbox` tries due messages, marks them ``sent`` or ``failed`` with the
  attempt count, the last error and the next retry time (exponential backoff, 1 min doubling up to
  6 h, ``max_attempts`` then no more automatic retries; :func:`retry_now` re-arms one). One worker
  at a time should run :func:`process_outbox`.

Production MSSanté needs an operator account and IGC-Santé certificates (mutual TLS): pass the
client certificate in ``SmtpConfig.ssl_context``.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import re
import email.policy
import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, LargeBinary, MetaData, String, Table, Text, insert, inspect, select, update

from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.export.xdm import cda_metadata

__all__ = [
    "SmtpConfig",
    "build_message",
    "send_message",
    "open_outbox",
    "enqueue",
    "process_outbox",
    "retry_now",
    "outbox_entries",
    "queue_report",
    "XDM_FILENAME",
    "redact_addresses",
    "CLAIM_S",
]

XDM_FILENAME = "IHE_XDM.ZIP"
metadata = MetaData()
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", String(32), nullable=True, index=True),
    Column("sent_at", String(32), nullable=True),
    Column("message_id", String(255), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("target", String(128), nullable=True),
    Column("message", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: host, port (587 submission), STARTTLS, credentials, TLS context, timeout."""

    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 30.0


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_message(
    *,
    sender: str,
    recipients: list[str],
    subject: str,
    body: str,
    cda: bytes,
    xdm_zip: bytes,
    pdf: bytes | None = None,
    urgent: bool = False,
    read_receipt: bool = False,
) -> EmailMessage:
    """The mail carrying ``xdm_zip`` (built from ``cda``), with the MSSanté headers taken from the CDA."""
    if not recipients or any("@" not in r for r in recipients):
        raise ConfigError(f"recipients {recipients!r} must be a non-empty list of mail addresses.")
    if "@" not in sender:
        raise ConfigError(f"sender {sender!r} is not a mail address.")
    meta = cda_metadata(cda)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    msg["X-MSS-CODECDA"] = str(meta["type_code"])
    if meta["patient_has_ins"]:  # the CDA carries an INS only for a qualified identity
        msg["X-MSS-INS"] = meta["patient_id"].split("^", 1)[0]
    if urgent:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    if read_receipt:
        msg["Disposition-Notification-To"] = sender
    msg.set_content(body)
    msg.add_attachment(xdm_zip, maintype="application", subtype="zip", filename=XDM_FILENAME)
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="compte-rendu-ecg.pdf")
    return msg


def send_message(msg: EmailMessage, config: SmtpConfig) -> None:
    """Send ``msg`` through ``config`` (STARTTLS unless disabled); raises :class:`ConfigError` with the cause."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            smtp.ehlo()
            if config.starttls:
                if not smtp.has_extn("starttls"):
                    raise ConfigError(f"SMTP server {config.host}:{config.port} does not offer STARTTLS; refusing to send health data in clear.")
                smtp.starttls(context=config.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if config.username:
                smtp.user, smtp.password = config.username, config.password or ""
                if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
                    smtp.auth("PLAIN", smtp.auth_plain)  # one clear answer instead of trying every mechanism
                else:
                    smtp.login(config.username, config.password or "")
            smtp.send_message(msg)
    except ConfigError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise ConfigError(f"sending to {config.host}:{config.port} failed: {type(exc).__name__}: {exc}") from exc


def open_outbox(engine: Engine) -> Engine:
    """Create the ``outbox`` table if needed and return ``engine``: in a database of its own only; in the app's
    database (under Alembic) the table belongs to the migrations (``ecgpilot.store.migrations``)."""
    if not inspect(engine).has_table("alembic_version"):
        metadata.create_all(engine, tables=[outbox])
    return engine


def enqueue(engine: Engine, msg: EmailMessage, *, target: str | None = None, now: datetime | None = None) -> int:
    """Store ``msg`` as ``pending`` (durably, before any sending attempt) and return its outbox id."""
    if not msg["Message-ID"] or not msg["To"]:
        raise RecordError("outbox messages need To and Message-ID headers (use build_message()).")
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        res = conn.execute(insert(outbox).values(
            created_at=_ts(now), status="pending", attempts=0, next_attempt_at=_ts(now),
            message_id=str(msg["Message-ID"]), recipients=str(msg["To"]), target=target, message=msg.as_bytes(),
        ))
        return int(res.inserted_primary_key[0])  # type: ignore[index]  # one row inserted


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 6 * 3600))


CLAIM_S = 600  # a message being sent is claimed for this long; a crashed sender's claim then expires
_ADDRESS = re.compile(r"[^\s'\"<>(),;:{}\[\]]+@[^\s'\"<>(),;:{}\[\]]+")


def redact_addresses(text: str) -> str:
    """``text`` with every mail address replaced by ``<address>`` (a patient's address holds the INS)."""
    return _ADDRESS.sub("<address>", text)


def process_outbox(
    engine: Engine,
    config: SmtpConfig,
    *,
    now: datetime | None = None,
    max_attempts: int = 8,
    audit_actor: tuple[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Try every due ``pending``/``failed`` message; return ``{"sent": n, "failed": m}``.

    Each message is first *claimed* (status ``sending``, conditional update), so two senders (the
    app's worker and ``ecgpilot outbox send``, or two app instances) never send the same message;
    a claim left by a crashed sender expires after :data:`CLAIM_S` and the message is due again.
    Any error on one message marks it failed (addresses removed from the error text) and the
    others are still tried. ``should_stop`` is checked between messages. With
    ``audit_actor=(user_id, role)`` each success is written to the audit trail (action ``send``,
    target = the outbox ``target``), in the same database.
    """
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        due = conn.execute(
            select(outbox.c.id)
            .where(outbox.c.status.in_(("pending", "failed", "sending")))
            .where(outbox.c.next_attempt_at.is_not(None))
            .where(outbox.c.next_attempt_at <= _ts(now))
            .order_by(outbox.c.id)
        ).scalars().all()
    counts = {"sent": 0, "failed": 0}
    for outbox_id in due:
        if should_stop is not None and should_stop():
            break
        with engine.begin() as conn:
            claimed = conn.execute(
                update(outbox).where(outbox.c.id == outbox_id)
                .where(outbox.c.status.in_(("pending", "failed", "sending")))
                .where(outbox.c.next_attempt_at.is_not(None)).where(outbox.c.next_attempt_at <= _ts(now))
                .values(status="sending", next_attempt_at=_ts(now + timedelta(seconds=CLAIM_S)))
            ).rowcount
            row = conn.execute(select(outbox.c.attempts, outbox.c.message, outbox.c.target, outbox.c.message_id)
                               .where(outbox.c.id == outbox_id)).first() if claimed == 1 else None
        if row is None:  # another sender took it
            continue
        attempts = row.attempts + 1
        try:
            msg = email.message_from_bytes(row.message, _class=EmailMessage, policy=email.policy.SMTP)
            send_message(msg, config)
        except Exception as exc:  # noqa: BLE001 - one bad message must not block the others
            detail = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            nxt = None if attempts >= max_attempts else _ts(now + _backoff(attempts))
            with engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
                    status="failed", attempts=attempts, last_error=redact_addresses(detail), next_attempt_at=nxt))
            counts["failed"] += 1
            continue
        with engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(
                status="sent", attempts=attempts, last_error=None, next_attempt_at=None, sent_at=_ts(now)))
        counts["sent"] += 1
        if audit_actor is not None:
            from ecgpilot import audit

            audit.open_audit(engine)
            audit.append(engine, actor_id=audit_actor[0], actor_role=audit_actor[1], action="send", target=row.target,
                         details={"channel": "mssante", "outbox_id": outbox_id, "message_id": row.message_id, "attempts": attempts})
    return counts


def retry_now(engine: Engine, outbox_id: int, *, now: datetime | None = None) -> None:
    """Make a ``failed`` message due again immediately (e.g. after fixing the server settings)."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        res = conn.execute(update(outbox).where(outbox.c.id == outbox_id).where(outbox.c.status == "failed")
                           .values(next_attempt_at=_ts(now)))
    if res.rowcount != 1:
        raise RecordError(f"outbox entry {outbox_id} does not exist or is not in the 'failed' state.")


def outbox_entries(engine: Engine, *, status: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows without the message bytes (for the admin page)."""
    cols = [c for c in outbox.c if c.name != "message"]
    q = select(*cols).order_by(outbox.c.id)
    if status is not None:
        q = q.where(outbox.c.status == status)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def queue_report(
    engine: Engine | Connection,
    report: dict[str, Any],
    pdf: bytes,
    *,
    sender: str,
    recipients: list[str],
    source_oid: str,
    subject: str | None = None,
    body: str | None = None,
    require_qualified_ins: bool = False,
    actor: tuple[str, str] | None = None,
    target: str | None = None,
    cda: bytes | None = None,
) -> int:
    """Build the CDA, the XDM and the mail for a signed ``report`` and put it in the outbox; return its id.

    ``cda``: the CDA frozen at signing (sent as is); built from ``report`` and ``pdf`` when not given.

    ``require_qualified_ins=True`` refuses identities that are not ``qualifiee`` (needed for sending
    to the patient's DMP / Mon espace santé). With ``actor=(user_id, role)`` an ``export`` entry is
    written to the audit trail, in the same transaction as the outbox row. ``engine`` may be a
    :class:`~sqlalchemy.Connection`: the row then joins the caller's open transaction. ``target``
    (default: the report's study id) labels the outbox row and the audit entries.
    """
    from ecgpilot import audit
    from ecgpilot.export import check_report
    from ecgpilot.export.cda import build_cda
    from ecgpilot.export.xdm import build_xdm

    checked = check_report(report)
    if require_qualified_ins and not checked["patient"]["ins_transmitted"]:
        raise RecordError(
            f"identity status {checked['patient']['identity_status']!r}: the INS is not qualified, so this report "
            "cannot go to the patient's record; qualify the identity (INSi + ID document) first."
        )
    cda = cda if cda is not None else build_cda(report, pdf)
    xdm = build_xdm(cda, source_oid=source_oid, sender=sender, recipient=recipients[0] if recipients else None)
    msg = build_message(
        sender=sender, recipients=recipients, cda=cda, xdm_zip=xdm, pdf=pdf,
        subject=subject or "Compte rendu d'électrocardiogramme",
        body=body or "Veuillez trouver ci-joint le compte rendu d'électrocardiogramme (document CDA dans IHE_XDM.ZIP et PDF).",
        urgent=checked["urgency"] in ("emergency", "repeat_now", "soon"),
    )
    study_id = target or str(checked["study"]["id"])
    now = datetime.now(UTC)
    with (engine.begin() if isinstance(engine, Engine) else contextlib.nullcontext(engine)) as conn:
        res = conn.execute(insert(outbox).values(
            created_at=_ts(now), status="pending", attempts=0, next_attempt_at=_ts(now),
            message_id=str(msg["Message-ID"]), recipients=str(msg["To"]), target=study_id, message=msg.as_bytes(),
        ))
        outbox_id = int(res.inserted_primary_key[0])  # type: ignore[index]  # one row inserted
        if actor is not None:
            audit.append(conn, actor_id=actor[0], actor_role=actor[1], action="export", target=study_id,
                         details={"format": "CDA R2 N1 in IHE XDM", "channel": "mssante", "outbox_id": outbox_id,
                                  "recipients": len(recipients), "document_sha256": hashlib.sha256(cda).hexdigest()})
    return outbox_id
