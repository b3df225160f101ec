"""Writes no reply waits for (a follower's last activity, an interest noted), on threads of their own.

A message that only needs an answer must not wait for the database: with the database stalled, these writes
wait here (bounded: past `max_pending` they are dropped and logged, as they can be: the next message writes
them again) while the traveler is answered. Per process, like the handler pool (gunicorn forks after import).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Background:
    def __init__(self, workers: int = 2, max_pending: int = 1000) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="background")
        self._max = max_pending
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` soon; False when too much is waiting already (the write is dropped, logged)."""
        with self._lock:
            if self._pending >= self._max:
                log.warning("background writes backed up (%d waiting): %s dropped", self._pending, what)
                return False
            self._pending += 1
        self._executor.submit(self._run, what, fn, args)
        return True

    def call(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """`fn(*args)` on a background thread, waited for at most `timeout` (TimeoutError after: it goes on)."""
        future: Future[T] = self._executor.submit(fn, *args)
        return future.result(timeout=timeout)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is waiting (tests, shutdown); False if still busy after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.005)
        return False

    def shutdown(self) -> None:
        self.drain()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a lost touch is logged; the next message writes it again
            log.exception("background write failed: %s", what)
        finally:
            with self._lock:
                self._pending -= 1
