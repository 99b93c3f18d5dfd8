"""Login throttling: failed logins slow the next attempts down, per account and per client IP (in memory,
thread-safe), never locking the owner out (:class:`LoginThrottle`, the one the web app uses).

Only failures count, over a sliding window of ``window_s`` seconds; a success clears the account's
failures (not the IP's, so one IP cannot try many accounts by interleaving one correct password).
:meth:`LoginThrottle.retry_after` tells the client how long to wait. The throttle is per process: with
several workers, add a reverse-proxy limit as well.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from ecgpilot.errors import ConfigError

__all__ = ["LoginThrottle"]


class _FailureLog:
    """Failed-login timestamps per account and per client IP over a sliding window (thread-safe)."""

    window_s: float

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self.window_s = window_s
        self._clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        """The key's failures inside the window (older ones dropped; an empty key removed)."""
        q = self._fails.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._fails[key]
            return deque()
        return q

    def retry_after(self, account: str, ip: str) -> float:
        raise NotImplementedError

    def allowed(self, account: str, ip: str) -> bool:
        """Whether a login attempt for ``account`` from ``ip`` may be checked now."""
        return self.retry_after(account, ip) <= 0.0

    def record_failure(self, account: str, ip: str) -> None:
        """Count one failed attempt for the account and the IP."""
        account = account.strip().lower()
        with self._lock:
            now = self._clock()
            self._fails[("acct", account)].append(now)
            self._fails[("ip", ip)].append(now)

    def record_success(self, account: str, ip: str) -> None:
        """Clear the account's failures after a successful login (not the IP's)."""
        with self._lock:
            self._fails.pop(("acct", account.strip().lower()), None)


class LoginThrottle(_FailureLog):
    """Failed logins slow the next attempt down instead of locking the account.

    Per account and per client IP, the first ``free_per_account`` / ``free_per_ip`` failures within
    ``window_s`` cost nothing; after that each further attempt waits ``base_delay_s * 2**(n - free)``
    seconds after the last failure, at most ``max_delay_s``. The account's owner is never locked
    out (at worst they wait ``max_delay_s``), while guessing is held to about one try per
    ``max_delay_s`` per account and per client, however many e-mails one client tries. A success
    clears the account's failures (not the client's). Thread-safe; per process.
    """

    def __init__(
        self,
        *,
        free_per_account: int = 5,
        free_per_ip: int = 20,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if free_per_account < 1 or free_per_ip < 1 or base_delay_s <= 0 or max_delay_s < base_delay_s or window_s <= 0:
            raise ConfigError(
                f"login throttle settings must be positive (got free_per_account={free_per_account}, "
                f"free_per_ip={free_per_ip}, base_delay_s={base_delay_s}, max_delay_s={max_delay_s}, window_s={window_s})."
            )
        super().__init__(window_s, clock)
        self.free_per_account, self.free_per_ip = free_per_account, free_per_ip
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s

    def delay_after(self, failures: int, free: int) -> float:
        """The wait imposed after ``failures`` failures when ``free`` are free."""
        if failures < free:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failures - free, 30))

    def retry_after(self, account: str, ip: str) -> float:
        """Seconds to wait before the next attempt for ``account`` from ``ip`` is checked (0: now)."""
        account = account.strip().lower()
        with self._lock:
            now = self._clock()
            waits = [0.0]
            for key, free in ((("acct", account), self.free_per_account), (("ip", ip), self.free_per_ip)):
                q = self._recent(key, now)
                if q:
                    waits.append(q[-1] + self.delay_after(len(q), free) - now)
            return max(waits)
