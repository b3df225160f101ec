"""Wall time of each stage of one message, in one process, against the real Redis and PostgreSQL.

    .venv/bin/python bench/stage_costs.py [--count 3000]

Complements webhook_bench.py: it says which stage the milliseconds go to (parse, Redis claim,
routing, handler, reply XML, the deadline pool's thread hop). Logging is on, to /dev/null.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_bench as wb  # noqa: E402


def timed(label: str, count: int, step: Callable[[int], object]) -> None:
    started = time.perf_counter()
    for i in range(count):
        step(i)
    print(f"{label:<34}{(time.perf_counter() - started) / count * 1e6:>8.0f} us")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--followers", type=int, default=1000)
    p.add_argument("--texts", choices=("mixed", "help"), default="mixed")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="this database is flushed")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args()
    os.environ.update(wb.prepare(args))
    from bot import create_app
    from bot.devtools import sender as build
    from bot.wechat import replies
    from bot.wechat.inbound import to_incoming
    from bot.wechat.protocol import parse_xml

    app = create_app()
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_yjy", False):
            handler.setStream(open(os.devnull, "w"))  # records are still formatted and redacted
    pipeline = app.extensions["yjy"].pipeline
    s = pipeline.s
    n = args.count
    sender = wb.WeChatSender(wb.TOKEN, wb.APPID, wb.AES_KEY, "plain")
    base = time.time_ns() // 1000
    texts, followers = wb.load_texts(args.texts), args.followers
    bodies = [sender.request(build.text(f"o-stage-{i % followers:04d}", texts[i % len(texts)],
                                        msg_id=base + i)).body for i in range(n)]
    msgs = [to_incoming(parse_xml(b)) for b in bodies]
    with app.app_context():
        for m in msgs[:followers]:  # steady state: followers known, state present
            pipeline.handle(m)
        timed("parse XML", n, lambda i: parse_xml(bodies[i]))
        timed("to Incoming", n, lambda i: to_incoming(parse_xml(bodies[i])))
        timed("Redis claim (dedup + state)", n, lambda i: s.store.claim(f"{msgs[i].dedup_key}:c", msgs[i].openid))
        timed("route", n, lambda i: s.dispatcher.resolve(msgs[i], {}))
        claims = [s.store.claim(f"{m.dedup_key}:r", m.openid) for m in msgs]

        def answer(i: int) -> tuple:
            turn = pipeline._begin(msgs[i], claims[i])
            return turn.early or pipeline._answer(msgs[i], turn)

        timed("route + handler", n, answer)
        reply, state = answer(0)
        timed("reply XML", n, lambda i: replies.render_xml(reply, to_user="o", from_account="gh"))
        timed("Redis finish (reply cache + state)", n,
              lambda i: s.store.finish(f"{msgs[i].dedup_key}:r", msgs[i].openid, state, claims[i].rev, "x"))
        timed("thread pool hop", n, lambda i: s.pool.submit(int).result())
        fresh = [sender.request(build.text(f"o-stage-{i % followers:04d}", texts[(i + 7) % len(texts)],
                                           msg_id=base + n + i)).body for i in range(n)]
        timed("whole message (no HTTP, no AES)", n, lambda i: pipeline.handle(to_incoming(parse_xml(fresh[i]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
