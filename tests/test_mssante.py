"""MSSanté sending against a real local SMTP server (aiosmtpd, STARTTLS with a self-signed certificate)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl

import pytest
from sqlalchemy import create_engine
from trust_helpers import make_pdf, report

from ecgpilot import audit
from ecgpilot.errors import ConfigError, RecordError
from ecgpilot.export.cda import build_cda
from ecgpilot.export.mssante import (
    XDM_FILENAME,
    SmtpConfig,
    build_message,
    enqueue,
    open_outbox,
    outbox_entries,
    process_outbox,
    send_message,
)
from ecgpilot.export.xdm import DOC_PATH, build_xdm, read_xdm

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402

PDF = make_pdf()
CDA = build_cda(report(), PDF)
XDM = build_xdm(CDA, source_oid="1.2.250.1.999.7", sender="dr.martin@medecin.mssante.fr")


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem, key_pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        self.messages.append((session.ssl is not None, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def _auth(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"gp" and auth_data.password == b"s3cret")


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    return server_ctx, client_ctx


def _start(server_ctx, port=None):
    sink = _Sink()
    ctl = aiosmtpd_controller.Controller(
        sink, hostname="127.0.0.1", port=port or _free_port(), tls_context=server_ctx,
        require_starttls=True, authenticator=_auth, auth_required=True,
    )
    ctl.start()
    return ctl, sink


def _message(**kw):
    return build_message(
        sender="dr.martin@medecin.mssante.fr", recipients=["dr.cardio@hopital.mssante.fr"],
        subject="Compte rendu ECG", body="Veuillez trouver le compte rendu.", cda=CDA, xdm_zip=XDM, pdf=PDF, **kw,
    )


def test_message_headers_and_parts():
    msg = _message(urgent=True)
    assert msg["X-MSS-CODECDA"] == "11488-4"
    assert msg["X-MSS-INS"] == "279035121518989"
    assert msg["Importance"] == "high"
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == [XDM_FILENAME, "compte-rendu-ecg.pdf"]


def test_no_ins_header_when_not_qualified():
    cda = build_cda(report(patient__identity_status="recuperee"), PDF)
    msg = build_message(sender="a@b.fr", recipients=["c@d.fr"], subject="s", body="b", cda=cda,
                        xdm_zip=build_xdm(cda, source_oid="1.2.3", sender="a@b.fr"))
    assert msg["X-MSS-INS"] is None and msg["X-MSS-CODECDA"] == "11488-4"
    assert b"279035121518989" not in msg.as_bytes()


def test_send_over_starttls_received_with_readable_xdm(tls):
    server_ctx, client_ctx = tls
    ctl, sink = _start(server_ctx)
    try:
        cfg = SmtpConfig(host="127.0.0.1", port=ctl.port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=10)
        send_message(_message(), cfg)
    finally:
        ctl.stop()
    assert len(sink.messages) == 1
    was_tls, rcpts, content = sink.messages[0]
    assert was_tls and rcpts == ["dr.cardio@hopital.mssante.fr"]
    got = email.message_from_bytes(content, policy=email.policy.default)
    assert got["X-MSS-CODECDA"] == "11488-4"
    zip_part = next(p for p in got.iter_attachments() if p.get_filename() == XDM_FILENAME)
    files = read_xdm(zip_part.get_content())
    assert files[DOC_PATH] == CDA


def test_server_without_starttls_refused(tls):
    _, client_ctx = tls
    sink = _Sink()
    ctl = aiosmtpd_controller.Controller(sink, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    try:
        with pytest.raises(ConfigError, match="does not offer STARTTLS"):
            send_message(_message(), SmtpConfig("127.0.0.1", ctl.port, ssl_context=client_ctx, timeout=10))
    finally:
        ctl.stop()
    assert sink.messages == []


def test_outbox_server_down_then_retried(tls, tmp_path):
    server_ctx, client_ctx = tls
    engine = open_outbox(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    port = _free_port()
    cfg = SmtpConfig("127.0.0.1", port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=5)
    t0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    oid = enqueue(engine, _message(), target="study-17", now=t0)
    assert outbox_entries(engine)[0]["status"] == "pending"

    # nobody listens on the port: failed, error kept, next retry 1 min later
    assert process_outbox(engine, cfg, now=t0) == {"sent": 0, "failed": 1}
    row = outbox_entries(engine)[0]
    assert row["id"] == oid and row["status"] == "failed" and row["attempts"] == 1
    assert "ConnectionRefusedError" in row["last_error"] and f"127.0.0.1:{port}" in row["last_error"]
    assert row["next_attempt_at"] == "2026-03-02T10:01:00.000000Z"
    # not due yet: nothing tried
    assert process_outbox(engine, cfg, now=t0 + dt.timedelta(seconds=30)) == {"sent": 0, "failed": 0}
    # second failure doubles the wait
    process_outbox(engine, cfg, now=t0 + dt.timedelta(minutes=1))
    assert outbox_entries(engine)[0]["next_attempt_at"] == "2026-03-02T10:03:00.000000Z"

    audit.open_audit(engine)
    ctl, sink = _start(server_ctx, port=port)
    try:
        res = process_outbox(engine, cfg, now=t0 + dt.timedelta(minutes=3), audit_actor=("worker", "system"))
    finally:
        ctl.stop()
    assert res == {"sent": 1, "failed": 0}
    row = outbox_entries(engine)[0]
    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] is None
    assert len(sink.messages) == 1
    sent = audit.entries(engine, action="send")
    assert len(sent) == 1 and sent[0]["target"] == "study-17"
    assert audit.verify(engine).ok


def test_gives_up_after_max_attempts(tmp_path):
    engine = open_outbox(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    cfg = SmtpConfig("127.0.0.1", _free_port(), timeout=2)
    t = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    enqueue(engine, _message(), now=t)
    for i in range(3):
        process_outbox(engine, cfg, now=t + dt.timedelta(days=i), max_attempts=3)
    row = outbox_entries(engine)[0]
    assert row["status"] == "failed" and row["attempts"] == 3 and row["next_attempt_at"] is None
    assert process_outbox(engine, cfg, now=t + dt.timedelta(days=9), max_attempts=3) == {"sent": 0, "failed": 0}


def test_queue_report_builds_everything_and_audits(tmp_path):
    from ecgpilot.export.mssante import queue_report

    engine = audit.open_audit(open_outbox(create_engine(f"sqlite:///{tmp_path / 'app.db'}")))
    oid = queue_report(engine, report(urgency="emergency"), PDF, sender="dr.martin@medecin.mssante.fr",
                       recipients=["dr.cardio@hopital.mssante.fr"], source_oid="1.2.250.1.999.7", actor=("u1", "gp"))
    row = outbox_entries(engine)[0]
    assert row["id"] == oid and row["status"] == "pending" and row["target"] == "study-17"
    logged = audit.entries(engine, action="export")
    assert len(logged) == 1 and logged[0]["details"]["outbox_id"] == oid
    assert "279035121518989" not in json.dumps(logged[0])
    from sqlalchemy import select

    from ecgpilot.export.mssante import outbox as table

    with engine.connect() as c:
        raw = c.execute(select(table.c.message)).scalar_one()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Importance"] == "high" and msg["X-MSS-CODECDA"] == "11488-4"
    with pytest.raises(RecordError, match="not qualified"):
        queue_report(engine, report(patient__identity_status="validee"), PDF, sender="a@b.fr", recipients=["c@d.fr"],
                     source_oid="1.2.3", require_qualified_ins=True)
    assert len(outbox_entries(engine)) == 1


def test_two_senders_never_send_a_message_twice(tls, tmp_path):
    """The app's worker and `ecgpilot outbox send` (or two instances) at the same time: each
    message is claimed by one of them only."""
    import threading

    server_ctx, client_ctx = tls
    engine = open_outbox(create_engine(f"sqlite:///{tmp_path / 'app.db'}", connect_args={"timeout": 30}))
    for i in range(8):
        enqueue(engine, _message(), target=f"study:{i}")
    ctl, sink = _start(server_ctx)
    cfg = SmtpConfig("127.0.0.1", ctl.port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=10)
    results = []
    try:
        threads = [threading.Thread(target=lambda: results.append(process_outbox(engine, cfg))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        ctl.stop()
    assert sum(r["sent"] for r in results) == 8 and len(sink.messages) == 8
    ids = [email.message_from_bytes(c)["Message-ID"] for _, _, c in sink.messages]
    assert len(set(ids)) == 8
    assert {r["status"] for r in outbox_entries(engine)} == {"sent"}


def test_a_broken_message_does_not_block_the_others_and_no_address_in_errors(tls, tmp_path):
    from sqlalchemy import update

    from ecgpilot.export.mssante import outbox, redact_addresses

    server_ctx, client_ctx = tls
    engine = open_outbox(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    bad = enqueue(engine, _message())
    enqueue(engine, _message())
    with engine.begin() as conn:  # a row whose stored mail lost its recipients
        conn.execute(update(outbox).where(outbox.c.id == bad).values(message=b"Subject: x\r\n\r\nno headers"))
    ctl, sink = _start(server_ctx)
    try:
        cfg = SmtpConfig("127.0.0.1", ctl.port, username="gp", password="s3cret", ssl_context=client_ctx, timeout=10)
        assert process_outbox(engine, cfg) == {"sent": 1, "failed": 1}
    finally:
        ctl.stop()
    rows = {r["id"]: r for r in outbox_entries(engine)}
    assert rows[bad]["status"] == "failed" and rows[bad]["last_error"]
    assert redact_addresses("refused {'279035121518989@patient.mssante.fr': (550, b'no')}") == "refused {'<address>': (550, b'no')}"
