"""Login rate limiter: sliding windows per account and per IP, with a fake clock."""

from __future__ import annotations

import pytest

from ecgpilot.errors import ConfigError
from ecgpilot.security.ratelimit import LoginRateLimiter


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_account_locked_after_max_failures_then_window_slides():
    c = Clock()
    rl = LoginRateLimiter(max_per_account=3, max_per_ip=100, window_s=60, clock=c)
    for i in range(3):
        assert rl.allowed("Dr.Martin", "10.0.0.1")
        rl.record_failure("Dr.Martin", "10.0.0.1")
        c.t += 10  # failures at 1000, 1010, 1020
    assert not rl.allowed("dr.martin", "10.0.0.2")  # same account (case-insensitive), other IP
    assert rl.retry_after("dr.martin", "10.0.0.2") == pytest.approx(1000 + 60 - 1030)
    c.t = 1060.5  # first failure left the window
    assert rl.allowed("dr.martin", "10.0.0.1")
    assert rl.allowed("someone.else", "10.0.0.1")


def test_ip_limit_across_accounts():
    c = Clock()
    rl = LoginRateLimiter(max_per_account=5, max_per_ip=4, window_s=60, clock=c)
    for i in range(4):
        rl.record_failure(f"user{i}", "192.0.2.7")
    assert not rl.allowed("user9", "192.0.2.7")
    assert rl.allowed("user9", "192.0.2.8")


def test_success_clears_account_not_ip():
    c = Clock()
    rl = LoginRateLimiter(max_per_account=2, max_per_ip=3, window_s=60, clock=c)
    rl.record_failure("a", "ip")
    rl.record_failure("a", "ip")
    assert not rl.allowed("a", "ip2")
    rl.record_success("a", "ip2")
    assert rl.allowed("a", "ip2")
    rl.record_failure("b", "ip")
    assert not rl.allowed("c", "ip")  # 3 failures from that IP still counted


def test_bad_settings():
    with pytest.raises(ConfigError, match="positive"):
        LoginRateLimiter(max_per_account=0)
