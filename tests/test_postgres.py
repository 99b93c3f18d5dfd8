"""The same app on a real PostgreSQL server (started by the test from Debian's binaries, on loopback):
migrations, the care pathway, the audit chain under concurrent writers (advisory lock)."""

from __future__ import annotations

import threading
import time

import pytest
from _pg import postgres_server
from _web import PASSWORD, make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import select

from ecgpilot import audit
from ecgpilot.store import add_user
from ecgpilot.store.models import User

pytest.importorskip("psycopg", reason="PostgreSQL driver not installed (pip install -e '.[postgres]')")

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")




@pytest.fixture(scope="module")
def pg_url():  # noqa: ANN201
    with postgres_server() as url:
        yield url


def test_care_pathway_and_audit_on_postgresql(pg_url, tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, database_url=pg_url)
    assert app.state.engine.dialect.name == "postgresql"
    with app.state.sessions() as db:
        add_user(db, "c@x.fr", PASSWORD, name="Dr Claire CARDIO", role="cardiologist", practice="Cardio")
        db.commit()
        cardio_id = db.scalar(select(User.id).where(User.email == "c@x.fr"))
    gp, cardio = TestClient(app), TestClient(app)
    gp.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    cardio.headers["Authorization"] = f"Bearer {token_for(app, 'c@x.fr')}"
    path = data_file(*MUSE)
    sid = gp.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()[0]["id"]
    study = gp.get(f"/api/v1/studies/{sid}").json()
    assert study["analysis"]["measurements"]["heart_rate_bpm"] > 0
    rid = gp.post(f"/api/v1/studies/{sid}/opinion-requests", json={"cardiologist_id": cardio_id, "question": "Q", "consent": True}).json()["id"]
    ai = [s["id"] for s in study["interpretation"]["statements"]]
    body = {"urgency": "routine", "statements": [{"id": i, "agree": True} for i in ai]}
    assert cardio.post(f"/api/v1/opinions/{rid}/answer", json=body).json()["status"] == "answered"
    # a second app on the same database: the schema is already current, nothing re-applied
    from ecgpilot.store import current_version, migrate
    from ecgpilot.store.migrate import SCHEMA_VERSION

    assert migrate(app.state.engine) == [] and current_version(app.state.engine) == SCHEMA_VERSION == 9
    # concurrent writers, each in its own transaction: one unbroken chain (advisory lock)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(15):
                audit.append(app.state.engine, actor_id=f"w{k}", actor_role="gp", action="view", target=f"study:{i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and time.monotonic() - t0 < 60
    result = audit.verify(app.state.engine)
    assert result.ok, str(result)
    assert audit.count(app.state.engine) >= 60 + 3
    seqs = [e["seq"] for e in audit.entries(app.state.engine)]
    assert seqs == list(range(1, len(seqs) + 1))
    app.state.engine.dispose()
