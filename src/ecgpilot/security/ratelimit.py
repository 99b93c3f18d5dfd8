"""Login rate limiting: sliding windows per account and per client IP (in memory, thread-safe).

A login attempt is allowed when, over the last ``window_s`` seconds, the account has fewer than
``max_per_account`` failures and the IP fewer than ``max_per_ip`` failures. Only failures count;
a success clears the account's failures (not the IP's, so one IP cannot try many accounts by
interleaving one correct password). :meth:`LoginRateLimiter.retry_after` tells the client how long
to wait. The limiter is per process: with several workers, put it behind a shared store or a
reverse-proxy limit.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from ecgpilot.errors import ConfigError

__all__ = ["LoginRateLimiter"]


class LoginRateLimiter:
    """Sliding-window limiter of failed logins, keyed by account and by IP."""

    def __init__(
        self,
        *,
        max_per_account: int = 5,
        max_per_ip: int = 20,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_per_account < 1 or max_per_ip < 1 or window_s <= 0:
            raise ConfigError(
                f"rate limits must be positive (got max_per_account={max_per_account}, max_per_ip={max_per_ip}, window_s={window_s})."
            )
        self.max_per_account = max_per_account
        self.max_per_ip = max_per_ip
        self.window_s = window_s
        self._clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails[key]
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
            return deque()
        return q

    def retry_after(self, account: str, ip: str) -> float:
        """Seconds to wait before the next attempt is allowed (0 when allowed now)."""
        account = account.strip().lower()
        with self._lock:
            now = self._clock()
            waits = [0.0]
            for key, limit in ((("acct", account), self.max_per_account), (("ip", ip), self.max_per_ip)):
                q = self._prune(key, now)
                if len(q) >= limit:
                    waits.append(q[len(q) - limit] + self.window_s - now)
            return max(waits)

    def allowed(self, account: str, ip: str) -> bool:
        """Whether a login attempt for ``account`` from ``ip`` may be checked now."""
        return self.retry_after(account, ip) == 0.0

    def record_failure(self, account: str, ip: str) -> None:
        """Count one failed attempt for the account and the IP."""
        account = account.strip().lower()
        with self._lock:
            now = self._clock()
            self._fails[("acct", account)].append(now)
            self._fails[("ip", ip)].append(now)

    def record_success(self, account: str, ip: str) -> None:
        """Clear the account's failures after a successful login."""
        with self._lock:
            self._fails.pop(("acct", account.strip().lower()), None)
