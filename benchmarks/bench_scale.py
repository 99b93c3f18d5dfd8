"""Serving scale-out: 1, 2 and 4 app worker processes on one PostgreSQL database and one data folder.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py [--workers 1,2,4] [--duration 60]
        [--warmup 15] [--users 8] [--read-timeout 0] [--keep-alive] [--out FILE.md] [--json FILE.json]

Needs the PostgreSQL server binaries (``initdb``, ``pg_ctl``), the ``[postgres]`` extra and locust
(``pip install locust``). For each worker count it:

1. creates an empty database on a throw-away PostgreSQL 15 server (started here on loopback, as in
   ``tests/test_postgres.py``; default settings, so ``fsync`` and synchronous commit are on) and an
   empty data folder, and starts ``uvicorn --workers N --factory`` (``_scale_app.create``) on them: the
   N processes start at once on the fresh instance (schema, keys, audit head), as several workers or
   containers would;
2. adds GP accounts (one practice each) with an API token, straight in the database;
3. runs locust headless (``locust_scale.py``): ``--users`` GPs looping without pause over upload →
   study JSON → study page → worklist with real 12-lead files (format samples and LUDB), each request on
   a new connection so that the kernel spreads them over the workers (``--keep-alive``: one connection
   per GP, pinned to one worker); first a warm-up (model loading, not counted, other accounts), then
   ``--duration`` seconds measured;
4. samples the RSS of each worker with its child processes (e.g. the upload reader pool) every second
   and the CPU time of each worker (children included), PostgreSQL, locust and the whole machine;
5. after the workers stopped, runs ``ecgpilot audit verify``'s checks (chain, seals, exported head)
   on the trail the N processes wrote together.

Analyses/s = new studies made (upload 201, not a duplicate) per second of the measured run. The load
generator runs on the same cores as the workers: its CPU is reported, not hidden.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))
from _net import free_port, pg_bin  # noqa: E402  (the loopback helpers the PostgreSQL tests use)

SAMPLES = [  # 12-lead resting ECGs of the shared format samples (one file each)
    "ge-muse-xml/perottelab-introecg/MUSE_20200923_093504_79000_example.xml",
    "ge-muse-xml/braveheart/example1.xml", "ge-muse-xml/braveheart/example2.xml",
    "ge-muse-xml/braveheart/example3.xml", "ge-muse-xml/braveheart/example4.xml",
    "philips-sierra-xml/1_04/3191723_ZZDEMOPTONLY_1-04_orig.xml", "philips-sierra-xml/1_04_01/2020-5-18_15-48-11.xml",
    "philips-sierra-xml/1_03/129DYPRG.XML", "dicom/waveform_ecg.dcm", "ecgtoolkit-examples/Example.dcm",
    "ecgtoolkit-examples/Example.scp", "hl7-aecg/liryc-hl7v3-aecg/hl7aecg_example.xml",
]




class Postgres:
    """A throw-away PostgreSQL server on loopback (run as the ``postgres`` account when we are root)."""

    def __init__(self, base: Path) -> None:
        self.initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
        self.base, self.data, self.port = base, base / "pgdata", free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:   # PostgreSQL refuses to run as root
            shutil.chown(base, user="postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def start(self) -> None:
        subprocess.run(self.run_as + [self.initdb, "-D", str(self.data), "-A", "trust", "-U", "ecg", "--no-sync"],
                       check=True, capture_output=True)
        subprocess.run(self.run_as + [self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "pg.log"), "-w", "-o",
                                      f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200",
                                      "start"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(self.run_as + [self.pg_ctl, "-D", str(self.data), "-m", "fast", "stop"], capture_output=True)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://ecg@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://ecg@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


def file_groups(data: Path, ludb_records: int) -> list[list[str]]:
    groups = [[str(data / "format-samples" / s)] for s in SAMPLES if (data / "format-samples" / s).is_file()]
    ludb = data / "ludb" / "data"
    for i in range(1, ludb_records + 1):
        hea, dat = ludb / f"{i}.hea", ludb / f"{i}.dat"
        if hea.is_file() and dat.is_file():
            groups.append([str(hea), str(dat)])
    return groups


def add_accounts(url: str, prefix: str, n: int) -> list[dict[str, str]]:
    """``n`` GP accounts, one practice each, with an API token (written straight in the database)."""
    from ecgpilot.store import add_user, create_api_token, open_database

    engine, sessions = open_database(url)
    out = []
    try:
        with sessions() as db:
            for i in range(n):
                email, pw = f"{prefix}{i}@bench.local", "correct horse battery staple"
                user = add_user(db, email, pw, name=f"Dr {prefix.upper()} {i}", role="gp", practice=f"Cabinet {prefix} {i}")
                db.flush()
                out.append({"email": email, "password": pw, "token": create_api_token(db, user, "bench")})
            db.commit()
    finally:
        engine.dispose()
    return out


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    import httpx

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited (code {proc.returncode}) before answering")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def _workers(server_pid: int, n: int) -> list:  # noqa: ANN401 - psutil processes
    """The processes serving requests: uvicorn's worker processes (spawned children of its supervisor),
    or with one worker the uvicorn process itself (its own children, e.g. a process pool, are not workers)."""
    import psutil

    parent = psutil.Process(server_pid)
    if n == 1:
        return [parent]
    return [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]


def _cpu_by_pid(procs: list) -> dict[int, float]:  # noqa: ANN401
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except Exception:  # noqa: BLE001 - a process that ended
            pass
    return out


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots (processes started in between counted from zero)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def _tree(pid: int) -> list:  # noqa: ANN401
    import psutil

    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _tree_rss(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            total += p.memory_info().rss
        except Exception:  # noqa: BLE001 - a process that ended
            pass
    return total


def _system_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (all processes, all cores) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _locust(env: dict[str, str], host: str, users: int, seconds: int, csv_prefix: Path) -> subprocess.Popen:
    cmd = [str(VENV_BIN / "locust"), "-f", str(HERE / "locust_scale.py"), "--headless", "--host", host,
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(csv_prefix), "--only-summary",
           "--loglevel", "WARNING", "--stop-timeout", "0"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stats(csv_prefix: Path) -> dict[str, dict[str, float]]:
    out = {}
    with open(f"{csv_prefix}_stats.csv") as f:
        for row in csv.DictReader(f):
            out[row["Name"]] = {"n": int(row["Request Count"]), "fail": int(row["Failure Count"]),
                                "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0), "p99": float(row["99%"] or 0),
                                "mean": float(row["Average Response Time"] or 0)}
    return out


def _failures(csv_prefix: Path) -> list[str]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path) as f:
        return [f"{r['Method']} {r['Name']}: {r['Error']} ×{r['Occurrences']}" for r in csv.DictReader(f)]


def run_one(pg: Postgres, base: Path, n_workers: int, groups: list[list[str]], args: argparse.Namespace) -> dict:
    tag = f"w{n_workers}"
    url = pg.create_database(f"scale_{tag}")
    data_dir = base / f"data_{tag}"
    data_dir.mkdir()
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", ORT_DISABLE_TELEMETRY="1", ECGPILOT_WEB_DATA=str(data_dir),
               ECGPILOT_DATABASE_URL=url)
    for k in ("ECGPILOT_SMTP_HOST", "ECGPILOT_OIDC_ISSUER", "ECGPILOT_AUDIT_KEY", "ECGPILOT_AUDIT_KEY_FILE",
              "ECGPILOT_BENCH_READ_TIMEOUT_S"):
        env.pop(k, None)
    if args.read_timeout is not None:
        env["ECGPILOT_BENCH_READ_TIMEOUT_S"] = str(args.read_timeout)
    log_path = base / f"server_{tag}.log"
    log = open(log_path, "w")
    t0 = time.monotonic()
    server = subprocess.Popen([str(VENV_BIN / "uvicorn"), "--app-dir", str(HERE), "--factory", "_scale_app:create",
                               "--workers", str(n_workers), "--host", "127.0.0.1", "--port", str(port),
                               "--no-access-log", "--log-level", "info"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    host = f"http://127.0.0.1:{port}"
    result: dict = {"workers": n_workers}
    try:
        _wait_http(f"{host}/login", 120, server)
        deadline = time.monotonic() + 60
        while log_path.read_text().count("Application startup complete") < n_workers and time.monotonic() < deadline:
            time.sleep(0.3)
        result["started"] = log_path.read_text().count("Application startup complete")
        result["start_s"] = time.monotonic() - t0
        warm_acc = add_accounts(url, f"warm{tag}", args.users)
        acc = add_accounts(url, f"gp{tag}", args.users)
        lenv = dict(env, ECGPILOT_BENCH_FILES=json.dumps(groups), ECGPILOT_BENCH_CLOSE="0" if args.keep_alive else "1")
        if args.warmup > 0:
            w = _locust(dict(lenv, ECGPILOT_BENCH_ACCOUNTS=json.dumps(warm_acc)), host, args.users, args.warmup,
                        base / f"warm_{tag}")
            w.communicate(timeout=args.warmup + 120)
        import resource

        workers = _workers(server.pid, n_workers)
        rss_peak = {p.pid: 0 for p in workers}

        def worker_trees() -> list:  # noqa: ANN401 - each worker with its children (e.g. reader processes)
            return [q for p in workers for q in _tree(p.pid)]

        cpu0 = (_cpu_by_pid(worker_trees()), _cpu_by_pid(_tree(pg.pid())), _system_cpu_s())
        per0 = [_cpu_by_pid(_tree(p.pid)) for p in workers]
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        load0 = os.getloadavg()
        loc = _locust(dict(lenv, ECGPILOT_BENCH_ACCOUNTS=json.dumps(acc)), host, args.users, args.duration,
                      base / f"run_{tag}")
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                for p in workers:   # the worker and its child processes together
                    rss_peak[p.pid] = max(rss_peak[p.pid], _tree_rss(p.pid))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t_start = time.monotonic()
        out, _ = loc.communicate(timeout=args.duration + 120)
        wall = time.monotonic() - t_start
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)   # locust, reaped: its own CPU time
        loc_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        stop.set()
        th.join()
        cpu1 = (_cpu_by_pid(worker_trees()), _cpu_by_pid(_tree(pg.pid())), _system_cpu_s())
        result["cpu_per_worker_s"] = [round(_cpu_delta(a, _cpu_by_pid(_tree(p.pid))), 1) for a, p in zip(per0, workers)]
        stats = _stats(base / f"run_{tag}")
        up = stats.get("upload (analysis)", {"n": 0, "fail": 0, "p50": 0, "p95": 0, "p99": 0, "mean": 0})
        ok = up["n"] - up["fail"]
        reads = {k: v for k, v in stats.items() if k.startswith("read:")}
        rss_end = [_tree_rss(p.pid) for p in workers]
        result["worker_children"] = [len(_tree(p.pid)) - 1 for p in workers]
        server_log = log_path.read_text()
        result.update(
            duration_s=args.duration, wall_s=wall, users=args.users, analyses=ok, analyses_per_s=ok / args.duration,
            upload=up, reads=reads, all=stats.get("Aggregated", {}),
            errors=sum(v["fail"] for k, v in stats.items() if k != "Aggregated"), failures=_failures(base / f"run_{tag}"),
            rss_peak_mb=[round(v / 2**20) for v in rss_peak.values()], rss_end_mb=[round(v / 2**20) for v in rss_end],
            cpu_workers_s=_cpu_delta(cpu0[0], cpu1[0]), cpu_postgres_s=_cpu_delta(cpu0[1], cpu1[1]), cpu_locust_s=loc_cpu,
            cpu_machine_s=cpu1[2] - cpu0[2], loadavg_before=load0[0], loadavg_after=os.getloadavg()[0],
            server_tracebacks=server_log.count("Traceback"),
            server_errors=sorted({ln.strip()[:200] for ln in server_log.splitlines()
                                  if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", ln.strip())})[:5],
            anchor_errors=server_log.count("audit head could not be exported"),
            locust_tail=out.strip().splitlines()[-3:] if out else [],
        )
        result["cpu_others_s"] = result["cpu_machine_s"] - result["cpu_workers_s"] - result["cpu_postgres_s"] - loc_cpu
        result["cpu_ms_per_analysis"] = 1000 * (result["cpu_workers_s"] + result["cpu_postgres_s"]) / max(ok, 1)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait()
        try:   # anything the workers left behind (e.g. a process pool's server)
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()
    result.update(check_instance(url, data_dir))
    return result


def check_instance(url: str, data_dir: Path) -> dict:
    """After the workers stopped: the audit trail as ``ecgpilot audit verify`` checks it (chain, seals,
    the exported head, signed documents), written by several processes at once, and the studies made."""
    from sqlalchemy import func, select

    from ecgpilot import audit
    from ecgpilot.store import open_database
    from ecgpilot.store.models import Study

    engine, sessions = open_database(url)
    try:
        ok, lines = audit.verify_instance(engine, data_dir=data_dir)
        with sessions() as db:
            studies = db.scalar(select(func.count()).select_from(Study))
        return {"audit_ok": ok, "audit": lines, "studies_in_db": studies, "audit_entries": audit.count(engine)}
    finally:
        engine.dispose()


def app_version() -> str:
    """The checkout measured (``git describe --dirty``) and whether uploads are read in child processes."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    return rev


def _ms(x: float) -> str:
    return f"{x:.0f}"


def report(results: list[dict], args: argparse.Namespace, groups: int, started: str) -> str:
    from ecgpilot.web.settings import Settings

    pool = args.read_timeout if args.read_timeout is not None else getattr(Settings(), "read_timeout_s", 0)
    reading = "uploads read in a reader process pool per worker" if pool else "uploads read in the worker's threads"
    lines = [f"# Serving scale-out (bench_scale.py), {started}, app {app_version()}, {reading}", "",
             f"Machine: {os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, "
             f"PostgreSQL on loopback (fsync on), one shared data folder. {args.users} GPs looping without pause, "
             f"{'one kept-alive connection each' if args.keep_alive else 'a new connection per request'} "
             f"(upload → study JSON → study page → worklist), {groups} different 12-lead files; warm-up "
             f"{args.warmup} s not counted, then {args.duration} s measured. Latencies in ms (locust).", "",
             "| workers | started | analyses/s | analyses (errors) | upload p50 / p95 | study JSON p50 / p95 | "
             "study page p50 / p95 | worklist p50 / p95 | RSS per worker with its children, peak (MB) | CPU s: workers (each) / PostgreSQL / "
             "locust / other processes | CPU ms per analysis cycle | load avg before → after |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rd = r["reads"]

        def pp(name: str, rd: dict = rd) -> str:
            v = rd.get(name)
            return f"{_ms(v['p50'])} / {_ms(v['p95'])}" if v else "–"

        lines.append(
            f"| {r['workers']} | {r['started']}/{r['workers']} | **{r['analyses_per_s']:.1f}** | {r['analyses']} ({r['errors']}) | "
            f"{_ms(r['upload']['p50'])} / {_ms(r['upload']['p95'])} | {pp('read: GET /api/v1/studies/{id}')} | "
            f"{pp('read: GET /studies/{id} (page)')} | {pp('read: GET /api/v1/studies (worklist)')} | "
            f"{', '.join(map(str, r['rss_peak_mb']))} | {r['cpu_workers_s']:.0f} ({' + '.join(f'{c:.0f}' for c in r.get('cpu_per_worker_s', []))}) / {r['cpu_postgres_s']:.0f} / "
            f"{r['cpu_locust_s']:.0f} / {r['cpu_others_s']:.0f} | {r['cpu_ms_per_analysis']:.0f} | "
            f"{r['loadavg_before']:.1f} → {r['loadavg_after']:.1f} |")
    lines.append("")
    for r in results:
        audit_lines = r.get("audit", [])
        said = audit_lines[0] if r.get("audit_ok") and audit_lines else "; ".join(audit_lines)
        head = " (seals and the exported head checked)" if any("saved head" in x for x in audit_lines) else ""
        lines.append(f"- {r['workers']} worker(s): started {r['started']}/{r['workers']} on the empty instance in "
                     f"{r.get('start_s', 0):.1f} s; `audit verify` {'OK' if r.get('audit_ok') else 'FAILED'}: {said}{head}; "
                     f"{r.get('studies_in_db')} studies in the database (warm-up included)")
        if r["failures"] or r["server_tracebacks"] or r["anchor_errors"]:
            lines.append(f"- {r['workers']} workers: failures {r['failures'] or 'none'}; server tracebacks "
                         f"{r['server_tracebacks']} ({'; '.join(r.get('server_errors', [])) or 'see the log'}), "
                         f"audit-head export errors {r['anchor_errors']}")
    lines += ["", "```", f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py --workers "
              f"{','.join(str(r['workers']) for r in results)} --duration {args.duration} --warmup {args.warmup} "
              f"--users {args.users}" + (f" --read-timeout {args.read_timeout:g}" if args.read_timeout is not None else "")
              + (" --keep-alive" if args.keep_alive else ""),
              "```", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,4", help="worker counts to run (comma-separated)")
    ap.add_argument("--duration", type=int, default=60, help="measured seconds per worker count")
    ap.add_argument("--warmup", type=int, default=15, help="warm-up seconds per worker count (not counted)")
    ap.add_argument("--users", type=int, default=8, help="concurrent simulated GPs (closed loop, no think time)")
    ap.add_argument("--ludb", type=int, default=200, help="LUDB records in the file pool")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, CSVs)")
    ap.add_argument("--keep-alive", action="store_true",
                    help="each simulated GP keeps one connection (pinned to one worker); default: a new connection "
                         "per request, spread over the workers as a reverse proxy would")
    ap.add_argument("--read-timeout", type=float, default=None,
                    help="Settings.read_timeout_s for the workers (0: uploads read in the worker; default: the app's)")
    args = ap.parse_args()
    from ecgpilot.paths import shared_data_dir

    if shutil.which("locust", path=str(VENV_BIN)) is None:
        raise SystemExit("locust is not installed in this environment: pip install locust")
    data = shared_data_dir()
    if data is None:
        raise SystemExit("shared data not found ($ECGPILOT_DATA or ../shared/data)")
    groups = file_groups(data, args.ludb)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    base = Path(tempfile.mkdtemp(prefix="ecgpilot-scale-"))
    pg = Postgres(base)
    results = []
    try:
        pg.start()
        for n in (int(x) for x in args.workers.split(",")):
            print(f"--- {n} worker(s) ...", flush=True)
            r = run_one(pg, base, n, groups, args)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("reads",)}, default=str), flush=True)
    finally:
        pg.stop()
        if args.keep:
            print(f"kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    text = report(results, args, len(groups), started)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
