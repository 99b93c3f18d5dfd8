"""Reliability figures of issue 23, re-measured: the hostile set, bounded uploads, a soak run's server RSS,
and what disk full, read-only storage, a damaged and an empty database do.

Usage::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reliability.py \
        [--soak 300] [--ai] [--out benchmarks/results/reliability.md] [--skip-faults]

Everything runs against the real server: ``ecgpilot serve`` in a subprocess on a loopback port, a real
SQLite file, HTTP over a socket (``http.client``). Uploads are a GE MUSE XML of the shared data, made
distinct per upload (a trailing XML comment) so each one is a new study read and analysed; ``--ai`` keeps
the classifier on (default: off, the measurement rules only, as in the crash test).

Faults (``--skip-faults`` to leave them out) need root for the real ones: a 16 MB ``tmpfs`` mounted
on the data folder's ``files`` and database folder fills up for real (ENOSPC / SQLITE_FULL), and is
remounted read-only (EROFS) while the server runs, then for a restart. A damaged database is a copy
with one middle page overwritten; an empty database is a zero-byte file.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ecgpilot.paths import shared_data_dir  # noqa: E402

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
PASSWORD = "correct horse battery"
BOUNDARY = "benchreliability"


def _env(data_dir: Path, ai: bool) -> dict[str, str]:
    env = dict(os.environ, ECGPILOT_WEB_DATA=str(data_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               ECGPILOT_ADMIN_PASSWORD=PASSWORD)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ecgpilot serve`` in a subprocess on ``data_dir``."""

    def __init__(self, data_dir: Path, ai: bool) -> None:
        self.data_dir, self.ai, self.port = data_dir, ai, _port()
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> int | None:
        """Start it; returns None when it serves, else its exit code (a refusal to start)."""
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "ecgpilot.cli", "serve", "--port", str(self.port)],
                                         env=_env(self.data_dir, self.ai), stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.data_dir.parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return code
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return None
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def tree_rss_mb(self) -> float:
        """RSS of the server and every process under it (the reader workers of web.reader_pool)."""
        parent: dict[int, int] = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        tree, todo = set(), [self.proc.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += [c for c, pp in parent.items() if pp == pid and c not in tree]
        total = 0.0
        for pid in tree:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                pass
        return total

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def prepare(data_dir: Path, ai: bool) -> str:
    """An instance in ``data_dir``: created by the app itself, a GP with an API token, the AI switch as asked."""
    from ecgpilot import audit
    from ecgpilot.store import add_user, create_api_token
    from ecgpilot.web import Settings, create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="bench"))
    with app.state.sessions() as db:
        user = add_user(db, "gp@x.fr", PASSWORD, name="Dr Bench", role="gp", practice="Cabinet")
        db.flush()
        token = create_api_token(db, user, label="bench")
        db.commit()
    if not ai:
        audit.set_ai_enabled(app.state.engine, False, actor_id="bench", actor_role="admin", reason="bench without the model")
    audit.write_anchor(app.state.engine)
    app.state.engine.dispose()
    return token


def multipart(files: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def request(port: int, method: str, path: str, token: str | None, body: bytes | None = None,
            ctype: str = f"multipart/form-data; boundary={BOUNDARY}") -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": ctype} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data, time.perf_counter() - t0


def raw_oversize(port: int, token: str | None, announced: int | None, send: int) -> tuple[int, float, int]:
    """POST an upload announcing ``announced`` bytes (``None``: chunked) and stream ``send`` bytes of it
    until the server answers; (status, seconds to the answer, bytes sent before it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = ["POST /api/v1/studies HTTP/1.1", "Host: x", f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    head += [f"Content-Length: {announced}"] if announced is not None else ["Transfer-Encoding: chunked"]
    head += [f"Authorization: Bearer {token}"] if token else []
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.xml\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    s.sendall((b"%x\r\n" % len(part)) + part + b"\r\n" if announced is None else part)
    t0, sent = time.perf_counter(), 0
    chunk = b"x" * 65536
    framed = (b"%x\r\n" % len(chunk)) + chunk + b"\r\n" if announced is None else chunk
    import select

    answer = b""
    while sent < send:
        readable, _w, _x = select.select([s], [], [], 0)
        if readable:
            break   # the server answered (and stops reading)
        _r, writable, _x = select.select([], [s], [], 5)
        if not writable:
            break   # the server no longer reads the body
        try:
            s.sendall(framed)
            sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
    try:
        while b"\r\n" not in answer:
            got = s.recv(4096)
            if not got:
                break
            answer += got
    except (ConnectionResetError, TimeoutError, socket.timeout):
        pass
    took = time.perf_counter() - t0
    s.close()
    status = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/") else 0
    return status, took, sent


def variant(base: bytes, i: int) -> bytes:
    return base + f"\n<!-- bench upload {i} -->\n".encode()


# ------------------------------------------------------------------ parts ------------

def hostile(data: Path) -> list[dict]:
    """Each file of the hostile set read in a fresh child: outcome, seconds, peak RSS growth."""
    folder = data / "hostile"
    code = ("import resource, sys, time; from ecgpilot.io import read_ecg; from ecgpilot.errors import ECGPilotError\n"
            "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t = time.perf_counter()\n"
            "try:\n    read_ecg(sys.argv[1]); out = 'ACCEPTED'\n"
            "except ECGPilotError as e:\n    out = type(e).__name__\n"
            "except BaseException as e:\n    out = 'FOREIGN ' + type(e).__name__\n"
            "dt = time.perf_counter() - t; r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(out, round(dt, 3), round((r1 - r0) / 1024, 1))")
    rows = []
    for f in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in (".md", ".tsv")):
        res = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=120,
                             env=_env(Path(tempfile.gettempdir()), False))
        parts = (res.stdout.strip().splitlines() or ["CRASH 0 0"])[-1].rsplit(" ", 2)
        rows.append({"file": f.name, "outcome": parts[0], "s": float(parts[1]), "rss_mb": float(parts[2])})
    return rows


def uploads(work: Path, base: bytes, ai: bool, data: Path) -> dict:
    d = work / "uploads" / "data"
    token = prepare(d, ai)
    srv = Server(d, ai)
    assert srv.start() is None, srv.output()
    out: dict = {}
    try:
        rss0 = srv.rss_mb()
        out["anonymous_500MB"] = raw_oversize(srv.port, None, 500 * 1024 * 1024, 500 * 1024 * 1024)
        out["token_announced_500MB"] = raw_oversize(srv.port, token, 500 * 1024 * 1024, 500 * 1024 * 1024)
        out["token_chunked_500MB"] = raw_oversize(srv.port, token, None, 500 * 1024 * 1024)
        out["rss_growth_mb"] = round(srv.rss_mb() - rss0, 1)
        rss1 = srv.rss_mb()   # the case: 50 x 21 MB through the API (each just over the 20 MB limit)
        codes = [raw_oversize(srv.port, token, 21 * 1024 * 1024, 21 * 1024 * 1024)[0] for _ in range(50)]
        out["50x21MB"] = {"codes": sorted(set(codes)), "rss_growth_mb": round(srv.rss_mb() - rss1, 1)}
        big, rss = [], [(0, round(srv.rss_mb(), 1))]   # and 40 uploads of 19 MB (under the limit: read and analysed)
        for i in range(1, 41):
            big.append(request(srv.port, "POST", "/api/v1/studies", token, multipart(
                [(f"big{i}.xml", variant(base, 500 + i) + b"<!--" + b"y" * (19 * 1024 * 1024) + b"-->")]))[0])
            if i % 5 == 0:
                rss.append((i, round(srv.rss_mb(), 1)))
        out["40x19MB"] = {"codes": sorted(set(big)), "rss": rss}
        bad = (data / "hostile" / "dicom_AttributeError_CodeValue__cases-dicom-00155.dcm").read_bytes()
        status, body, _ = request(srv.port, "POST", "/api/v1/studies", token,
                                  multipart([("ok1.xml", variant(base, -1)), ("bad.dcm", bad), ("ok2.xml", variant(base, -2))]))
        out["batch_ok_bad_ok"] = (status, [s["status"] for s in json.loads(body)] if status == 201 else body[:200])
        status, _b, _ = request(srv.port, "POST", "/api/v1/studies", token,
                                multipart([(f"f{i}.txt", b"x%d" % i) for i in range(25)]))
        out["25_files"] = status
    finally:
        srv.stop()
    return out


def soak(work: Path, base: bytes, n: int, ai: bool) -> dict:
    d = work / "soak" / "data"
    token = prepare(d, ai)
    srv = Server(d, ai)
    assert srv.start() is None, srv.output()
    samples, lat = [], []
    try:
        request(srv.port, "POST", "/api/v1/studies", token, multipart([("warm.xml", variant(base, 10**6))]))
        samples.append((0, srv.rss_mb(), srv.tree_rss_mb()))
        t0 = time.perf_counter()
        for i in range(1, n + 1):
            status, _b, dt = request(srv.port, "POST", "/api/v1/studies", token, multipart([(f"s{i}.xml", variant(base, i))]))
            assert status == 201, (status, _b[:300])
            lat.append(dt)
            if i % 25 == 0:
                samples.append((i, srv.rss_mb(), srv.tree_rss_mb()))
        wall = time.perf_counter() - t0
        status, body, list_s = request(srv.port, "GET", "/api/v1/studies?limit=50", token)
        assert status == 200
    finally:
        srv.stop()
    half = [r for i, r, _t in samples if i >= n // 2]
    slope = (half[-1] - half[0]) / max(1, (n - n // 2)) * 100 if len(half) > 1 else float("nan")
    q = statistics.quantiles(lat, n=20)
    return {"n": n, "rate": n / wall, "p50": statistics.median(lat), "p95": q[18], "samples": samples,
            "slope_mb_per_100": slope, "list_page_s": list_s, "list_page_kb": len(body) / 1024}


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def faults(work: Path, base: bytes) -> dict:
    out: dict = {}
    if os.geteuid() != 0:
        out["note"] = "not root: tmpfs faults skipped"
        return out
    # --- disk full, for real: the whole data folder on a 16 MB tmpfs
    d = work / "full" / "data"
    d.mkdir(parents=True)
    _sh("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(d))
    try:
        token = prepare(d, False)
        srv = Server(d, False)
        assert srv.start() is None, srv.output()
        acknowledged, codes, first_refusal = 0, {}, None
        filler = random.Random(5).randbytes(600_000)   # incompressible padding: the disk fills in ~25 uploads
        for i in range(200):
            body = variant(base, i) + b"<!--" + filler.hex().encode()[:1_000_000] + b"-->"
            status, data, _ = request(srv.port, "POST", "/api/v1/studies", token, multipart([(f"f{i}.xml", body)]))
            codes[status] = codes.get(status, 0) + 1
            if status == 201:
                acknowledged += 1
            elif first_refusal is None:
                first_refusal = (status, json.loads(data).get("detail", "")[:120])
            if codes.get(507, 0) >= 3:
                break
        conn_status, conn_data, _ = request(srv.port, "GET", "/api/v1/studies?limit=500", token)
        listed = f"{conn_status}: {len(json.loads(conn_data))} studies" if conn_status == 200 else \
            f"{conn_status}: {json.loads(conn_data).get('detail', '')[:60]}"
        srv.stop()
        c = sqlite3.connect(d / "ecgpilot.db")
        stored = c.execute("SELECT COUNT(*) FROM study").fetchone()[0]
        c.close()
        check = subprocess.run([sys.executable, "-m", "ecgpilot.cli", "check", "--db", str(d / "ecgpilot.db")],
                               capture_output=True, text=True, env=_env(d, False))
        out["disk_full"] = {"codes": codes, "acknowledged": acknowledged, "stored": stored, "listed_while_full": listed,
                            "first_refusal": first_refusal,
                            "check_exit": check.returncode,
                            "check_lines": [ln for ln in check.stdout.splitlines() if "integrity" in ln or "free space" in ln
                                            or "chain" in ln]}
        # --- read-only storage (a tmpfs remounted read-only cannot keep writers open: the server is stopped
        # first; read-only *while running* is covered by tests/test_web_faults.py with SQLite's own refusal)
        shutil.copy(d / "ecgpilot.db", work / "healthy.db")
        shutil.copy(d / "audit_key", work / "healthy.key")
        _sh("mount", "-o", "remount,ro", str(d))
        srv = Server(d, False)
        code = srv.start()
        srv.stop()
        err = [ln for ln in srv.output().splitlines() if "error" in ln.lower()]
        fresh = Server(d / "new", False)   # an absent data folder under a read-only parent
        fresh.log = work / "fresh.log"
        code2 = fresh.start()
        fresh.stop()
        err2 = [ln for ln in fresh.output().splitlines() if "error" in ln.lower()]
        out["read_only"] = {"start_exit": code, "start_message": (err[-1] if err else srv.output()[-300:])[:240],
                            "absent_folder_under_ro_parent_exit": code2,
                            "absent_folder_message": (err2[-1] if err2 else fresh.output()[-300:])[:240]}
        _sh("mount", "-o", "remount,rw", str(d))
    finally:
        subprocess.run(["umount", str(d)], check=False)
    # --- damaged middle page, zero-byte database (copies in a normal folder)
    for case in ("damaged", "empty"):
        cd = work / case / "data"
        cd.mkdir(parents=True)
        db = cd / "ecgpilot.db"
        if case == "damaged":
            shutil.copy(work / "healthy.db", db)
            shutil.copy(work / "healthy.key", cd / "audit_key")
            c = sqlite3.connect(db)   # the b-tree pages in use (dbstat), the middle one of them overwritten
            used = [p for (p,) in c.execute("SELECT pageno FROM dbstat WHERE pagetype IN ('leaf', 'internal') "
                                             "AND ncell > 1 AND pageno > 1 ORDER BY pageno")]
            c.close()
            victim = used[len(used) // 2]
            with open(db, "r+b") as f:
                f.seek((victim - 1) * 4096 + 8)
                f.write(random.Random(23).randbytes(4000))
            out["damaged_page"] = f"page {victim} of {db.stat().st_size // 4096}"
        else:
            db.write_bytes(b"")
        srv = Server(cd, False)
        code = srv.start()
        srv.stop()
        err = [ln for ln in srv.output().splitlines() if "error" in ln.lower()]
        check = subprocess.run([sys.executable, "-m", "ecgpilot.cli", "check", "--db", str(db)],
                               capture_output=True, text=True, env=_env(cd, False))
        out[case] = {"start_exit": code, "start_message": (err[-1] if err else srv.output()[-300:])[:220],
                     "size_after": db.stat().st_size, "check_exit": check.returncode,
                     "check_first": check.stdout.splitlines()[:2]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soak", type=int, default=300)
    ap.add_argument("--ai", action="store_true", help="keep the classifier on during the upload runs")
    ap.add_argument("--skip-faults", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability.md"))
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        print("shared data not found", file=sys.stderr)
        return 2
    base = data.joinpath(*MUSE).read_bytes()
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    report = {"host": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "ai": args.ai}
    report["hostile"] = hostile(data)
    print(json.dumps(report["hostile"], indent=1), flush=True)
    report["uploads"] = uploads(work, base, args.ai, data)
    print(json.dumps(report["uploads"], indent=1), flush=True)
    report["soak"] = soak(work, base, args.soak, args.ai)
    print(json.dumps(report["soak"], indent=1), flush=True)
    if not args.skip_faults:
        report["faults"] = faults(work, base)
        print(json.dumps(report["faults"], indent=1, ensure_ascii=False), flush=True)
    write(report, Path(args.out))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def write(r: dict, out: Path) -> None:
    L = [f"# Reliability (issue 23), {time.strftime('%Y-%m-%d')}", "",
         f"Host: {r['host']}; uploads with the AI {'on' if r['ai'] else 'off (measurement rules only)'}.",
         "Command: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/bench_reliability.py"
         f"{' --ai' if r['ai'] else ''} --soak {r['soak']['n']}`", "", "## Hostile set (`../shared/data/hostile`)", "",
         "| file | outcome | s | peak RSS growth MB |", "|---|---|---:|---:|"]
    L += [f"| {h['file']} | {h['outcome']} | {h['s']:.3f} | {h['rss_mb']:.1f} |" for h in r["hostile"]]
    u = r["uploads"]
    L += ["", "## Uploads (server on loopback)", "", "| case | answer | seconds to answer | bytes sent by then |", "|---|---:|---:|---:|"]
    for k in ("anonymous_500MB", "token_announced_500MB", "token_chunked_500MB"):
        st, s, sent = u[k]
        L.append(f"| {k} | {st} | {s:.3f} | {sent:,} |")
    L += ["", f"Server RSS growth over the three: {u['rss_growth_mb']} MB. 50 uploads of 21 MB (over the limit): "
          f"{u['50x21MB']['codes']}, RSS growth {u['50x21MB']['rss_growth_mb']} MB. 40 uploads of 19 MB (under it, "
          f"{u['40x19MB']['codes']}), server RSS MB after N: "
          f"{', '.join(f'{n}: {m}' for n, m in u['40x19MB']['rss'])}. Batch [ok, hostile DICOM, ok]: "
          f"{u['batch_ok_bad_ok']}. 25 files in one request: {u['25_files']}.", ""]
    s = r["soak"]
    L += ["## Soak", "", f"{s['n']} uploads one after another: {s['rate']:.2f} analyses/s, p50 {s['p50']*1000:.0f} ms, "
          f"p95 {s['p95']*1000:.0f} ms; a worklist page (50) then: {s['list_page_s']*1000:.0f} ms, {s['list_page_kb']:.0f} KB.",
          "", "| uploads | server RSS MB | with its reader workers MB |", "|---:|---:|---:|"]
    L += [f"| {i} | {m:.1f} | {t:.1f} |" for i, m, t in s["samples"]]
    L += ["", f"Second half slope: {s['slope_mb_per_100']:+.2f} MB per 100 uploads.", ""]
    if "faults" in r:
        L += ["## Faults", "", "```", json.dumps(r["faults"], indent=1, ensure_ascii=False), "```", ""]
    out.write_text("\n".join(L) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    sys.exit(main())
