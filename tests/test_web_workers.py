"""``ecgpilot serve --workers N`` and ``$ECGPILOT_DATABASE_URL``: the real command in a subprocess, on loopback.

Two worker processes answer on one port over the same database and data folder; the database named by the
environment (not the command line, where a password would show) is the one used, and the settings given on the
command line reach every worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _net import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts worker processes with pgrep")



def test_two_workers_on_the_database_named_by_the_environment(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    db_file = tmp_path / "elsewhere" / "instance.db"
    db_file.parent.mkdir()
    env = dict(os.environ, ECGPILOT_WEB_DATA=str(tmp_path / "data"), ECGPILOT_DATABASE_URL=f"sqlite:///{db_file}",
               OMP_NUM_THREADS="1", ECGPILOT_ADMIN_EMAIL="admin@x.fr", ECGPILOT_ADMIN_PASSWORD="correct horse battery")
    exe = Path(sys.executable).with_name("ecgpilot")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--workers", "2", "--hsts", "600"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end, ready = time.monotonic() + 90, None
        while time.monotonic() < end and ready is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                if r.status_code == 200:
                    ready = r.json()
            except httpx.HTTPError:
                time.sleep(0.5)
        assert ready is not None, proc.stdout.read() if proc.poll() is not None else "not ready after 90 s"
        assert all(v.startswith("ok") for v in ready["checks"].values())
        assert db_file.exists() and db_file.stat().st_size > 0          # the environment's database
        assert not (tmp_path / "data" / "ecgpilot.db").exists()          # not the default one
        workers = subprocess.run(["pgrep", "-f", "multiprocessing.spawn", "-P", str(proc.pid)],
                                 capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2, workers
        for _ in range(6):                                              # both keep answering, with --hsts
            r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
            assert r.status_code == 200 and r.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
