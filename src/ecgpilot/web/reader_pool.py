"""Reading uploaded files in worker processes, with a time limit per file (issue 23 §2).

The readers already work within explicit budgets (bytes, samples, decoded size, steps: issue 23 §1);
this is the backstop for what a budget did not foresee: each upload's :func:`ecgpilot.io.read_ecg` runs
in a small pool of worker processes (``spawn``: clean children, no copy of the server's threads; each
ends with the server, even a server killed with SIGKILL),
and a read that takes longer than ``timeout_s`` is refused as unreadable while the worker running it is
killed and the pool replaced. A worker that dies (e.g. killed by the kernel for memory) is the same:
that file is unreadable, the server and the other uploads go on. Reads that were running in the killed
pool are retried once in the new one.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ecgpilot.errors import CorruptFileError, ECGPilotError

__all__ = ["ReaderPool", "ReadTimeout"]


class ReadTimeout(CorruptFileError):
    """Reading a file took longer than the per-upload limit: refused (the file is stored as unreadable)."""


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end when the server ends, even killed with SIGKILL (no orphan keeps its memory):
    the kernel's parent-death signal (Linux), and a watch on the parent's pid elsewhere."""
    import os
    import signal
    import sys
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:   # the parent was already gone
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(2.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _warm() -> int:
    """In a new worker: import the readers (numpy, scipy …) before the first timed read."""
    import os

    import ecgpilot.io  # noqa: F401

    return os.getpid()


def _read_in_child(path: str) -> tuple[str, Any, str]:
    """In the worker: ``("ok", record, "")`` or ``("error", error class name, message)``."""
    from ecgpilot.io import read_ecg

    try:
        return "ok", read_ecg(path), ""
    except ECGPilotError as exc:
        return "error", type(exc).__name__, str(exc)


def _error(name: str, message: str) -> ECGPilotError:
    from ecgpilot import errors

    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ECGPilotError)):
        cls = CorruptFileError
    try:
        return cls(message)
    except TypeError:   # an error class with other constructor arguments
        return CorruptFileError(message)


class ReaderPool:
    """``read(path)`` = :func:`ecgpilot.io.read_ecg` in one of ``workers`` processes, within ``timeout_s``."""

    #: Time allowed to start a new pool's workers and import the readers; not counted in ``timeout_s``
    #: (on a loaded server a cold start alone took over 20 s and made the first valid upload "unreadable").
    START_TIMEOUT_S = 300.0

    def __init__(self, workers: int = 2, timeout_s: float = 20.0) -> None:
        self.workers, self.timeout_s = max(1, workers), float(timeout_s)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import os

                pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_die_with_parent, initargs=(os.getpid(),))
                warm = [pool.submit(_warm) for _ in range(self.workers)]
                for f in warm:   # the workers' start and imports, before any timed read
                    f.result(timeout=self.START_TIMEOUT_S)
                self._pool = pool
            return self._pool

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """Kill ``pool``'s workers (one of them is stuck or dead) and let the next read start a new pool."""
        with self._lock:
            if self._pool is not pool:
                return
            self._pool = None
        for proc in list(getattr(pool, "_processes", {}).values()):
            try:
                proc.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        pool.shutdown(wait=False, cancel_futures=True)

    def read(self, path: Any) -> Any:
        """The record of ``path``, or the reader's own error; :class:`ReadTimeout` past the limit."""
        for attempt in (1, 2):
            pool = self._current()
            try:
                future = pool.submit(_read_in_child, str(path))
                status, value, message = future.result(timeout=self.timeout_s)
            except FutureTimeout:
                self._replace(pool)
                raise ReadTimeout(f"reading this file took more than {self.timeout_s:g} s; it was stopped and "
                                  "refused (the other uploads were not held up).") from None
            except BrokenProcessPool:
                self._replace(pool)
                if attempt == 1:
                    continue   # killed with another file's stuck read, or died: once more in a fresh pool
                raise CorruptFileError("the reader stopped while reading this file (out of memory or a crash); "
                                       "the file is refused.") from None
            if status == "ok":
                return value
            raise _error(value, message)
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
