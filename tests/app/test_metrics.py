"""`GET /metrics` on both back-ends: counters moved by real webhook traffic and jobs, who may read them, and the
figures read from the database and Redis at scrape time.

The counters are this process's (no PROMETHEUS_MULTIPROC_DIR here), shared by every app a test builds: each
test reads them before and after and checks what moved. tests/app/test_metrics_gunicorn.py sums workers.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from bot.bookings import orders as bookings
from bot.broadcasts import planning as broadcasts
from bot.broadcasts import sending
from bot.broadcasts.segments import parse_segment
from bot.devtools import sender as build
from bot.infra.db.models import Follower, HandoffRequest, PaymentNotice
from bot.live.store import LiveStore
from bot.web.metrics import EXTENSION
from bot.wechat.gateway import WeChatGateway
from tests import builders
from tests.support import WeChat, drain_queue

TOKEN = "metrics-token-0123456789abcdef"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(app: Any, remote: str = "127.0.0.1", token: str | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote})


def samples(app: Any, fresh: bool = True) -> Samples:
    """Every sample of a scrape; `fresh`: the figures are read again now (not the 30 s cached ones)."""
    if fresh and "figures" in app.extensions[EXTENSION]:
        app.extensions[EXTENSION]["figures"].every = 0
    response = scrape(app)
    assert response.status_code == 200, response.data
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The series of `name` that changed, by labels, and by how much."""
    return {labels: v - before.get((n, labels), 0.0) for (n, labels), v in after.items()
            if n == name and v != before.get((n, labels), 0.0)}


# --- counters through the webhook ---------------------------------------------------------------------------------
def test_an_answer_a_retry_and_a_fallback_move_their_counters(app, openid):
    wx = WeChat(app)
    first = build.text(openid, "帮助", msg_id=7001)
    before = samples(app)
    assert wx.reply(first) != "success"
    assert wx.reply(first) != "success"  # WeChat's retry of the same MsgId: the cached reply
    assert wx.say(openid, "qwzx vbnm", msg_id=7002) != "success"  # understood by nothing: the text fallback
    after = samples(app)
    messages = moved(before, after, "yjy_messages_total")
    assert messages[(("kind", "text"), ("outcome", "replied"), ("route", "fallback.suggest"))] == 1
    assert sum(messages.values()) == 2 and all(dict(k)["outcome"] == "replied" for k in messages)
    assert moved(before, after, "yjy_dedup_hits_total") == {(("reply", "cached"),): 1}
    assert value(after, "yjy_reply_seconds_count") - value(before, "yjy_reply_seconds_count") == 3
    assert value(after, "yjy_reply_seconds_bucket", le="+Inf") - value(before, "yjy_reply_seconds_bucket",
                                                                       le="+Inf") == 3
    assert moved(before, after, "yjy_degraded_answers_total") == {}


def test_late_answers_handler_errors_and_refusals_are_counted(app_factory, fake_api, openid):
    app = app_factory(routers="tests.probe_handlers:ROUTERS", webhook__reply_deadline_seconds=0.3)
    wx = WeChat(app)
    before = samples(app)
    assert wx.say(openid, "echo:hi") != "success"
    assert wx.say(openid, "boom") != "success"  # the handler raised: an apology
    assert wx.say(openid, "slow:0.6") == "success"  # past the deadline: the reply follows through kf
    assert wx.reply(build.event(openid, "unsubscribe")) == "success"
    req = wx.sender.request(build.text(openid, "forged"))
    refused = wx.client.post("/wechat", query_string={**req.query, "signature": "0" * 40}, data=req.body)
    assert refused.status_code == 403
    drain_queue(app)
    fake_api.wait_for("message/custom/send")
    deadline = time.monotonic() + 3
    while value(after := samples(app), "yjy_late_replies_total", result="sent") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)  # the job counts after WeChat took the message
    messages = moved(before, after, "yjy_messages_total")
    assert messages == {(("kind", "text"), ("outcome", "replied"), ("route", "probe.probe")): 2,
                        (("kind", "text"), ("outcome", "late"), ("route", "probe.probe")): 1,
                        (("kind", "event"), ("outcome", "no_reply"), ("route", "welcome.goodbye")): 1}
    assert moved(before, after, "yjy_handler_errors_total") == {(("route", "probe.probe"),): 1}
    assert moved(before, after, "yjy_webhook_rejected_total") == {(("status", "403"),): 1}
    assert value(after, "yjy_reply_seconds_count") - value(before, "yjy_reply_seconds_count") == 4
    assert value(after, "yjy_reply_seconds_sum") - value(before, "yjy_reply_seconds_sum") >= 0.3  # the late one
    assert value(after, "yjy_late_replies_total", result="sent") == 1  # in Redis: this test's own


def test_broadcast_batches_are_counted_sent_and_failed(app, fake_api):
    ext = app.extensions["yjy"]
    now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    with ext.db.session() as s:
        s.execute(insert(Follower), [dict(openid=f"o-mass-{i}", subscribed=True, language="zh-CN", tags=[],
                                          created_at=now, last_active_at=now) for i in range(3)])

    def send() -> sending.SendReport:
        plan = broadcasts.create(ext.db, "test", {"text": "冬日首尔", "audience": {"all": True}},
                                 parse_segment({"all": True}), "tester", now)
        return sending.send(ext.db, WeChatGateway(ext.api), ext.redis, ext.keys, plan.broadcast_id,
                            sleep=lambda s: None)

    assert send().status == "sent"
    fake_api.fail("message/mass/sendall", errcode=45028)  # no broadcast quota left this month
    assert send().status == "stopped"
    found = samples(app)
    assert value(found, "yjy_broadcast_batches_total", result="sent") == 1
    assert value(found, "yjy_broadcast_batches_total", result="failed") == 1
    assert value(found, "yjy_broadcasts", status="sent") == 1 and value(found, "yjy_broadcasts", status="stopped") == 1


# --- who may read them ---------------------------------------------------------------------------------------------
def test_with_a_token_and_an_allowed_network(app_factory):
    app = app_factory(metrics__token=TOKEN, metrics__allow=["10.0.0.0/8"])
    ok = scrape(app, "203.0.113.9", token=TOKEN)
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE yjy_messages_total counter" in ok.data and b"yjy_scrape_errors" in ok.data
    assert scrape(app, "10.20.30.40").status_code == 200  # inside metrics.allow: no token needed
    refused = scrape(app, "203.0.113.9")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"203.0.113.9 is not in metrics.allow" in refused.data
    assert scrape(app, "127.0.0.1").status_code == 401  # the list replaces the default (this host)
    wrong = scrape(app, "203.0.113.9", token=TOKEN[:-1] + "x")
    assert wrong.status_code == 401 and b"not metrics.token" in wrong.data
    proxied = scrape(app, "10.0.0.5", **{"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 401 and b"came through a proxy (X-Forwarded-For)" in proxied.data
    assert scrape(app, "10.0.0.5", token=TOKEN, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 200


def test_without_a_token_only_this_host_reads_them(app):
    assert scrape(app, "127.0.0.1").status_code == 200
    assert scrape(app, "::1").status_code == 200
    refused = scrape(app, "203.0.113.9")
    assert refused.status_code == 403 and b"203.0.113.9 is not in metrics.allow" in refused.data
    # nginx on the same host: the peer is 127.0.0.1, but the request came from outside
    assert scrape(app, "127.0.0.1", **{"X-Real-IP": "198.51.100.7"}).status_code == 403
    guessed = scrape(app, "203.0.113.9", token=TOKEN)
    assert guessed.status_code == 403 and b"no metrics.token is configured" in guessed.data


# --- figures read at scrape time ------------------------------------------------------------------------------------
def test_figures_from_the_database_and_redis(app):
    ext = app.extensions["yjy"]
    now = datetime.now(UTC)
    on_site = builders.product("dmz_tour", payment="on_site")
    paid_in_app = builders.product("dmz_tour", payment="wechat")
    for p in (on_site, on_site, paid_in_app):
        bookings.book(ext.db, builders.order(p=p), now)
    with ext.db.session() as s:
        s.execute(insert(PaymentNotice), [dict(id="n1", event_type="TRANSACTION.SUCCESS", out_trade_no="YJ1",
                                               received_at=now, outcome="paid")])
        s.execute(insert(HandoffRequest), [
            dict(openid="o-a", kind="handoff", status="open", text="", recent=[], lang="zh-CN", transferred=False,
                 source="d1", created_at=now - timedelta(minutes=10)),
            dict(openid="o-b", kind="complaint", status="closed", text="", recent=[], lang="zh-CN",
                 transferred=False, source="d2", created_at=now - timedelta(days=2))])
    LiveStore(ext.redis, ext.keys).save("air", "seoul", {"pm10": 30}, fetched_at=time.time() - 120)

    found = samples(app, fresh=False)
    assert value(found, "yjy_bookings", status="confirmed") == 2
    assert value(found, "yjy_bookings", status="pending_payment") == 1
    assert value(found, "yjy_payment_notifications_total", outcome="paid") == 1
    assert value(found, "yjy_inbox_open", kind="handoff") == 1
    assert ("yjy_inbox_open", (("kind", "complaint"),)) not in found  # closed
    assert 595 <= value(found, "yjy_inbox_oldest_open_seconds") < 700
    assert 119 <= value(found, "yjy_live_data_age_seconds", source="air") < 180
    assert ("yjy_live_data_age_seconds", (("source", "crowds"),)) not in found  # nothing cached yet
    assert {dict(k)["figure"]: v for (n, k), v in found.items() if n == "yjy_scrape_errors"} == {
        "bookings": 0, "refunds": 0, "payments": 0, "broadcasts": 0, "inbox": 0, "live": 0, "jobs": 0}

    bookings.book(ext.db, builders.order(p=on_site), now)
    assert value(samples(app, fresh=False), "yjy_bookings", status="confirmed") == 2  # read 30 s at most
    assert value(samples(app), "yjy_bookings", status="confirmed") == 3


def test_a_database_that_is_down_still_scrapes_with_an_error_sample(app, monkeypatch):
    ext = app.extensions["yjy"]

    def down() -> Any:
        raise OperationalError("SELECT", {}, ConnectionError("connection refused"))

    monkeypatch.setattr(ext.db, "session", down)
    found = samples(app)
    assert value(found, "yjy_scrape_errors", figure="bookings") == 1
    assert value(found, "yjy_scrape_errors", figure="inbox") == 1
    assert value(found, "yjy_scrape_errors", figure="jobs") == 0
    assert not any(name == "yjy_bookings" for name, _ in found)
    assert ("yjy_dedup_hits_total", (("reply", "cached"),)) in found  # the counters are there all the same
