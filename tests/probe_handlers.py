"""Test-only handlers, routed before the product's: they echo, stall, crash and count.

Selected with the config key `routers: tests.probe_handlers:ROUTERS`. Counting goes to Redis when
PROBE_REDIS_URL is set (for tests across gunicorn worker processes), else to this process.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter

import redis

import handlers
from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply, text

router = Router("probe")
runs: Counter[str] = Counter()
_lock = threading.Lock()


def count(key: str) -> None:
    url = os.environ.get("PROBE_REDIS_URL")
    if url:
        redis.Redis.from_url(url).incr(f"probe:runs:{key}")
    with _lock:
        runs[key] += 1


@router.fallback(io=True)  # it stands for handlers that wait on I/O ("slow:"): in the pool, under the deadline
def probe(msg: Incoming, ctx: Context) -> Reply:
    body = msg.text
    if body.startswith("echo:"):
        count(body)
        return text(body[len("echo:"):])
    if body.startswith("slow:"):
        count(body)
        seconds = float(body.split(":")[1])
        time.sleep(seconds)
        return text(f"slept {seconds}")
    if body.startswith("boom"):
        count(body)
        raise RuntimeError("probe handler exploded")
    if body.startswith("slowboom:"):  # past the deadline, then an apology through the kf API
        count(body)
        time.sleep(float(body.split(":")[1]))
        raise RuntimeError("probe handler exploded late")
    if body.startswith("remember:"):
        count(body)
        ctx.state["remembered"] = body[len("remember:"):]
        return text("ok")
    if body.startswith("add:"):  # appends to a list in the state, slowly: concurrent adds overlap
        count(body)
        ctx.state["added"] = [*ctx.state.get("added", []), body[len("add:"):]]
        time.sleep(0.05)
        return text(f"noted {body[len('add:'):]}")
    if body == "recall-added":
        return text(",".join(sorted(ctx.state.get("added", []))))
    if body == "recall":
        return text(str(ctx.state.get("remembered", "nothing")))
    return handlers.fallback.not_understood(msg, ctx)


# The probe replaces the shipped fallback (a route belongs to one handler).
ROUTERS = [router, *(r for r in handlers.ROUTERS if r is not handlers.fallback.router)]
