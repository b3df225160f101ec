"""cProfile of the full webhook path in one process (Flask test client, real Redis and PostgreSQL).

    .venv/bin/python bench/profile_inprocess.py [--mode safe] [--count 2000] [--sort tottime]

No gunicorn and no sockets to the app: this shows the service's own CPU per message, the web thread's
and the handler thread's profiles added up. Uses the same settings, texts and followers as
webhook_bench.py (its Redis db is flushed).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_bench as wb  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("plain", "safe"), default="safe")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative ...")
    p.add_argument("--lines", type=int, default=35)
    p.add_argument("--restrict", nargs="*", default=[], help="regular expressions on the file:line(function)")
    p.add_argument("--followers", type=int, default=1000)
    p.add_argument("--texts", choices=("mixed", "help"), default="mixed")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args()
    os.environ.update(wb.prepare(args))
    import logging

    from bot import create_app

    app = create_app()
    client = app.test_client()
    sender = wb.WeChatSender(wb.TOKEN, wb.APPID, wb.AES_KEY, args.mode)
    openids = [f"o-bench-prof-{i:04d}" for i in range(args.followers)]
    texts = wb.load_texts(args.texts)
    # One message per openid first, so what follows is the steady state (no follower upserts).
    warm = list(wb.make_requests(sender, openids, texts, args.followers))
    timed = list(wb.make_requests(sender, openids, texts, args.count))
    profiled = list(wb.make_requests(sender, openids, texts, args.count))
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_yjy", False):
            handler.setStream(open(os.devnull, "w"))  # records are still formatted and redacted

    def send(batch: list[wb.Request]) -> float:
        started = time.perf_counter()
        for req in batch:
            resp = client.post(f"/wechat?{req.query_string}", data=req.body, content_type="text/xml")
            assert resp.status_code == 200, resp.data[:200]
        return (time.perf_counter() - started) / len(batch) * 1e3

    send(warm)
    app.extensions["yjy"].services.background.drain()
    print(f"{args.mode}: {send(timed):.3f} ms per message without profiler (one thread, wall clock)")
    # Handlers that do I/O run on a pool thread: a second profiler is switched on around each run there.
    pipeline = app.extensions["yjy"].pipeline
    inner, run = cProfile.Profile(), pipeline._in_pool

    def profiled_run(*a: object) -> object:
        inner.enable()
        try:
            return run(*a)
        finally:
            inner.disable()

    pipeline._in_pool = profiled_run
    outer = cProfile.Profile()
    outer.enable()
    with_profile = send(profiled)
    outer.disable()
    print(f"{args.mode}: {with_profile:.3f} ms per message under cProfile")
    pstats.Stats(outer, inner).sort_stats(args.sort).print_stats(*args.restrict, args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
