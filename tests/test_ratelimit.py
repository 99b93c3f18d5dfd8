"""The login throttle (the only limiter): delays per account and per IP over a sliding window, with a fake clock."""

from __future__ import annotations

import pytest

from ecgpilot.errors import ConfigError


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


# ------------------------------------------------------------------ LoginThrottle: delays, not lockout -

def test_throttle_delays_grow_and_are_capped():
    from ecgpilot.security.ratelimit import LoginThrottle

    c = Clock()
    th = LoginThrottle(free_per_account=3, free_per_ip=100, base_delay_s=1.0, max_delay_s=8.0, clock=c)
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


def test_throttle_per_client_across_accounts_and_window():
    from ecgpilot.security.ratelimit import LoginThrottle

    c = Clock()
    th = LoginThrottle(free_per_account=5, free_per_ip=4, max_delay_s=60.0, window_s=100.0, clock=c)
    for i in range(4):
        th.record_failure(f"u{i}@x.fr", "9.9.9.9")
    assert th.retry_after("new@x.fr", "9.9.9.9") == 1.0
    assert th.allowed("new@x.fr", "8.8.8.8")
    c.t += 100.0   # failures leave the window
    assert th.allowed("new@x.fr", "9.9.9.9")


def test_throttle_thread_safe_and_bad_settings():
    import threading

    from ecgpilot.security.ratelimit import LoginThrottle

    th = LoginThrottle(free_per_account=10_000, free_per_ip=10_000)

    def hammer() -> None:
        for _ in range(500):
            th.record_failure("a@x.fr", "1.1.1.1")
            th.retry_after("a@x.fr", "1.1.1.1")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(th._fails[("acct", "a@x.fr")]) == 4000
    for bad in ({"free_per_account": 0}, {"base_delay_s": 0}, {"max_delay_s": 0.5}, {"window_s": 0}):
        with pytest.raises(ConfigError):
            LoginThrottle(**bad)
