"""Writes no reply waits for (a follower's last activity, an interest noted), on threads of their own.

A message that only needs an answer must not wait for the database: with the database stalled, these writes
wait here (bounded: past `max_pending` they are dropped and logged, as they can be: the next message writes
them again) while the traveler is answered. Per process, like the handler pool (gunicorn forks after import).

Writes of one kind that many messages make (an interest noted) can be batched: `add` collects items, and one
call writes all that arrived within `BATCH_SECONDS`, one transaction instead of one per message.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH_SECONDS = 0.5  # how long a batched item may wait for others
BATCH_MAX = 500  # items in one batch at most (one statement)


class Background:
    def __init__(self, workers: int = 2, max_pending: int = 1000) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="background")
        self._max = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._batches: dict[str, tuple[Callable[[list[Any]], Any], list[Any]]] = {}

    def add(self, what: str, write: Callable[[list[Any]], Any], item: Any) -> bool:
        """Queue `item` for `write(items)`, called with everything `what` collected within BATCH_SECONDS (at most
        BATCH_MAX items a call); False when too much is waiting already (dropped and logged, as for `submit`)."""
        with self._lock:
            if not self._reserve(what):
                return False
            if what in self._batches:
                self._batches[what][1].append(item)
                return True
            self._batches[what] = (write, [item])
        timer = threading.Timer(BATCH_SECONDS, self._flush, (what,))
        timer.daemon = True
        timer.start()
        return True

    def _flush(self, what: str) -> None:
        with self._lock:
            batch = self._batches.pop(what, None)
        if batch is None:  # written already (drain, shutdown)
            return
        write, items = batch
        for start in range(0, len(items), BATCH_MAX):
            chunk = items[start:start + BATCH_MAX]
            self._executor.submit(self._run, f"{what} ({len(chunk)})", write, (chunk,), len(chunk))

    def submit(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` soon; False when too much is waiting already (the write is dropped, logged)."""
        with self._lock:
            if not self._reserve(what):
                return False
        self._executor.submit(self._run, what, fn, args, 1)
        return True

    def _reserve(self, what: str) -> bool:
        """Count one more waiting write (under the lock), unless `max_pending` are waiting: then it is dropped."""
        if self._pending >= self._max:
            log.warning("background writes backed up (%d waiting): %s dropped", self._pending, what)
            return False
        self._pending += 1
        return True

    def call(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """`fn(*args)` on a background thread, waited for at most `timeout` (TimeoutError after: it goes on)."""
        future: Future[T] = self._executor.submit(fn, *args)
        return future.result(timeout=timeout)

    def drain(self, timeout: float = 5.0) -> bool:
        """Write what batches hold now, then wait until nothing is waiting (tests, shutdown); False if still busy
        after `timeout`."""
        for what in list(self._batches):
            self._flush(what)
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

    def _run(self, what: str, fn: Callable[..., Any], args: tuple[Any, ...], items: int) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a lost touch is logged; the next message writes it again
            log.exception("background write failed: %s", what)
        finally:
            with self._lock:
                self._pending -= items
