"""Faults that say what happened (issue 23 §5), on real SQLite files and a real uvicorn socket.

* an empty (zero-byte) database, a missing one where an instance lived, a file that is not SQLite, a
  damaged middle page (``PRAGMA integrity_check``): refused at start with the cause, and by ``ecgpilot check``;
  never re-initialised as a new instance;
* storage full while running: SQLite's own ``SQLITE_FULL`` (``PRAGMA max_page_count`` set to the
  current size: the real error path of a full disk), and for the file store an ``OSError(ENOSPC)``
  injected at :func:`ecgpilot.store.files.stage_files` (a test cannot fill a disk without root);
* read-only storage: SQLite's own ``SQLITE_READONLY`` (``PRAGMA query_only``, a ``mode=ro`` database);
* fail closed: when the audit trail cannot be written, the change is not made, and the page says why;
* a 500 keeps the connection open and carries the security headers.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import io
import random

import pytest
from _web import PASSWORD, csrf_of, login, make_app, token_for
from conftest import data_file
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from ecgpilot import audit, cli
from ecgpilot.errors import ConfigError
from ecgpilot.store.health import DatabaseDamaged, StorageReadOnly
from ecgpilot.store.models import Study
from ecgpilot.web import Settings, create_app

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


def _check(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["check", *args])
    return code, out.getvalue()


def _settings(data, **kw) -> Settings:  # noqa: ANN001
    return Settings(data_dir=data, secret_key="k", use_ai=False, **kw)


# ------------------------------------------------------------------ at start --------

def test_zero_byte_database_is_never_a_new_instance(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    data.mkdir()
    (data / "ecgpilot.db").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"empty file \(0 bytes\).*does not re-initialise"):
        create_app(_settings(data))
    assert (data / "ecgpilot.db").stat().st_size == 0   # left as it was: nothing created in it
    code, out = _check("--db", str(data / "ecgpilot.db"))
    assert code == 1 and "empty file" in out


def test_missing_database_where_an_instance_lived_is_refused(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    data = tmp_path / "data"
    client = TestClient(app)
    login(client, "a@x.fr")
    path = data_file(*MUSE)
    client.post("/upload", data={"csrf": csrf_of(client.get("/").text)},
                files=[("files", (path.name, path.read_bytes()))])
    app.state.engine.dispose()
    (data / "ecgpilot.db").unlink()
    with pytest.raises(ConfigError, match="already held an instance"):
        create_app(_settings(data))
    assert not (data / "ecgpilot.db").exists()


def test_absent_database_in_a_fresh_folder_creates_the_instance(tmp_path) -> None:  # noqa: ANN001
    app = create_app(_settings(tmp_path / "new"))
    assert (tmp_path / "new" / "ecgpilot.db").stat().st_size > 0
    assert (tmp_path / "new" / "audit_key").exists()
    app.state.engine.dispose()
    code, out = _check("--db", str(tmp_path / "new" / "ecgpilot.db"))
    assert code == 0, out
    assert "integrity_check: ok" in out and "instance OK" in out


def test_not_a_sqlite_file_is_refused(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    data.mkdir()
    (data / "ecgpilot.db").write_bytes(b"PK\x03\x04 this is a zip, not a database" * 100)
    with pytest.raises(DatabaseDamaged, match="not a SQLite database"):
        create_app(_settings(data))


def test_damaged_middle_page_is_found_at_start_and_by_check(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    for i in range(1500):   # a database of a few hundred pages
        audit.append(app.state.engine, actor_id="t", actor_role="admin", action="admin", details={"i": i, "pad": "x" * 150})
    app.state.engine.dispose()
    db = tmp_path / "data" / "ecgpilot.db"
    size = db.stat().st_size
    pages = size // 4096
    with open(db, "r+b") as f:   # one page in the middle overwritten; the header and the schema are intact
        f.seek((pages // 2) * 4096 + 64)
        f.write(random.Random(23).randbytes(3000))
    with pytest.raises(DatabaseDamaged, match="integrity_check"):
        create_app(_settings(tmp_path / "data"))
    code, out = _check("--db", str(db))
    assert code == 1 and "DAMAGED" in out and "restore the last backup" in out


def test_read_only_database_is_refused_at_start(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    app.state.engine.dispose()
    db = tmp_path / "data" / "ecgpilot.db"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageReadOnly, match="read-only"):
        create_app(_settings(tmp_path / "data", database_url=f"sqlite:///file:{db}?mode=ro&uri=true"))
    # a URI database name is SQLite's to open: no "file:" folder made in the working directory
    assert not (tmp_path / "file:").exists()


def test_read_only_data_folder_is_refused_at_start(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """(EROFS injected at the write probe: the tests may run as root, for whom permissions do not apply.)"""
    import os

    real_open = os.open

    def read_only_open(path, flags, *a, **kw):  # noqa: ANN001, ANN202
        if str(path).endswith(".write-probe"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **kw)

    make_app(tmp_path).state.engine.dispose()
    monkeypatch.setattr(os, "open", read_only_open)
    with pytest.raises(StorageReadOnly, match="cannot be written.*read-only"):
        create_app(_settings(tmp_path / "data"))


# ------------------------------------------------------------------ while running ---

def _fill_disk(engine):  # noqa: ANN001, ANN202
    """SQLite's real 'database or disk is full' from now on: no page may be added to the file."""
    @event.listens_for(engine, "connect")
    def _full(dbapi_conn, _rec) -> None:  # noqa: ANN001
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")
    engine.dispose()
    return _full


def _read_only(engine) -> None:  # noqa: ANN001
    @event.listens_for(engine, "connect")
    def _ro(dbapi_conn, _rec) -> None:  # noqa: ANN001
        dbapi_conn.execute("PRAGMA query_only = ON")
    engine.dispose()


def test_storage_full_says_so_and_loses_nothing(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    path = data_file(*MUSE)
    sid = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()[0]["id"]
    draft_before = api.get(f"/api/v1/studies/{sid}").json()["draft"]
    head_before = audit.head(app.state.engine)
    full = _fill_disk(app.state.engine)
    big = "x" * 200_000   # a change that needs new pages
    r = api.patch(f"/api/v1/studies/{sid}/statements", json={"add": [big]})
    assert r.status_code == 507 and r.headers["content-type"].startswith("application/problem+json")
    assert "storage full: nothing was lost" in r.json()["detail"]
    assert r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
    # the login writes an audit entry: refused too, with the words on the page (not "unexpected error")
    page = TestClient(app)
    form = page.get("/login")
    assert form.status_code == 200   # the login page itself still shows
    many = {"csrf": csrf_of(form.text), "email": "a@x.fr", "password": PASSWORD}
    for _ in range(200):   # fill the last free bytes of the pages, until a login needs a new page
        resp = page.post("/login", data=many, follow_redirects=False)
        if resp.status_code != 303:
            break
        page.cookies.clear()
        many["csrf"] = csrf_of(page.get("/login").text)
    assert resp.status_code == 507
    assert "Stockage plein : rien n&#39;a été perdu" in resp.text and "unexpected" not in resp.text
    # nothing was lost, nothing half-written
    event.remove(app.state.engine, "connect", full)   # space freed
    app.state.engine.dispose()
    after = api.get(f"/api/v1/studies/{sid}").json()
    assert after["draft"] == draft_before
    assert audit.verify(app.state.engine, seal_key=audit.load_key(tmp_path / "data")).ok
    assert audit.head(app.state.engine)[0] >= head_before[0]
    # and the change goes through now
    assert api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["ok now"]}).status_code == 200


def test_file_store_full_on_upload(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """ENOSPC injected where the upload's files are written (the storage boundary)."""
    from ecgpilot.store import files as filestore

    app = make_app(tmp_path)
    client = TestClient(app)
    login(client, "a@x.fr")

    def full(*_a, **_k):  # noqa: ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filestore, "stage_files", full)
    path = data_file(*MUSE)
    r = client.post("/upload", data={"csrf": csrf_of(client.get("/").text)},
                    files=[("files", (path.name, path.read_bytes()))])
    assert r.status_code == 507
    assert "Stockage plein : rien n&#39;a été perdu" in r.text and r.headers["X-Content-Type-Options"] == "nosniff"
    with app.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Study)) == 0


def test_read_only_while_running_refuses_changes_and_untraced_reads(tmp_path) -> None:  # noqa: ANN001
    app = make_app(tmp_path)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token_for(app, 'a@x.fr')}"
    path = data_file(*MUSE)
    sid = api.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))]).json()[0]["id"]
    _read_only(app.state.engine)
    r = api.patch(f"/api/v1/studies/{sid}/statements", json={"add": ["note"]})
    assert r.status_code == 503 and "read-only" in r.json()["detail"]
    # reading a patient's study needs its audit entry: refused rather than untraced (fail closed)
    r = api.get(f"/api/v1/studies/{sid}")
    assert r.status_code == 503 and "nothing can be changed or recorded" in r.json()["detail"]
    page = TestClient(app)
    form = page.get("/login")
    r = page.post("/login", data={"csrf": csrf_of(form.text), "email": "a@x.fr", "password": PASSWORD})
    assert r.status_code == 503 and "Stockage en lecture seule" in r.text


# ------------------------------------------------------------------ 500s ------------

def test_a_500_keeps_the_connection_and_the_security_headers(tmp_path) -> None:  # noqa: ANN001
    from test_web_concurrency import LiveServer

    app = make_app(tmp_path)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with LiveServer(app) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/boom")
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 500 and "a bug" not in body
        assert r.getheader("Content-Security-Policy") and r.getheader("X-Frame-Options") == "DENY"
        assert (r.getheader("connection") or "").lower() != "close"
        conn.request("GET", "/login")   # the same connection serves the next request
        r2 = conn.getresponse()
        assert r2.status == 200 and r2.read()
        conn.close()
