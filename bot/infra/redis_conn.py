"""Redis connections: a real server from a URL, or fakeredis for the embedded development runner.

fakeredis is an optional dependency (the `embedded` extra), imported only for a `memory://` URL.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    import fakeredis

_fake_lock = threading.Lock()
_fake_servers: dict[str, fakeredis.FakeServer] = {}


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
    # One quick retry for a dropped connection; redis-py's default (several, with backoff) would let
    # a Redis outage cost seconds per message.
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                health_check_interval=30,
                                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1))
