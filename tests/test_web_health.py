"""Liveness and readiness probes: /healthz always answers; /readyz checks the database, the audit trail,
the data folder and the model, and answers 503 naming the failing check."""

from __future__ import annotations

from _web import make_app
from fastapi.testclient import TestClient


def test_healthz_and_readyz_answer_without_login(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path))
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and set(body["checks"]) == {"database", "audit", "storage", "model"}
    assert all(v.startswith("ok") for v in body["checks"].values())
    assert r.headers["X-Content-Type-Options"] == "nosniff"       # the security headers apply here too


def test_readyz_names_a_data_folder_that_is_gone(tmp_path) -> None:  # noqa: ANN001
    """The data folder unmounted or removed under a running app: storage fails, the rest is said ok."""
    app = make_app(tmp_path)
    client = TestClient(app)
    settings = app.state.settings
    real = settings.data_dir
    settings.data_dir = tmp_path / "unmounted"
    try:
        r = client.get("/readyz")
    finally:
        settings.data_dir = real
    assert r.status_code == 503 and r.json()["status"] == "not_ready"
    checks = r.json()["checks"]
    assert checks["storage"].startswith("failed") and checks["database"] == "ok"


def test_readyz_names_a_database_that_does_not_answer(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    client = TestClient(app)
    app.state.engine.dispose()
    real = app.state.engine
    from sqlalchemy import create_engine

    app.state.engine = create_engine(f"sqlite:///{tmp_path}/missing-folder/none.db")
    try:
        r = client.get("/readyz")
    finally:
        app.state.engine = real
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"].startswith("failed") and checks["storage"].startswith("ok")
