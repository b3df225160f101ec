"""Conversation state and retry dedup in Redis: two round trips per message, whatever the handler does.

1. `claim`: claim the delivery (SET NX EX) and read the user's state, pipelined.
2. `finish`: cache the reply for retries and write the state with a sliding TTL; the state write is
   a compare-and-set on its revision (a tiny Lua script), so a concurrent message for the same user
   is detected instead of silently overwritten.

State is one JSON object per user: {"rev": 7, "flow": "booking", "step": "ask_date", "slots": {...}}.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from bot.infra.keys import Keys

log = logging.getLogger(__name__)

PENDING = b"pending"  # first attempt still running
LATE = b"late"  # first attempt answered "success"; the reply goes out through the kf API
REPLY_PREFIX = b"r:"

# KEYS: state, dedup ('' for none), insight events list. ARGV: state ('' deletes it), expected rev, state TTL,
# reply, dedup TTL, cache the reply on conflict ('1'), insight event ('' for none), cap of the events list.
_FINISH = """
local function note()
  if ARGV[7] ~= '' then
    redis.call('RPUSH', KEYS[3], ARGV[7])
    redis.call('LTRIM', KEYS[3], -tonumber(ARGV[8]), -1)
  end
end
local cur = redis.call('GET', KEYS[1])
local rev = 0
if cur then rev = tonumber(string.match(cur, '^{"rev":(%d+)')) or 0 end
if rev ~= tonumber(ARGV[2]) then
  if ARGV[6] == '1' and KEYS[2] ~= '' then
    redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
    note()
  end
  return 0
end
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5]) end
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]) end
note()
return 1
"""
# Insight events waiting for the flush (bot/insights/flush.py): with no worker running, the oldest are dropped
# past this many rather than Redis growing without bound (a day of a busy account is far below it).
EVENTS_CAP = 200_000


@dataclass
class Claim:
    """Outcome of claiming a delivery."""

    first: bool  # False: WeChat retried a delivery we already have
    state: dict[str, Any] = field(default_factory=dict)
    cached_reply: str | None = None  # for a retry: the first attempt's reply, if ready
    degraded: bool = False  # Redis was unreachable: no dedup, no state this time

    @property
    def rev(self) -> int:
        return int(self.state.get("rev", 0))


class StateStore(Protocol):
    def claim(self, delivery_key: str, openid: str) -> Claim: ...

    def finish(self, delivery_key: str | None, openid: str, state: dict[str, Any] | None,
               expected_rev: int, reply: str, cache_on_conflict: bool = True, event: str | None = None) -> bool: ...

    def cache_reply(self, delivery_key: str, reply: str) -> None: ...

    def mark_late(self, delivery_key: str) -> None: ...

    def load(self, openid: str) -> dict[str, Any]: ...

    def ping(self) -> bool: ...


def dump_state(state: dict[str, Any], rev: int) -> str:
    body = {k: v for k, v in state.items() if k != "rev"}
    # "rev" first: the Lua script reads it with a pattern instead of decoding JSON.
    return json.dumps({"rev": rev, **body}, ensure_ascii=False, separators=(",", ":"))


def load_state(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        log.warning("state: unreadable JSON dropped")
        return {}
    return value if isinstance(value, dict) else {}


class RedisStateStore:
    """`StateStore` on Redis (a real server or fakeredis: the same code and the same contract test)."""

    def __init__(self, client: redis.Redis, keys: Keys, state_ttl: int, dedup_ttl: int) -> None:
        self.r = client
        self.keys = keys
        self.state_ttl = state_ttl
        self.dedup_ttl = dedup_ttl
        self._finish = client.register_script(_FINISH)

    def claim(self, delivery_key: str, openid: str) -> Claim:
        dedup = self.keys.dedup(delivery_key)
        try:
            pipe = self.r.pipeline(transaction=False)
            pipe.set(dedup, PENDING, nx=True, ex=self.dedup_ttl)
            pipe.get(dedup)
            pipe.get(self.keys.state(openid))
            claimed, current, raw_state = pipe.execute()
        except redis.RedisError as exc:
            log.error("state: Redis unavailable, answering without dedup or state: %s", exc)
            return Claim(first=True, degraded=True)
        if claimed:
            return Claim(first=True, state=load_state(raw_state))
        cached = None
        if current and current.startswith(REPLY_PREFIX):
            cached = current[len(REPLY_PREFIX):].decode("utf-8")
        return Claim(first=False, state=load_state(raw_state), cached_reply=cached)

    def finish(self, delivery_key: str | None, openid: str, state: dict[str, Any] | None,
               expected_rev: int, reply: str, cache_on_conflict: bool = True, event: str | None = None) -> bool:
        """Save `state` (None deletes it) and cache `reply` for retries, if nobody wrote the state in between.
        On such a conflict the reply is cached anyway only with `cache_on_conflict` (else the caller retries).
        `event` (the message's insight event, bot/insights/events.py) is appended in the same round trip when the
        state was saved or the reply cached: a message answered again after a conflict is counted once."""
        payload = "" if state is None else dump_state(state, expected_rev + 1)
        dedup = self.keys.dedup(delivery_key) if delivery_key else ""
        try:
            saved = self._finish(keys=[self.keys.state(openid), dedup, self.keys.insight_events()],
                                 args=[payload, expected_rev, self.state_ttl,
                                       REPLY_PREFIX + reply.encode("utf-8"), self.dedup_ttl,
                                       "1" if cache_on_conflict else "0", event or "", EVENTS_CAP])
        except redis.RedisError as exc:
            log.error("state: could not save for %s: %s", delivery_key, exc)
            return False
        if not saved:
            log.warning("state: concurrent update for one user (%s)%s", delivery_key,
                        ": this message's state change dropped" if cache_on_conflict else ", retried on the new state")
        return bool(saved)

    def cache_reply(self, delivery_key: str, reply: str) -> None:
        try:
            self.r.set(self.keys.dedup(delivery_key), REPLY_PREFIX + reply.encode("utf-8"), ex=self.dedup_ttl)
        except redis.RedisError as exc:
            log.error("state: could not cache the reply of %s: %s", delivery_key, exc)

    def mark_late(self, delivery_key: str) -> None:
        try:
            self.r.set(self.keys.dedup(delivery_key), LATE, ex=self.dedup_ttl)
        except redis.RedisError as exc:
            log.error("state: could not mark %s late: %s", delivery_key, exc)

    def load(self, openid: str) -> dict[str, Any]:
        raw = self.r.get(self.keys.state(openid))
        return load_state(raw.encode() if isinstance(raw, str) else raw)

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False
