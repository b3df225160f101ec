"""Steady traffic while PostgreSQL hangs: how many messages still get a reply, or a timely "success" and a follow-up.

    .venv/bin/python bench/stalled_db.py [--rate 3.3] [--seconds 60] [--hang-at 10] [--hang 30]

As production runs: gunicorn with 2 sync workers (or `--worker-class gthread`) in safe mode, the real Redis,
PostgreSQL behind a TCP proxy that stops forwarding bytes for `--hang` seconds (connections stay open: a hung
server, not a refused one), an RQ worker for late replies, and the fake WeChat API recording customer-service
(kf) messages. Each message comes from its own follower (introduced first, with the database up), at a steady
rate, each on its own thread (a slow reply does not delay the next). Texts are travelers' questions
(bench/understanding/messages.yaml), some of which need the database (bookings, hand-offs, coupons).

A message counts as answered when its reply arrives within WeChat's 5 s, or when "success" arrives within 5 s
and a kf message reaches that follower afterwards (the late reply). Goal (issue #14): >= 99 %.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_bench as wb  # noqa: E402

from bot.devtools.fake_api import FakeWeChatAPI  # noqa: E402
from tests.pausable_proxy import PausableProxy  # noqa: E402

WECHAT_WAIT = 5.0  # WeChat gives up on a passive reply after this long
FOLLOW_UP_WAIT = 120.0  # how long after the run a late reply may still arrive


@dataclass
class Sent:
    openid: str
    at: float  # seconds since the start of the run
    seconds: float = 0.0
    status: int = 0
    reply: str = ""  # "xml", "success" or the error
    sorry: bool = False  # the reply is the apology ("系统开了个小差 ... 请稍后再试"), not an answer
    text: str = ""  # what the traveler sent, and the start of the reply (for --show-slow)
    answer: str = ""


APOLOGY = (ROOT / "content" / "templates" / "zh-CN" / "apology.txt.j2").read_text(encoding="utf-8").strip()[:12]


def send(url: str, req: wb.Request, sent: Sent, sender: wb.WeChatSender) -> None:
    started = time.monotonic()
    try:
        sent.status, body = wb.post(url, req, timeout=30)
        sent.reply = "success" if body == b"success" else "xml"
        if sent.reply == "xml":
            reply = sender.read_reply(body)
            sent.sorry = APOLOGY in reply
            sent.answer = reply.split("<Content><![CDATA[", 1)[-1].split("<Title><![CDATA[", 1)[-1][:50]
    except Exception as exc:  # noqa: BLE001 - a timeout or refusal is a result here
        sent.reply = type(exc).__name__
    sent.seconds = time.monotonic() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=3.3, help="messages per second")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--hang-at", type=float, default=10, help="seconds into the run")
    p.add_argument("--hang", type=float, default=30, help="seconds the database hangs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--show-slow", type=float, metavar="SECONDS", help="list messages answered slower than this")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="this database is flushed")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    count = int(args.rate * args.seconds)
    env = wb.prepare(args)  # migrates through the real address, before the proxy exists
    texts = wb.load_texts("mixed")
    sender = wb.WeChatSender(wb.TOKEN, wb.APPID, wb.AES_KEY, "safe")
    openids = [f"o-stall-{i:04d}" for i in range(count)]
    with FakeWeChatAPI() as api, PausableProxy("127.0.0.1", 5432) as proxy, \
            tempfile.TemporaryDirectory(prefix="yjy-stall-") as tmp:
        env = dict(env, WECHAT_API_BASE_URL=api.base_url,
                   DATABASE_URL=args.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        worker_log = open(Path(tmp) / "worker.log", "wb")
        worker = subprocess.Popen([str(wb.BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                  stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with wb.Gunicorn("wsgi:app", env, args, Path(tmp)) as server:
                wb.introduce(server.url, sender, openids, texts)
                time.sleep(1)
                # Another question from each, drawn across the whole set (it is grouped by topic).
                shuffled = random.Random(14).sample(texts, len(texts))
                requests = list(wb.make_requests(sender, openids, shuffled, count))
                results = [Sent(openid, i / args.rate) for i, openid in enumerate(openids)]
                threads = []
                start = time.monotonic()
                hung = resumed = False
                for req, sent, text in zip(requests, results, (shuffled * 2)[:count]):
                    sent.text = text
                    now = time.monotonic() - start
                    if not hung and now >= args.hang_at:
                        proxy.pause()
                        hung = True
                    if hung and not resumed and now >= args.hang_at + args.hang:
                        proxy.resume()
                        resumed = True
                    time.sleep(max(0.0, sent.at - (time.monotonic() - start)))
                    thread = threading.Thread(target=send, args=(server.url, req, sent, sender), daemon=True)
                    thread.start()
                    threads.append(thread)
                while not resumed and time.monotonic() - start < args.hang_at + args.hang:
                    time.sleep(0.05)
                proxy.resume()
                for thread in threads:
                    thread.join(timeout=60)
                deadline = time.monotonic() + FOLLOW_UP_WAIT
                late = {s.openid for s in results if s.reply == "success" and s.seconds <= WECHAT_WAIT}
                while time.monotonic() < deadline:
                    followed = {c.body.get("touser") for c in api.calls_to("message/custom/send")
                                if isinstance(c.body, dict)}
                    if late <= followed:
                        break
                    time.sleep(0.5)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    followed = {c.body.get("touser") for c in api.calls_to("message/custom/send") if isinstance(c.body, dict)}
    return report(results, followed, args)


def report(results: list[Sent], followed: set[str], args: argparse.Namespace) -> int:
    in_hang = [s for s in results if args.hang_at <= s.at < args.hang_at + args.hang]
    print(f"\ncode: {wb.code_version()}")
    print(f"{len(results)} messages at {args.rate}/s; the database hung from {args.hang_at:g} s for {args.hang:g} s "
          f"({len(in_hang)} messages sent meanwhile); {args.workers} x gunicorn {args.worker_class}"
          f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''}, safe mode")
    for label, group in (("all", results), ("sent while it hung", in_hang)):
        replied = [s for s in group if s.reply == "xml" and s.seconds <= WECHAT_WAIT]
        late = [s for s in group if s.reply == "success" and s.seconds <= WECHAT_WAIT and s.openid in followed]
        silent = [s for s in group if s.reply == "success" and s.seconds <= WECHAT_WAIT and s.openid not in followed]
        slow = [s for s in group if s.seconds > WECHAT_WAIT]
        failed = [s for s in group if s.reply not in ("xml", "success")]
        ok = len(replied) + len(late)
        sorry = sum(1 for s in replied if s.sorry)
        times = sorted(s.seconds for s in group)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0
        print(f"  {label:<19} {ok}/{len(group)} answered ({ok / max(len(group), 1):.1%}): {len(replied)} replied "
              f"in time ({sorry} of them an apology), {len(late)} 'success' + kf follow-up; "
              f"{len(silent)} 'success' with no follow-up, "
              f"{len(slow)} over {WECHAT_WAIT:g} s, {len(failed)} failed; p99 {p99 * 1000:.0f} ms")
    for s in results if args.show_slow is not None else ():
        if s.seconds > args.show_slow:
            print(f"    {s.seconds:5.2f} s {s.reply:<8} {s.text[:30]!r:<34} -> {s.answer.replace(chr(10), ' ')!r}")
    share = sum(1 for s in results if s.seconds <= WECHAT_WAIT and (
        s.reply == "xml" or (s.reply == "success" and s.openid in followed))) / max(len(results), 1)
    print(f"goal >= 99 % answered: {'MET' if share >= 0.99 else 'NOT MET'} ({share:.1%})")
    return 0 if share >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
