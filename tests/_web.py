"""Helpers shared by the web tests: an app on a SQLite file in a temp folder, logins."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

from fastapi.testclient import TestClient

from ecgpilot.store import add_user, create_api_token
from ecgpilot.web import Settings, create_app

PASSWORD = "correct horse battery"


def make_app(tmp_path: Path, **kw):  # noqa: ANN201
    """App on ``tmp_path`` with users a@x.fr (gp, practice A), b@x.fr (gp, B), e@x.fr (evaluator, A)."""
    app = create_app(Settings(data_dir=tmp_path / "data", secret_key="test-key", **({"use_ai": False} | kw)))
    with app.state.sessions() as db:
        for email, role, practice in (("a@x.fr", "gp", "A"), ("b@x.fr", "gp", "B"), ("e@x.fr", "evaluator", "A")):
            add_user(db, email, PASSWORD, name=f"Dr {email[0].upper()}", role=role, practice=practice)
        db.commit()
    return app


def token_for(app, email: str) -> str:  # noqa: ANN001
    from sqlalchemy import select

    from ecgpilot.store.models import User

    with app.state.sessions() as db:
        user = db.scalar(select(User).where(User.email == email))
        tok = create_api_token(db, user)
        db.commit()
    return tok


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD):  # noqa: ANN201
    page = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(page.text), "email": email, "password": password},
                       follow_redirects=False)


def pdf_text(pdf: bytes) -> str:
    """Every content stream of a PDF, un-wrapped (ASCII85) and inflated, to find drawn strings."""
    out = [pdf.decode("latin-1")]
    for m in re.finditer(rb"(?<!end)stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        if data.endswith(b"~>"):  # ASCII85 (ReportLab's default wrapping)
            data = base64.a85decode(data[:-2].replace(b"\n", b"").replace(b"\r", b""))
        try:
            out.append(zlib.decompress(data).decode("latin-1"))
        except zlib.error:
            out.append(data.decode("latin-1"))
    return "\n".join(out)
