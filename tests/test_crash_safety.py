"""Stored studies survive a crash mid-write: nothing acknowledged is lost, nothing is half-written.

Two kinds of crash:

* the real server (``ecgpilot serve`` in a subprocess) is SIGKILLed while several client threads
  upload real ECG files through the REST API, a few rounds on the same data folder, restarted
  after each kill;
* deterministic kills inside :func:`ecgpilot.web.services.upload.ingest`, in a child process: right after
  the files are moved into place, and right before the database commit.

After each crash the SQLite file and the data folder are checked directly (:func:`check_store`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import data_file

from ecgpilot import audit
from ecgpilot.store import add_user, create_api_token, migrate, open_database
from ecgpilot.store import files as filestore

PASSWORD = "correct horse battery"
MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
SAMPLES = (  # single-file studies of other formats (the same bytes come back every round)
    MUSE,
    ("format-samples", "scp-ecg", "healforce-pc80b", "63.SCP"),  # stored as "unreadable"
    ("format-samples", "ge-muse-xml", "braveheart", "example1.xml"),
    ("format-samples", "hl7-aecg", "fda-aecg-python", "subject1_0.xml"),
    ("format-samples", "philips-sierra-xml", "1_03", "129DYPRG.XML"),
    ("format-samples", "ecgtoolkit-examples", "Example.scp"),
)
KILL_DELAYS_S = (0.6, 1.0, 1.5)  # the first one must leave time for one acknowledged upload
THREADS = 4


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, ECGPILOT_WEB_DATA=str(data_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def _engine(data_dir: Path):  # noqa: ANN202
    engine, sessions = open_database(f"sqlite:///{data_dir / 'ecgpilot.db'}")
    return engine, sessions


def prepare(data_dir: Path) -> str:
    """Schema, a gp account with an API token, AI switched off (uploads without the model are fast)."""
    engine, sessions = _engine(data_dir)
    migrate(engine)
    audit.open_audit(engine)
    with sessions() as db:
        user = add_user(db, "gp@x.fr", PASSWORD, name="Dr Crash", role="gp", practice="Cabinet")
        db.flush()
        token = create_api_token(db, user, label="crash test")
        db.commit()
    audit.set_ai_enabled(engine, False, actor_id="test", actor_role="admin", reason="crash test without the model")
    engine.dispose()
    return token


# ------------------------------------------------------------------ invariants ------

@dataclass
class StoreReport:
    studies: int = 0
    unreadable: int = 0
    orphan_folders: int = 0
    staging_leftovers: int = 0
    audit_entries: int = 0
    sha_of: dict[int, str] = field(default_factory=dict)


def check_store(data_dir: Path, acked: dict[int, str] | None = None) -> StoreReport:
    """The invariants, read straight from the SQLite file and the data folder.

    ``acked``: study id -> sha256 of every upload the client got a 201 for.
    """
    from ecgpilot.io import read_ecg

    rep = StoreReport()
    con = sqlite3.connect(data_dir / "ecgpilot.db")  # rolls back a hot journal left by the crash
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = con.execute("SELECT id, file_sha256, file_name, file_names, status FROM study ORDER BY id").fetchall()
        uploads = dict(con.execute("SELECT study_id, COUNT(*) FROM study_event WHERE action = 'upload' "
                                   "GROUP BY study_id").fetchall())
    finally:
        con.close()
    files_root = data_dir / "files"
    for sid, sha, main, names_json, status in rows:
        names = json.loads(names_json) if isinstance(names_json, str) else names_json
        folder = files_root / sha
        assert main in names, f"study {sid}: main file {main!r} not among {names}"
        assert folder.is_dir(), f"study {sid}: folder {folder} is missing"
        content = []
        for n in names:
            p = folder / n
            assert p.is_file(), f"study {sid}: stored file {p} is missing"
            content.append((n, p.read_bytes()))
        assert filestore.fileset_sha256(content, main) == sha, f"study {sid}: stored files do not hash to {sha}"
        if status == "unreadable":
            rep.unreadable += 1
        else:
            read_ecg(folder / main)  # raises if half-written
        rep.sha_of[sid] = sha
    rep.studies = len(rows)
    assert uploads == {sid: 1 for sid in rep.sha_of}, "exactly one 'upload' event per study"
    for sid, sha in (acked or {}).items():
        assert rep.sha_of.get(sid) == sha, f"acknowledged study {sid} ({sha[:12]}) is lost or changed"
    engine, _ = _engine(data_dir)
    try:
        result = audit.verify(engine)
        assert result.ok, str(result)
        rep.audit_entries = result.checked
        analysis = audit.entries(engine, action="analysis")
    finally:
        engine.dispose()
    assert sorted(e["target"] for e in analysis) == sorted(f"study:{sid}" for sid in rep.sha_of), \
        "exactly one 'analysis' audit entry per study"
    assert all(e["input_sha256"] == rep.sha_of[int(e["target"].split(":")[1])] for e in analysis)
    referenced = set(rep.sha_of.values())
    # files/documents/ holds the signed PDFs/CDA/FHIR, not an upload
    stored = {p.name for p in files_root.iterdir() if p.name != "documents"} if files_root.is_dir() else set()
    rep.orphan_folders = len(stored - referenced)
    tmp_root = data_dir / "tmp"
    rep.staging_leftovers = len(list(tmp_root.iterdir())) if tmp_root.is_dir() else 0
    return rep


# ------------------------------------------------------------------ the server ------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ecgpilot serve`` on a data folder, in its own process."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log = data_dir, log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, token: str, timeout_s: float = 45.0) -> None:
        import httpx

        self.port = _free_port()
        with self.log.open("a") as log:
            log.write(f"\n--- start on port {self.port}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from ecgpilot.cli import main; sys.exit(main())",
                 "serve", "--port", str(self.port)],
                env=_env(self.data_dir), stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode} on start:\n{self.log.read_text()[-3000:]}")
            try:
                r = httpx.get(f"{self.url}/api/v1/studies", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            assert r.status_code == 200, r.text
            return
        self.kill()
        pytest.fail(f"server did not answer within {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _payloads(round_no: int, per_round: int = 60) -> list[list[tuple[str, bytes]]]:
    """Fresh LUDB records (hea + dat: one two-file study each) interleaved with the format samples."""
    samples = [[(p[-1], data_file(*p).read_bytes())] for p in SAMPLES]
    out = []
    first = 1 + round_no * per_round
    for i, n in enumerate(range(first, first + per_round)):
        hea, dat = data_file("ludb", "data", f"{n}.hea"), data_file("ludb", "data", f"{n}.dat")
        out.append([(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes())])
        if i % 2 == 1:
            out.append(samples[(i // 2) % len(samples)])
    return out


def _warm_up(server: Server, token: str, group: list[tuple[str, bytes]]) -> dict[int, str]:
    import httpx

    r = httpx.post(f"{server.url}/api/v1/studies", files=[("files", (n, c)) for n, c in group],
                   headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert r.status_code == 201, r.text
    return {s["id"]: s["file"]["sha256"] for s in r.json()}


def _upload_until_killed(server: Server, token: str, payloads, kill_after_s: float) -> tuple[dict[int, str], int, int]:  # noqa: ANN001
    """Upload from :data:`THREADS` threads, SIGKILL the server ``kill_after_s`` after the first
    upload started; returns (acknowledged id -> sha, requests sent, requests that failed)."""
    import httpx

    lock = threading.Lock()
    started = threading.Event()
    todo = list(reversed(payloads))
    acked: dict[int, str] = {}
    counts = {"sent": 0, "failed": 0}
    unexpected: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    group = todo.pop()
                    counts["sent"] += 1
                started.set()
                try:
                    r = client.post("/api/v1/studies", files=[("files", (n, c)) for n, c in group])
                except httpx.TransportError:  # the server is gone: this upload was not acknowledged
                    with lock:
                        counts["failed"] += 1
                    return
                with lock:
                    if r.status_code != 201:
                        unexpected.append(f"{r.status_code}: {r.text[:300]}")
                        continue
                    for study in r.json():
                        acked[study["id"]] = study["file"]["sha256"]

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    assert started.wait(10)
    time.sleep(kill_after_s)
    server.kill()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert unexpected == [], "uploads refused while the server was up"
    return acked, counts["sent"], counts["failed"]


@pytest.mark.slow
def test_server_killed_during_uploads_loses_nothing_acknowledged(tmp_path) -> None:  # noqa: ANN001
    rounds = [_payloads(r) for r in range(len(KILL_DELAYS_S))]  # skips here when the data is absent
    data_dir = tmp_path / "data"
    token = prepare(data_dir)
    server = Server(data_dir, tmp_path / "server.log")
    acked_all: dict[int, str] = {}
    summary = []
    try:
        for delay, payloads in zip(KILL_DELAYS_S, rounds, strict=True):
            server.start(token)  # after a kill: migrations run, no lock left behind
            acked_all.update(_warm_up(server, token, payloads.pop(0)))  # the first upload imports the readers
            acked, sent, failed = _upload_until_killed(server, token, payloads, delay)
            assert server.proc.returncode == -signal.SIGKILL
            acked_all.update(acked)
            rep = check_store(data_dir, acked_all)
            summary.append(f"kill after {delay}s: {sent} sent, {len(acked)} acknowledged, {failed} cut; "
                           f"{rep.studies} studies ({rep.unreadable} unreadable), {rep.orphan_folders} orphan "
                           f"folders, {rep.staging_leftovers} staging leftovers, audit {rep.audit_entries} entries ok")
            assert len(acked) >= 1, "no upload was acknowledged before the kill; raise the delay"
            assert rep.studies >= len(acked_all)
            # an upload cut after its commit may be stored without its 201: at most one per thread
            assert rep.studies - len(acked_all) <= THREADS * len(summary)

        # a last clean start: everything acknowledged is listed by the API
        server.start(token)
        import httpx

        listed = httpx.get(f"{server.url}/api/v1/studies", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listed.status_code == 200
        by_id = {s["id"]: s["file"]["sha256"] for s in listed.json()}
        assert all(by_id.get(sid) == sha for sid, sha in acked_all.items())

        # crash leftovers under tmp/ are swept by a later upload once stale
        tmp_root = data_dir / "tmp"
        leftovers = list(tmp_root.iterdir()) if tmp_root.is_dir() else []
        stale = tmp_root / "stale-leftover"
        stale.mkdir(parents=True, exist_ok=True)
        (stale / "half.dat").write_bytes(b"\0" * 10)
        old = time.time() - filestore.STALE_STAGING_S - 60
        for p in [*leftovers, stale]:
            os.utime(p, (old, old))
        muse = data_file(*MUSE)
        r = httpx.post(f"{server.url}/api/v1/studies", files=[("files", (muse.name, muse.read_bytes()))],
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 201
        acked_all[r.json()[0]["id"]] = r.json()[0]["file"]["sha256"]
        server.stop()
        final = check_store(data_dir, acked_all)
        assert final.staging_leftovers == 0, list(tmp_root.iterdir())
        summary.append(f"final: {len(acked_all)} acknowledged, {final.studies} studies, "
                       f"{final.orphan_folders} orphan folders, {len(leftovers)} stale leftovers swept")
    finally:
        server.kill()
        print("\n" + "\n".join(summary))


# ------------------------------------------------------------------ deterministic kills

KILL_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    from sqlalchemy import select
    from ecgpilot import audit
    from ecgpilot.store import open_database
    from ecgpilot.store import files as filestore
    from ecgpilot.store.models import User
    from ecgpilot.web.services import upload as services

    data_dir, where, files = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    group = [(Path(f).name if "=" not in f else f.split("=", 1)[0],
              Path(f if "=" not in f else f.split("=", 1)[1]).read_bytes()) for f in files]
    engine, sessions = open_database(f"sqlite:///{data_dir / 'ecgpilot.db'}")
    audit.open_audit(engine)

    def die(what):
        print("KILLED", what, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    with sessions() as db:
        user = db.scalar(select(User).where(User.email == "gp@x.fr"))
        if where == "after_files":
            real = filestore.commit_files
            def commit_files(*a, **kw):
                out = real(*a, **kw)
                die(out)
            filestore.commit_files = commit_files
        else:  # the rows are flushed and the audit entry appended, inside the open transaction
            db.commit = lambda: (db.flush(), die("before commit"))
        services.ingest(db, data_dir, user, group, use_ai=False)
    print("NOT KILLED", flush=True)
''')


def _ingest_killed(data_dir: Path, where: str, files: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(data_dir), where, *files], env=_env(data_dir),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert "KILLED" in proc.stdout
    return proc


def _ingest(data_dir: Path, group: list[tuple[str, bytes]]):  # noqa: ANN202
    from sqlalchemy import select

    from ecgpilot.store.models import User
    from ecgpilot.web.services import upload as services

    engine, sessions = _engine(data_dir)
    try:
        with sessions() as db:
            user = db.scalar(select(User).where(User.email == "gp@x.fr"))
            study = services.ingest(db, data_dir, user, group, use_ai=False)
            return study.id, study.file_sha256, study.status
    finally:
        engine.dispose()


@pytest.mark.parametrize("where", ["after_files", "before_db_commit"])
def test_kill_between_files_and_db_commit(tmp_path, where: str) -> None:  # noqa: ANN001
    hea, dat = data_file("ludb", "data", "7.hea"), data_file("ludb", "data", "7.dat")
    group = [(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes())]
    sha = filestore.fileset_sha256(group, hea.name)
    data_dir = tmp_path / "data"
    prepare(data_dir)

    _ingest_killed(data_dir, where, [str(hea), str(dat)])
    rep = check_store(data_dir)
    assert rep.studies == 0 and rep.sha_of == {}
    orphan = data_dir / "files" / sha
    assert orphan.is_dir() and rep.orphan_folders == 1  # left in place, referenced by no study

    sid, got_sha, status = _ingest(data_dir, group)  # the client's retry
    assert got_sha == sha and status == "to_read"
    rep = check_store(data_dir, {sid: sha})
    assert rep.studies == 1 and rep.orphan_folders == 0 and rep.staging_leftovers == 0
    assert sorted(p.name for p in orphan.iterdir()) == ["7.dat", "7.hea"]


def test_reupload_after_crash_under_another_name(tmp_path) -> None:  # noqa: ANN001
    """The folder a crash left holds the bytes under the first name; a retry under another name
    must still give a study whose file exists."""
    muse = data_file(*MUSE)
    data_dir = tmp_path / "data"
    prepare(data_dir)
    _ingest_killed(data_dir, "after_files", [f"first.xml={muse}"])
    assert check_store(data_dir).orphan_folders == 1

    sid, sha, status = _ingest(data_dir, [("second.xml", muse.read_bytes())])
    assert status == "to_read"
    rep = check_store(data_dir, {sid: sha})  # second.xml exists in the folder and reads
    assert rep.studies == 1 and rep.orphan_folders == 0
    assert sorted(p.name for p in (data_dir / "files" / sha).iterdir()) == ["first.xml", "second.xml"]


def test_interrupted_folder_removal_is_repaired_by_the_next_upload(tmp_path) -> None:  # noqa: ANN001
    """A kill during :func:`filestore.discard` (after a failed database write) can leave the
    content folder half-removed; the next upload of the same content must complete it."""
    hea, dat = data_file("ludb", "data", "8.hea"), data_file("ludb", "data", "8.dat")
    group = [(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes())]
    data_dir = tmp_path / "data"
    prepare(data_dir)
    sha = filestore.fileset_sha256(group, hea.name)
    folder, created = filestore.commit_files(data_dir, filestore.stage_files(data_dir, group), sha)
    assert created
    (folder / "8.dat").unlink()  # what an interrupted rmtree leaves
    sid, got, status = _ingest(data_dir, group)
    assert got == sha and status == "to_read"
    check_store(data_dir, {sid: sha})
