"""Bounded uploads (issue 23 §2), against uvicorn on loopback where the socket matters:

* an anonymous upload is refused (401) before its body is read: the answer comes while the client has
  sent 1 MB of an announced 500 MB;
* a logged-in upload announcing more than the limit is refused (413) before its body is read; a
  chunked one is cut at the limit while streaming;
* too many files: 413; a file that crashes the analysis becomes its own "unreadable" study and the
  others of the batch are stored;
* the worklist and the API list are paginated.
"""

from __future__ import annotations

import socket
import time

import pytest
from _web import csrf_of, login, make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient
from test_web_concurrency import LiveServer

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
BOUNDARY = "ecgpilotboundary"


def _raw_post(port: int, path: str, announced: int, send: int, headers: dict[str, str]) -> tuple[int, float]:
    """POST announcing ``announced`` bytes, send ``send`` of them, and read the status line: the
    status and the seconds it took to come (the body is never completed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {announced}",
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        t0 = time.monotonic()
        part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.xml\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        try:
            s.sendall(part)
            chunk = b"x" * 65536
            sent = len(part)
            while sent < send:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered and closed: fine
        s.settimeout(15)
        status_line = b""
        try:
            while b"\r\n" not in status_line:
                got = s.recv(4096)
                if not got:
                    break
                status_line += got
        except (ConnectionResetError, socket.timeout):
            pass
        took = time.monotonic() - t0
    return int(status_line.split(b" ")[1]) if status_line.startswith(b"HTTP/") else 0, took


def test_anonymous_upload_is_refused_before_its_body_is_read(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    with LiveServer(app) as srv:
        status, took = _raw_post(srv.port, "/api/v1/studies", announced=500 * 1024 * 1024, send=1024 * 1024, headers={})
    assert status == 401 and took < 10
    staged = list((tmp_path / "data").glob("tmp/*"))
    assert staged == []


def test_announced_oversize_upload_is_refused_before_its_body_is_read(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, max_upload_bytes=2 * 1024 * 1024)
    token = token_for(app, "a@x.fr")
    with LiveServer(app) as srv:
        status, took = _raw_post(srv.port, "/api/v1/studies", announced=500 * 1024 * 1024, send=256 * 1024,
                                 headers={"Authorization": f"Bearer {token}"})
    assert status == 413 and took < 10


def test_chunked_oversize_upload_is_cut_while_streaming(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, max_upload_bytes=1024 * 1024)
    api = TestClient(app)
    sent = {"n": 0}

    def body():  # noqa: ANN202 - no Content-Length: sent chunked
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.xml\"\r\n\r\n").encode()
        for _ in range(200):   # 12.8 MB offered
            sent["n"] += 65536
            yield b"x" * 65536
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    r = api.post("/api/v1/studies", content=body(), headers={
        "Authorization": f"Bearer {token_for(app, 'a@x.fr')}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 413 and "over the limit" in r.json()["detail"]


def test_too_many_files_refused(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, max_upload_files=3)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    r = api.post("/api/v1/studies", files=[("files", (f"f{i}.txt", f"x{i}".encode())) for i in range(5)])
    assert r.status_code == 413 and "at most 3" in r.json()["detail"]


def test_a_crashing_file_does_not_fail_the_batch(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from ecgpilot.web.services import upload as services

    real = services._analyse_staged

    def crashing(staged, main, *a, **kw):  # noqa: ANN001, ANN202 - a bug met by one file only
        if main == "crash.xml":
            raise AttributeError("'NoneType' object has no attribute 'CodeValue'")
        return real(staged, main, *a, **kw)

    monkeypatch.setattr(services, "_analyse_staged", crashing)
    app = make_app(tmp_path)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    muse = data_file(*MUSE).read_bytes()
    r = api.post("/api/v1/studies", files=[("files", ("ok1.xml", muse)), ("files", ("crash.xml", muse + b" ")),
                                           ("files", ("ok2.xml", muse + b"  "))])
    assert r.status_code == 201, r.text
    got = {s["file"]["name"]: s for s in r.json()}
    assert got["ok1.xml"]["status"] == "to_read" and got["ok2.xml"]["status"] == "to_read"
    assert got["crash.xml"]["status"] == "unreadable" and "unexpected error" in got["crash.xml"]["error"]
    assert "CodeValue" not in got["crash.xml"]["error"]   # the technical cause goes to the log only
    assert len(api.get("/api/v1/studies").json()) == 3
    assert list((tmp_path / "data").glob("tmp/*")) == []


def test_page_upload_checks_csrf_and_limits(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, max_upload_bytes=1000)
    client = TestClient(app)
    login(client, "a@x.fr")
    csrf = csrf_of(client.get("/").text)
    r = client.post("/upload", data={"csrf": "wrong"}, files=[("files", ("a.txt", b"abc"))])
    assert r.status_code == 403
    r = client.post("/upload", data={"csrf": csrf}, files=[("files", ("a.txt", b"x" * 5000))])
    assert r.status_code == 413 and "au-delà de la limite" in r.text
    r = client.post("/upload", data={"csrf": csrf}, files=[("files", ("a.txt", b"not an ecg"))], follow_redirects=False)
    assert r.status_code == 303


def test_worklist_and_api_are_paginated(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, page_size=3)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    for i in range(7):
        assert api.post("/api/v1/studies", files=[("files", (f"n{i}.txt", f"not an ecg {i}".encode()))]).status_code == 201
    r = api.get("/api/v1/studies?limit=3")
    assert r.headers["X-Total-Count"] == "7" and len(r.json()) == 3
    assert 'rel="next"' in r.headers["Link"] and "offset=3" in r.headers["Link"]
    ids = [s["id"] for s in r.json()]
    r2 = api.get("/api/v1/studies?limit=3&offset=6")
    assert len(r2.json()) == 1 and "Link" not in r2.headers
    everything = [s["id"] for s in api.get("/api/v1/studies?limit=500").json()]
    assert everything[:3] == ids and len(set(everything)) == 7
    assert api.get("/api/v1/studies?limit=501").status_code == 422
    client = TestClient(app)
    login(client, "a@x.fr")
    page1 = client.get("/").text
    assert page1.count('class="open"') == 3 and "1 / 3" in page1 and 'id="page-next"' in page1
    page3 = client.get("/?page=3").text
    assert page3.count('class="open"') == 1 and 'id="page-prev"' in page3


@pytest.mark.parametrize("n", [1])
def test_openapi_still_documents_the_upload(tmp_path, n) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    body = spec["paths"]["/api/v1/studies"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body


def test_a_read_past_the_time_limit_is_stopped_and_the_next_upload_goes_on(tmp_path) -> None:  # noqa: ANN001
    """Each upload is read in a worker process; past the limit it is stopped and refused, the pool replaced."""
    app = make_app(tmp_path)
    pool = app.state.reader_pool
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    muse = data_file(*MUSE).read_bytes()
    pool.timeout_s = 1e-4   # no read fits in 0.1 ms
    r = api.post("/api/v1/studies", files=[("files", ("slow.xml", muse))])
    assert r.status_code == 201
    (slow,) = r.json()
    assert slow["status"] == "unreadable" and "took more than" in slow["error"]
    pool.timeout_s = 60.0
    r = api.post("/api/v1/studies", files=[("files", ("next.xml", muse + b" "))])
    assert r.status_code == 201 and r.json()[0]["status"] == "to_read"
    hostile = data_file("hostile", "scp_huffman_lookup_bomb_16x24__cases2-scp-01687.scp").read_bytes()
    r = api.post("/api/v1/studies", files=[("files", ("bomb.scp", hostile))])
    assert r.status_code == 201 and r.json()[0]["status"] == "unreadable"   # the reader's own refusal, from the worker
    pool.close()
