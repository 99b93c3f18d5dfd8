"""The login throttle (the only limiter): delays per account and per IP over a sliding window, with a fake clock;
in memory, or in the database shared by the worker processes (SQLite and a throwaway PostgreSQL)."""

from __future__ import annotations

import pytest
from _pg import fresh_database, postgres_server

from ecgpilot.errors import ConfigError
from ecgpilot.store import migrate, open_database


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    """Where the failures are kept: ``{}`` (memory) or ``{"database": engine}`` (a migrated SQLite database)."""
    if request.param == "memory":
        yield {}
        return
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    yield {"database": engine}
    engine.dispose()


# ------------------------------------------------------------------ LoginThrottle: delays, not lockout -

def test_throttle_delays_grow_and_are_capped(store):
    from ecgpilot.security.ratelimit import LoginThrottle

    c = Clock()
    th = LoginThrottle(free_per_account=3, free_per_ip=100, base_delay_s=1.0, max_delay_s=8.0, clock=c, **store)
    for _ in range(3):
        assert th.allowed("a@x.fr", "1.1.1.1")
        th.record_failure("A@x.fr", "1.1.1.1")
    waits = []
    for _ in range(6):
        w = th.retry_after("a@x.fr", "2.2.2.2")   # another client waits as well: it is the account's delay
        waits.append(w)
        c.t += w
        assert th.allowed("a@x.fr", "2.2.2.2")
        th.record_failure("a@x.fr", "2.2.2.2")
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    c.t += 8.0
    assert th.allowed("a@x.fr", "1.1.1.1")   # never locked: after the delay the owner may try
    th.record_success("a@x.fr", "1.1.1.1")
    assert th.retry_after("a@x.fr", "3.3.3.3") == 0.0


def test_throttle_per_client_across_accounts_and_window(store):
    from ecgpilot.security.ratelimit import LoginThrottle

    c = Clock()
    th = LoginThrottle(free_per_account=5, free_per_ip=4, max_delay_s=60.0, window_s=100.0, clock=c, **store)
    for i in range(4):
        th.record_failure(f"u{i}@x.fr", "9.9.9.9")
    assert th.retry_after("new@x.fr", "9.9.9.9") == 1.0
    assert th.allowed("new@x.fr", "8.8.8.8")
    c.t += 100.0   # failures leave the window
    assert th.allowed("new@x.fr", "9.9.9.9")


def test_throttle_thread_safe_and_bad_settings(store):
    import threading

    from ecgpilot.security.ratelimit import LoginThrottle

    th = LoginThrottle(free_per_account=10_000, free_per_ip=10_000, **store)
    per_thread = 500 if not store else 50

    def hammer() -> None:
        for _ in range(per_thread):
            th.record_failure("a@x.fr", "1.1.1.1")
            th.retry_after("a@x.fr", "1.1.1.1")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert th.failures("A@x.fr ", "1.1.1.1") == (8 * per_thread, 8 * per_thread)
    for bad in ({"free_per_account": 0}, {"base_delay_s": 0}, {"max_delay_s": 0.5}, {"window_s": 0}):
        with pytest.raises(ConfigError):
            LoginThrottle(**bad)


# ------------------------------------------------------------------ one throttle for every worker --

def _two_workers_share_failures(engine) -> None:
    """Two throttles on one database (two worker processes) count the same failures; old ones stop counting."""
    from sqlalchemy import func, select

    from ecgpilot.security.ratelimit import LoginThrottle
    from ecgpilot.store.login_attempts import LoginFailure

    c = Clock()
    one, two = (LoginThrottle(free_per_account=3, free_per_ip=100, base_delay_s=1.0, max_delay_s=60.0, window_s=600.0,
                              database=engine, clock=c) for _ in range(2))
    mem_one, mem_two = (LoginThrottle(free_per_account=3, free_per_ip=100, base_delay_s=1.0, max_delay_s=60.0,
                                      window_s=600.0, clock=c) for _ in range(2))   # in memory: each worker on its own
    for db_worker, mem_worker in ((one, mem_one), (two, mem_two), (one, mem_one), (two, mem_two)):
        db_worker.record_failure("a@x.fr", "1.1.1.1")
        mem_worker.record_failure("a@x.fr", "1.1.1.1")
    assert one.failures("a@x.fr", "1.1.1.1") == two.failures("a@x.fr", "1.1.1.1") == (4, 4)
    assert mem_one.failures("a@x.fr", "1.1.1.1") == mem_two.failures("a@x.fr", "1.1.1.1") == (2, 2)
    assert mem_one.retry_after("a@x.fr", "2.2.2.2") == 0.0   # under the free three: the attacker's extra tries
    assert one.retry_after("a@x.fr", "2.2.2.2") == two.retry_after("a@x.fr", "2.2.2.2") == 2.0   # 2**(4-3)
    c.t += 300.0
    two.record_failure("a@x.fr", "1.1.1.1")   # the fifth, 300 s later: 4 s from now
    assert one.retry_after("a@x.fr", "2.2.2.2") == 4.0
    c.t += 301.0   # the first four leave the 600-s window: one failure left, under the free three
    assert one.failures("a@x.fr", "1.1.1.1") == (1, 1) and one.retry_after("a@x.fr", "1.1.1.1") == 0.0
    one.record_failure("b@x.fr", "1.1.1.1")   # a new failure forgets every row that left the window
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoginFailure.__table__)).scalar() == 2 + 2
    two.record_success("a@x.fr", "1.1.1.1")
    assert one.failures("a@x.fr", "1.1.1.1") == (0, 2)   # the account cleared by the other worker; not the IP


def test_two_workers_share_failures_on_sqlite(tmp_path) -> None:
    engine, _ = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    _two_workers_share_failures(engine)


def test_two_workers_share_failures_on_postgresql() -> None:
    with postgres_server() as url:
        engine, _ = open_database(fresh_database(url, "throttle"))
        try:
            migrate(engine)
            _two_workers_share_failures(engine)
        finally:
            engine.dispose()
