"""A throwaway PostgreSQL server on loopback for the tests (Debian's binaries; skipped with the reason where absent)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _net import free_port, pg_bin


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL server (trust auth, fsync off) and yield its SQLAlchemy URL; stop and remove it after."""
    pytest.importorskip("psycopg", reason="PostgreSQL driver not installed (pip install -e '.[postgres]')")
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
    # not under pytest's tmp folder: its parents are private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="ecgpilot-pg-"))
    data = base / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own account
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        try:
            shutil.chown(base, user="postgres")
        except (LookupError, PermissionError):
            pytest.skip("no 'postgres' system user to run the server as")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(run_as + [initdb, "-D", str(data), "-A", "trust", "-U", "ecg", "--no-sync"], check=True,
                   capture_output=True)
    subprocess.run(run_as + [pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                             f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://ecg@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run_as + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """Create the empty database ``name`` on the server of ``url`` and return its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name
