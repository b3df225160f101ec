"""The state store without a Redis to talk to: it degrades, it does not raise."""

from __future__ import annotations

import time

from bot.conversation.state import RedisStateStore
from bot.infra.keys import Keys
from bot.infra.redis_conn import connect


def test_unreachable_redis_degrades_instead_of_raising():
    client = connect("redis://127.0.0.1:1/0", 0.2)  # nothing listens on port 1
    store = RedisStateStore(client, Keys("wxtest"), 1800, 300)
    started = time.monotonic()
    claim = store.claim("m:1:u:1", "u")
    assert claim.first and claim.degraded and claim.state == {}
    assert store.finish("m:1:u:1", "u", {}, 0, "r") is False
    assert store.ping() is False
    assert time.monotonic() - started < 3
