"""Concurrent changes of one draft, against the real app under uvicorn on loopback with a real SQLite file:
ten simultaneous PATCH .../statements are all kept (each re-applied on top of the others), or the
losers are told (409); never a 200 whose change is missing from the draft that gets signed."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import pytest
from _web import make_app, token_for
from conftest import data_file

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


class LiveServer:
    """The app served by uvicorn in a thread on 127.0.0.1 (a real socket, a real thread pool)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def call(self, method: str, path: str, token: str, body: object = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, object]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None


def _upload(app, token: str) -> int:  # noqa: ANN001
    from fastapi.testclient import TestClient

    path = data_file(*MUSE)
    r = TestClient(app).post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))],
                             headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    return r.json()[0]["id"]


N = 10


def test_ten_concurrent_patches_are_all_kept_or_refused(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    token = token_for(app, "a@x.fr")
    sid = _upload(app, token)
    barrier = threading.Barrier(N)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    with LiveServer(app) as srv:
        status, study = srv.call("GET", f"/api/v1/studies/{sid}", token)
        assert status == 200
        ai_ids = [s["id"] for s in study["draft"]["statements"] if s["origin"] == "ai"]

        def worker(i: int) -> None:
            body: dict[str, object] = {"add": [f"note {i}"]}
            if i < len(ai_ids):   # each also decides a different AI statement
                body["changes"] = [{"id": ai_ids[i], "decision": "rejected"}]
            barrier.wait()
            code, _ = srv.call("PATCH", f"/api/v1/studies/{sid}/statements", token, body)
            with lock:
                results.append((i, code))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == N
        assert {code for _, code in results} <= {200, 409}
        status, after = srv.call("GET", f"/api/v1/studies/{sid}", token)
        events_status, events = srv.call("GET", f"/api/v1/studies/{sid}/events", token)

    accepted = sorted(i for i, code in results if code == 200)
    assert accepted, "at least one PATCH is accepted"
    notes = sorted(s["text"] for s in after["draft"]["statements"] if s["origin"] == "doctor")
    # every acknowledged PATCH is in the draft: its free text, and its decision
    assert notes == sorted(f"note {i}" for i in accepted)
    decided = {s["id"]: s["decision"] for s in after["draft"]["statements"]}
    for i in accepted:
        if i < len(ai_ids):
            assert decided[ai_ids[i]] == "rejected"
    for i, code in results:
        if code == 409 and i < len(ai_ids):
            assert decided[ai_ids[i]] == "pending"   # a refused PATCH left nothing behind
    # the ids of the added statements are distinct (each one re-applied on top of the others)
    ids = [s["id"] for s in after["draft"]["statements"]]
    assert len(ids) == len(set(ids))
    assert events_status == 200
    assert sum(1 for e in events if e["action"] == "add_statement") == len(accepted)
    assert after["row_version"] >= 1 + len(accepted)


def test_a_stale_version_is_refused_with_409(tmp_path) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    app = make_app(tmp_path)
    token = token_for(app, "a@x.fr")
    sid = _upload(app, token)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token}"
    v = api.get(f"/api/v1/studies/{sid}").json()["row_version"]
    assert api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["first"], "version": v}).status_code == 200
    r = api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["second"], "version": v})
    assert r.status_code == 409 and "changed since" in r.json()["detail"]
    texts = [s["text"] for s in api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]]
    assert "first" in texts and "second" not in texts


@pytest.mark.parametrize("attempts", [1])
def test_without_retries_the_losers_get_409_and_nothing_is_lost(tmp_path, monkeypatch, attempts) -> None:  # noqa: ANN001
    """With no re-application (one attempt), concurrent losers are refused, never silently dropped."""
    from ecgpilot.web.services import studies as services

    monkeypatch.setattr(services, "DRAFT_ATTEMPTS", attempts)
    app = make_app(tmp_path)
    token = token_for(app, "a@x.fr")
    sid = _upload(app, token)
    barrier = threading.Barrier(N)
    codes: dict[int, int] = {}
    with LiveServer(app) as srv:
        def worker(i: int) -> None:
            barrier.wait()
            codes[i] = srv.call("PATCH", f"/api/v1/studies/{sid}/statements", token, {"add": [f"n{i}"]})[0]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        _, after = srv.call("GET", f"/api/v1/studies/{sid}", token)
    assert set(codes.values()) <= {200, 409}
    kept = sorted(s["text"] for s in after["draft"]["statements"] if s["origin"] == "doctor")
    assert kept == sorted(f"n{i}" for i, c in codes.items() if c == 200)
