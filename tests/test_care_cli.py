"""``ecgpilot user add`` and ``ecgpilot outbox list|send|retry`` on a real database and a real SMTP server."""

from __future__ import annotations

import ssl

import pytest
from sqlalchemy import select

from ecgpilot.cli import main
from ecgpilot.errors import ConfigError
from ecgpilot.store import authenticate, migrate, open_database
from ecgpilot.store.models import User
from ecgpilot.web.settings import smtp_config_from_env

pytest.importorskip("aiosmtpd.controller")


def test_user_add_then_login(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    db = tmp_path / "app.db"
    monkeypatch.setenv("ECGPILOT_NEW_PASSWORD", "un mot de passe long")
    assert main(["user", "add", "Cardio@Hopital.fr", "--role", "cardiologist", "--name", "Claire CARDIO",
                 "--practice", "CHU", "--rpps", "10009876543", "--db", str(db)]) == 0
    assert "cardio@hopital.fr created (role cardiologist" in capsys.readouterr().out
    engine, sessions = open_database(f"sqlite:///{db}")
    with sessions() as s:
        user = authenticate(s, "cardio@hopital.fr", "un mot de passe long")
        assert user is not None and user.role == "cardiologist" and user.rpps == "10009876543"
    # a bad RPPS is refused and nothing is half-created
    assert main(["user", "add", "x@y.fr", "--rpps", "123", "--db", str(db)]) == 2
    assert "RPPS '123' is not valid" in capsys.readouterr().err
    with sessions() as s:
        assert s.scalar(select(User).where(User.email == "x@y.fr")) is None


def test_smtp_env_config_errors(tmp_path) -> None:  # noqa: ANN001
    assert smtp_config_from_env({}) is None
    cfg = smtp_config_from_env({"ECGPILOT_SMTP_HOST": "smtp.mssante.fr", "ECGPILOT_SMTP_USER": "u"})
    assert cfg.port == 587 and cfg.starttls and cfg.username == "u"
    with pytest.raises(ConfigError, match="ECGPILOT_SMTP_PORT 'abc'"):
        smtp_config_from_env({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_PORT": "abc"})
    with pytest.raises(ConfigError, match="ECGPILOT_SMTP_KEY is set without ECGPILOT_SMTP_CERT"):
        smtp_config_from_env({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_KEY": str(tmp_path / "k.pem")})
    with pytest.raises(ConfigError, match="ECGPILOT_SMTP_CAFILE .* is not a readable file"):
        smtp_config_from_env({"ECGPILOT_SMTP_HOST": "h", "ECGPILOT_SMTP_CAFILE": str(tmp_path / "none.pem")})


def test_outbox_cli_list_send_retry(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from test_mssante import _message, _self_signed, _start

    from ecgpilot import audit
    from ecgpilot.export.mssante import enqueue, open_outbox

    db = tmp_path / "app.db"
    engine, _ = open_database(f"sqlite:///{db}")
    migrate(engine)
    audit.open_audit(engine)
    open_outbox(engine)
    enqueue(engine, _message(), target="study:1")
    assert main(["outbox", "list", "--db", str(db)]) == 0
    assert "pending" in capsys.readouterr().out
    monkeypatch.delenv("ECGPILOT_SMTP_HOST", raising=False)
    assert main(["outbox", "send", "--db", str(db)]) == 2
    assert "ECGPILOT_SMTP_HOST is not set" in capsys.readouterr().err
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    ctl, sink = _start(server_ctx)
    try:
        env = {"ECGPILOT_SMTP_HOST": "127.0.0.1", "ECGPILOT_SMTP_PORT": str(ctl.port), "ECGPILOT_SMTP_USER": "gp",
               "ECGPILOT_SMTP_PASSWORD": "wrong", "ECGPILOT_SMTP_CAFILE": str(cert)}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert main(["outbox", "send", "--db", str(db)]) == 1  # refused login: failed, kept
        assert "sent 0, failed 1" in capsys.readouterr().out
        assert main(["outbox", "list", "--status", "failed", "--db", str(db)]) == 0
        out = capsys.readouterr().out
        assert "failed" in out and "last error" in out
        monkeypatch.setenv("ECGPILOT_SMTP_PASSWORD", "s3cret")
        assert main(["outbox", "retry", "1", "--db", str(db)]) == 0
        assert main(["outbox", "send", "--db", str(db)]) == 0
        assert "sent 1, failed 0" in capsys.readouterr().out
    finally:
        ctl.stop()
    assert len(sink.messages) == 1 and sink.messages[0][0]  # over TLS
    assert [e["details"]["channel"] for e in audit.entries(engine, action="send")] == ["mssante"]
