"""Redis connections: a real server from a URL, or fakeredis for the embedded development runner.

fakeredis is an optional dependency (the `embedded` extra), imported only for a `memory://` URL.

A stalled Redis costs one timeout, not one per call: after a timeout or a refused connection the client is
"down" for `DOWN_SECONDS`, and every command in that time fails at once (callers degrade as they do for any
Redis error); then one command tries again. A message that meets a hung Redis waits `timeout` once.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    import fakeredis

_fake_lock = threading.Lock()
_fake_servers: dict[str, fakeredis.FakeServer] = {}
log = logging.getLogger(__name__)
DOWN_SECONDS = 2.0  # after a failure, how long commands fail at once instead of waiting for a timeout each


class Breaker:
    """Shared by every connection of one client: open after a failure, for DOWN_SECONDS."""

    def __init__(self, seconds: float = DOWN_SECONDS) -> None:
        self.seconds = seconds
        self._until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        if time.monotonic() < self._until:
            raise redis.ConnectionError("Redis is marked down after a recent failure; not waiting for it")

    def trip(self, exc: BaseException) -> None:
        with self._lock:
            first = time.monotonic() >= self._until
            self._until = time.monotonic() + self.seconds
        if first:
            log.error("Redis failed (%s): commands fail at once for %.1f s", type(exc).__name__, self.seconds)


class BreakerConnection(redis.Connection):
    """A redis-py connection that checks and trips its client's `Breaker` (set on a subclass per client)."""

    breaker: Breaker

    def connect(self) -> None:
        self.breaker.check()
        try:
            super().connect()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.trip(exc)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.breaker.check()
        try:
            super().send_packed_command(command, check_health)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.trip(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.trip(exc)
            raise


def connect(url: str, timeout: float) -> redis.Redis:
    """A client with short timeouts: a stalled Redis must not eat WeChat's 5 s window."""
    if url.startswith("memory://"):
        try:  # imported only here: production installs leave fakeredis out
            import fakeredis
        except ImportError:
            from bot.infra.config import ConfigError

            raise ConfigError("redis.url", None, f"{url} is the in-process Redis stand-in, which needs fakeredis: "
                              "install yijiyou-seoul[embedded] (the dev runner does), or set REDIS_URL to a "
                              "real Redis") from None

        # One in-process server per URL, shared by every client of this process (web, jobs, API client).
        with _fake_lock:
            server = _fake_servers.setdefault(url, fakeredis.FakeServer())
        return fakeredis.FakeRedis(server=server)
    # One quick retry for a dropped connection (a restarted Redis), none for a timeout (a hung one: that would
    # double the wait); redis-py's default (several, with backoff) would let an outage cost seconds per message.
    options: dict[str, Any] = {}
    if url.startswith("redis://"):  # rediss:// and unix:// keep redis-py's own connection classes
        options["connection_class"] = type("ClientConnection", (BreakerConnection,), {"breaker": Breaker()})
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=30, retry_on_timeout=False,
                                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1,
                                            supported_errors=(redis.ConnectionError,)), **options)
