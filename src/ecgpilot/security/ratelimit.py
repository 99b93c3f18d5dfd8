"""Login throttling: failed logins slow the next attempts down, per account and per client IP, never locking
the owner out (:class:`LoginThrottle`, the one limiter of the app).

Only failures count, over a sliding window of ``window_s`` seconds; a success clears the account's
failures (not the IP's, so one IP cannot try many accounts by interleaving one correct password).
:meth:`LoginThrottle.retry_after` tells the client how long to wait.

Where the failures are kept: given the app's database (``database=engine``), in its ``login_failure`` table
(:mod:`ecgpilot.store.login_attempts`), so every worker process of ``ecgpilot serve --workers N`` counts the
same failures; without it, in this process's memory (tests, tools). Both are safe across threads; the
database one across processes too (each change is one transaction).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, delete, func, insert, select

from ecgpilot.errors import ConfigError
from ecgpilot.store.login_attempts import LoginFailure

__all__ = ["LoginThrottle"]

_Key = tuple[str, str]   # ("account", e-mail) | ("ip", address)


class _MemoryFailures:
    """Failure times per key in this process (thread-safe)."""

    def __init__(self) -> None:
        self._fails: dict[_Key, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, keys: Iterable[_Key], now: float, since: float) -> None:
        with self._lock:
            for key in keys:
                self._fails[key].append(now)

    def recent(self, key: _Key, since: float) -> tuple[int, float]:
        """(count, time of the last) of the key's failures after ``since`` (older ones dropped)."""
        with self._lock:
            q = self._fails.get(key)
            while q and q[0] <= since:
                q.popleft()
            if not q:
                self._fails.pop(key, None)
                return 0, 0.0
            return len(q), q[-1]

    def clear(self, key: _Key) -> None:
        with self._lock:
            self._fails.pop(key, None)


class _DatabaseFailures:
    """Failure times per key in the ``login_failure`` table, shared by every process using the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, keys: Iterable[_Key], now: float, since: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(LoginFailure), [{"kind": kind, "key": key, "at": now} for kind, key in keys])
            conn.execute(delete(LoginFailure).where(LoginFailure.at <= since))   # left the window: forget it

    def recent(self, key: _Key, since: float) -> tuple[int, float]:
        query = (select(func.count(), func.max(LoginFailure.at))
                 .where(LoginFailure.kind == key[0], LoginFailure.key == key[1], LoginFailure.at > since))
        with self._engine.connect() as conn:
            n, last = conn.execute(query).one()
        return int(n), float(last or 0.0)

    def clear(self, key: _Key) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(LoginFailure.kind == key[0], LoginFailure.key == key[1]))


class LoginThrottle:
    """Failed logins slow the next attempt down instead of locking the account.

    Per account and per client IP, the first ``free_per_account`` / ``free_per_ip`` failures within
    ``window_s`` cost nothing; after that each further attempt waits ``base_delay_s * 2**(n - free)``
    seconds after the last failure, at most ``max_delay_s``. The account's owner is never locked
    out (at worst they wait ``max_delay_s``), while guessing is held to about one try per
    ``max_delay_s`` per account and per client, however many e-mails one client tries. A success
    clears the account's failures (not the client's).

    ``database``: the app's engine (migrated: table ``login_failure``) to share the failures between
    processes; ``None`` keeps them in memory. ``clock``: seconds, by default ``time.time`` with a database
    (comparable between processes) and ``time.monotonic`` without.
    """

    def __init__(
        self,
        *,
        free_per_account: int = 5,
        free_per_ip: int = 20,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        window_s: float = 900.0,
        database: Engine | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if free_per_account < 1 or free_per_ip < 1 or base_delay_s <= 0 or max_delay_s < base_delay_s or window_s <= 0:
            raise ConfigError(
                f"login throttle settings must be positive (got free_per_account={free_per_account}, "
                f"free_per_ip={free_per_ip}, base_delay_s={base_delay_s}, max_delay_s={max_delay_s}, window_s={window_s})."
            )
        self.free_per_account, self.free_per_ip = free_per_account, free_per_ip
        self.base_delay_s, self.max_delay_s, self.window_s = base_delay_s, max_delay_s, window_s
        self._store: _MemoryFailures | _DatabaseFailures = (
            _MemoryFailures() if database is None else _DatabaseFailures(database))
        self._clock = clock or (time.monotonic if database is None else time.time)

    @staticmethod
    def _keys(account: str, ip: str) -> tuple[_Key, _Key]:
        return ("account", account.strip().lower()), ("ip", ip)

    def delay_after(self, failures: int, free: int) -> float:
        """The wait imposed after ``failures`` failures when ``free`` are free."""
        if failures < free:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failures - free, 30))

    def failures(self, account: str, ip: str) -> tuple[int, int]:
        """The failures inside the window counted now for ``account`` and for ``ip``."""
        since = self._clock() - self.window_s
        acct, client = self._keys(account, ip)
        return self._store.recent(acct, since)[0], self._store.recent(client, since)[0]

    def retry_after(self, account: str, ip: str) -> float:
        """Seconds to wait before the next attempt for ``account`` from ``ip`` is checked (0: now)."""
        now = self._clock()
        waits = [0.0]
        acct, client = self._keys(account, ip)
        for key, free in ((acct, self.free_per_account), (client, self.free_per_ip)):
            n, last = self._store.recent(key, now - self.window_s)
            if n:
                waits.append(last + self.delay_after(n, free) - now)
        return max(waits)

    def allowed(self, account: str, ip: str) -> bool:
        """Whether a login attempt for ``account`` from ``ip`` may be checked now."""
        return self.retry_after(account, ip) <= 0.0

    def record_failure(self, account: str, ip: str) -> None:
        """Count one failed attempt for the account and the IP."""
        now = self._clock()
        self._store.add(self._keys(account, ip), now, now - self.window_s)

    def record_success(self, account: str, ip: str) -> None:
        """Clear the account's failures after a successful login (not the IP's)."""
        self._store.clear(self._keys(account, ip)[0])
