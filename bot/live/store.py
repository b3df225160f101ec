"""Readings of live sources in Redis, shared by every worker: the last good one, with when it was fetched.

    store = LiveStore(redis, keys)
    store.save("weather", "60_127", {...}, fetched_at=time.time())
    stored = store.load("weather", "60_127")          # Stored(data, fetched_at) or None
    if store.spend("kma", limit=10_000, day="2026-12-05"): ...call the source...
    store.asked("crowd", "POI014")                     # a traveler asked: refresh this one first
    peek = store.peek([("weather", "60_127"), ("crowd", "POI014")], asked=[("crowd", "POI014")])
    peek.load("weather", "60_127")                     # from the one round trip above

A reading is kept long past its freshness (30 days): when a source is down the last good value, with its time,
is what the traveler gets. Nothing here calls a source.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable

import redis

from bot.infra.keys import Keys

log = logging.getLogger(__name__)
KEEP_SECONDS = 30 * 86400
ASKED_KEEP_SECONDS = 3 * 3600  # "recently asked" means within the last three hours


class LiveError(Exception):
    """A source could not give a valid reading (the message says why: quota, key, outage, bad answer)."""


@dataclass(frozen=True)
class Stored:
    data: dict[str, Any]
    fetched_at: float  # Unix time this service got it

    def age_seconds(self, now: float | None = None) -> float:
        return (now or time.time()) - self.fetched_at


class LiveStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r, self.keys = client, keys

    def load(self, kind: str, key: str) -> Stored | None:
        try:
            raw = self.r.get(self.keys.live(kind, key))
        except redis.RedisError as exc:
            log.warning("live %s %s: cache unavailable: %s", kind, key, type(exc).__name__)
            return None
        return _decode(kind, key, raw)

    def peek(self, wanted: Iterable[Wanted], asked: Iterable[Wanted] = (), now: float | None = None) -> Peek:
        """The readings `wanted` and the "asked" marks of `asked` in one round trip (MGET and ZADDs, pipelined):
        what a place card shows reads here, not in a round trip per line."""
        wanted, asked = list(dict.fromkeys(wanted)), list(dict.fromkeys(asked))
        stamp = now or time.time()
        try:
            pipe = self.r.pipeline(transaction=False)
            for kind, key in asked:
                pipe.zadd(self.keys.live_asked(kind), {key: stamp})
            pipe.mget([self.keys.live(kind, key) for kind, key in wanted])
            raws = pipe.execute()[-1]
        except redis.RedisError as exc:
            log.warning("live peek: cache unavailable: %s", type(exc).__name__)
            raws = [None] * len(wanted)
        return Peek(self, {w: _decode(*w, raw) for w, raw in zip(wanted, raws)}, set(asked))

    def save(self, kind: str, key: str, data: dict[str, Any], fetched_at: float | None = None) -> None:
        entry = json.dumps({"data": data, "fetched_at": fetched_at or time.time()}, ensure_ascii=False)
        try:
            self.r.set(self.keys.live(kind, key), entry, ex=KEEP_SECONDS)
        except redis.RedisError as exc:
            log.warning("live %s %s: could not cache: %s", kind, key, type(exc).__name__)

    def claim(self, kind: str, key: str, seconds: int = 30) -> bool:
        """One worker refreshes a reading at a time; the others keep serving the cached one."""
        try:
            return bool(self.r.set(self.keys.live_lock(kind, key), b"1", nx=True, ex=seconds))
        except redis.RedisError:
            return False

    def spend(self, source: str, limit: int, day: str) -> bool:
        """Count one call to `source` on `day`; False (and nothing counted) when its daily quota is used up."""
        key = self.keys.live_calls(source, day)
        try:
            used = int(self.r.incr(key))
            if used == 1:
                self.r.expire(key, 2 * 86400)
            if used > limit:
                self.r.decr(key)
                return False
            return True
        except redis.RedisError:
            return False  # no count, no call: a quota is a promise to the source

    def calls(self, source: str, day: str) -> int:
        try:
            return int(self.r.get(self.keys.live_calls(source, day)) or 0)
        except redis.RedisError:
            return 0

    def asked(self, kind: str, key: str, now: float | None = None) -> None:
        try:
            self.r.zadd(self.keys.live_asked(kind), {key: now or time.time()})
        except redis.RedisError:
            pass

    def recently_asked(self, kind: str, now: float | None = None) -> list[str]:
        """Keys travelers asked about in the last three hours, the most recent first."""
        since = (now or time.time()) - ASKED_KEEP_SECONDS
        try:
            self.r.zremrangebyscore(self.keys.live_asked(kind), 0, since)
            return [k.decode() if isinstance(k, bytes) else str(k)
                    for k in self.r.zrevrange(self.keys.live_asked(kind), 0, -1)]
        except redis.RedisError:
            return []


Wanted = tuple[str, str]  # (kind, key) of a reading


def _decode(kind: str, key: str, raw: bytes | str | None) -> Stored | None:
    if not raw:
        return None
    try:
        entry = json.loads(raw)
        return Stored(dict(entry["data"]), float(entry["fetched_at"]))
    except (ValueError, KeyError, TypeError):
        log.warning("live %s %s: unreadable cache entry ignored", kind, key)
        return None


class Peek(LiveStore):
    """A `LiveStore` for one answer, over readings fetched ahead by `LiveStore.peek`: reads of those (and their
    "asked" marks) cost nothing more; anything else goes to Redis as usual. A peek never claims or spends: what
    reads through it never calls a source."""

    def __init__(self, store: LiveStore, found: dict[Wanted, Stored | None], asked: set[Wanted]) -> None:
        super().__init__(store.r, store.keys)
        self._found, self._asked = found, asked

    def load(self, kind: str, key: str) -> Stored | None:
        if (kind, key) in self._found:
            return self._found[(kind, key)]
        return super().load(kind, key)

    def asked(self, kind: str, key: str, now: float | None = None) -> None:
        if (kind, key) not in self._asked:
            super().asked(kind, key, now)

    def claim(self, kind: str, key: str, seconds: int = 30) -> bool:
        return False

    def spend(self, source: str, limit: int, day: str) -> bool:
        return False
