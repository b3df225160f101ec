"""Insights through the real webhook on both back-ends: every answered message becomes an event saved with its
reply, the flush moves them into the database, and the reports (Python, CLI, admin API) show the share
answered and the unanswered questions grouped, with no openid and no digit a traveler typed."""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.devtools import sender as build
from bot.infra.clock import SEOUL, Clock
from bot.infra.db.models import AdminAudit, InsightDay, UnansweredMessage, UnansweredQuestion
from bot.insights import events, report
from bot.insights.flush import flush
from bot.wechat.inbound import to_incoming
from bot.wechat.protocol import parse_xml
from tests.support import WeChat

FRIDAY_10 = datetime(2026, 5, 1, 10, 0, tzinfo=SEOUL)  # staff hours: a hand-off is recorded for staff
TOKEN = "insights-token-0123456789"
PHONE = "13812345678"


def _app(app_factory, **overrides):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[TOKEN], **overrides)
    app.extensions["yjy"].services.clock = Clock(FRIDAY_10)
    return app


def _image(openid: str) -> str:
    return build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "image",
                              "PicUrl": "https://example.com/p.jpg", "MediaId": "media-1", "MsgId": 9_100_000_001})


def _routes(db) -> dict[tuple[str, str, bool], int]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return {(r.kind, r.route, r.answered): r.count for r in s.scalars(select(InsightDay))}


def _chat(app) -> tuple[list[str], dict[str, object]]:  # type: ignore[no-untyped-def]
    """Three travelers: four answered messages, seven not (three wordings of one question among them)."""
    wechat = WeChat(app)
    a, b, c = (f"o-insights-{n}-{time.time_ns()}" for n in "abc")
    replies = {
        "place": wechat.say(a, "景福宫门票多少钱"),
        "route": wechat.say(b, "明洞怎么去"),
        "hello": wechat.say(c, "你好"),
        "bike1": wechat.say(a, "我想租一辆自行车"),
        "bike2": wechat.say(b, "我想租一辆自行车？"),
        "bike3": wechat.say(c, "请问我想租一辆自行车啊"),
        "phone": wechat.say(a, f"我的手机号{PHONE}收不到验证码"),
        "handoff": wechat.say(c, "转人工"),
    }
    retried = build.text(b, "哪里能修手机", msg_id=9_100_000_002, create_time=int(time.time()))
    first, again = wechat.post(retried), wechat.post(retried)  # WeChat's retry of one delivery: counted once
    assert first.status_code == again.status_code == 200 and first.data
    wechat.post(_image(a))  # no text to understand: the fallback
    wechat.post(build.event(c, "subscribe", "qrscene_kol_a"))  # an event a handler answers: counted, answered
    wechat.post(build.event(c, "MASSSENDJOBFINISH", MsgID=1, Status="send success"))  # WeChat's own: not counted
    return [a, b, c], replies


def test_the_share_answered_and_the_unanswered_grouped_from_real_messages(app_factory):
    app = _app(app_factory)
    ext = app.extensions["yjy"]
    (a, b, c), replies = _chat(app)
    assert all(isinstance(r, dict) for r in replies.values())  # every one got a reply

    [today] = report.daily(ext, days=1)  # flushes first
    assert (today.day, today.messages, today.answered) == (FRIDAY_10.date(), 11, 4)
    assert today.share == pytest.approx(4 / 11)
    week = report.daily(ext, days=7)
    assert [f.day for f in week] == [FRIDAY_10.date() - timedelta(days=n) for n in range(6, -1, -1)]
    assert [f.messages for f in week] == [0] * 6 + [11] and week[0].share == 0.0

    routes = _routes(ext.db)
    assert routes[("text", "fallback.suggest", False)] == 5  # three bike wordings, the phone, the phone repair
    assert routes[("text", "handoff.handoff", False)] == 1
    assert routes[("image", "fallback.not_understood", False)] == 1
    assert routes[("text", "attractions.place", True)] == 2 and routes[("event:subscribe", "welcome.welcome", True)]
    assert not any(kind.startswith("event:masssend") for kind, _, _ in routes)

    groups = report.unanswered(ext, days=7)
    bike = groups[0]
    assert (bike.title, bike.count, bike.travelers) == ("我想租一辆自行车", 3, 3)
    assert bike.variants == [("请问我想租一辆自行车啊", 1)] and bike.routes == {"fallback.suggest": 3}
    assert bike.first_seen == bike.last_seen == FRIDAY_10
    assert {g.title: g.count for g in groups[1:]} == {"转人工": 1, "哪里能修手机": 1, "我的手机号###########收不到验证码": 1}
    assert next(g for g in groups if g.title == "转人工").routes == {"handoff.handoff": 1}

    with ext.db.session() as s:
        stored = list(s.scalars(select(UnansweredMessage)))
        samples = [q.sample for q in s.scalars(select(UnansweredQuestion))]
    assert len(stored) == 6 and {m.lang for m in stored} == {"zh-CN"}
    hashes = {m.openid_hash for m in stored}
    secret = ext.config.bookings.link_secret
    assert hashes == {hashlib.sha256(f"{secret}{o}".encode()).hexdigest()[:16] for o in (a, b, c)}
    assert not hashes & {a, b, c} and all(len(h) == 16 for h in hashes)
    assert not any(PHONE in text or any(ch.isdigit() for ch in text) for text in [*samples, *(m.text for m in stored)])

    assert [name for name, _ in report.ranked(report.intents_by_day(ext, days=7))][:2] == ["suggest", "place"]
    by_day = report.intents_by_day(ext, days=2)
    assert list(by_day) == [FRIDAY_10.date() - timedelta(days=1), FRIDAY_10.date()]
    assert by_day[FRIDAY_10.date() - timedelta(days=1)] == {} and by_day[FRIDAY_10.date()]["suggest"] == 5

    # Nothing is counted twice however often reports flush, and a report of the past does not see today.
    assert report.daily(ext, days=1)[0].messages == 11 and flush(ext).events == 0
    assert report.unanswered(ext, days=3, now=FRIDAY_10 - timedelta(days=1)) == []


def test_a_late_reply_is_counted_with_its_message(app_factory, fake_api):
    """A handler past the reply deadline: its event is saved when it finishes, with the state (no extra trip)."""
    app = _app(app_factory, handoff__kf_enabled=True, webhook__reply_deadline_seconds=0.2)
    ext = app.extensions["yjy"]
    fake_api.kf_online = [fake_api.kf_agent()]
    fake_api.fail("customservice/getonlinekflist", delay=0.5)
    assert WeChat(app).post(build.text("o-insights-late", "转人工")).data == b"success"
    deadline = time.time() + 3
    while not ext.redis.llen(ext.keys.insight_events()) and time.time() < deadline:
        time.sleep(0.02)
    assert flush(ext).events == 1
    assert _routes(ext.db) == {("text", "handoff.handoff", False): 1}


# --- the CLI and the admin API, on events pushed as the webhook does --------------------------------------
def _push(ext, route: str, text: str = "", openid: str = "o-1", at: datetime = FRIDAY_10,  # type: ignore[no-untyped-def]
          intent: str = "") -> None:
    incoming = replace(to_incoming(parse_xml(build.text(openid, "x").encode())), text=text)
    event = events.for_message(incoming, route=route, intent=intent, lang="zh-CN", secret="s" * 16, at=at)
    assert event is not None
    ext.redis.rpush(ext.keys.insight_events(), event)


@pytest.fixture
def seeded(app_factory):  # type: ignore[no-untyped-def]
    app = _app(app_factory)
    ext = app.extensions["yjy"]
    for n in range(3):
        _push(ext, "attractions.place", intent="place", at=FRIDAY_10 - timedelta(days=n))
    for who, text in (("o-1", "能带无人机吗"), ("o-2", "能带无人机吗？"), ("o-1", "能带无人机吗"), ("o-3", "哪里可以修手机")):
        _push(ext, "fallback.suggest", text, openid=who, intent="suggest")
    return app


def test_the_cli_prints_readable_tables(seeded):
    runner = seeded.test_cli_runner()
    summary = runner.invoke(args=["insights"])
    assert summary.exit_code == 0, summary.output
    assert "last 7 days (Seoul, 2026-04-25 to 2026-05-01): 7 messages, 3 answered (42.9%)" in summary.output
    lines = summary.output.splitlines()
    head = next(n for n, line in enumerate(lines) if line.startswith("count"))
    assert lines[head].split() == ["count", "travelers", "question", "other", "wordings", "routes", "last", "seen"]
    assert lines[head + 2].split() == ["3", "2", "能带无人机吗", "suggest", "3", "2026-05-01", "10:00"]
    assert lines[head + 3].split()[:3] == ["1", "1", "哪里可以修手机"]

    daily = runner.invoke(args=["insights", "daily", "--days", "3"])
    assert daily.exit_code == 0, daily.output
    assert [line.split() for line in daily.output.splitlines()] == [
        ["day", "messages", "answered", "share"], ["----------", "--------", "--------", "------"],
        ["2026-04-29", "1", "1", "100.0%"], ["2026-04-30", "1", "1", "100.0%"], ["2026-05-01", "5", "1", "20.0%"],
        ["----------", "--------", "--------", "------"], ["total", "7", "3", "42.9%"]]

    intents = runner.invoke(args=["insights", "intents", "--days", "1"]).output.splitlines()
    assert [line.split() for line in intents[-2:]] == [["suggest", "4", "80.0%", "4"], ["place", "1", "20.0%", "1"]]
    per_day = runner.invoke(args=["insights", "intents", "--days", "3"]).output.splitlines()
    assert per_day[1].split() == ["intent", "messages", "share", "04-29", "04-30", "05-01"]
    assert [line.split() for line in per_day[3:]] == [["suggest", "4", "57.1%", "0", "0", "4"],
                                                      ["place", "3", "42.9%", "1", "1", "1"]]
    assert "04-" not in runner.invoke(args=["insights", "intents", "--days", "30"]).output  # totals only

    unanswered = runner.invoke(args=["insights", "unanswered", "--days", "1", "--limit", "1"])
    assert unanswered.exit_code == 0 and "能带无人机吗" in unanswered.output and "修手机" not in unanswered.output
    assert runner.invoke(args=["insights", "unanswered", "--days", "0"]).exit_code == 2  # refused by click

    _push(seeded.extensions["yjy"], "fallback.not_understood")
    assert "flushed: 1 batch(es), 1 event(s) flushed" in runner.invoke(args=["insights", "flush"]).output
    assert "flushed: 0 batch(es), 0 event(s) flushed" in runner.invoke(args=["insights", "flush"]).output


def _get(app, path: str, token: str | None = TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get(f"/admin/api/insights{path}", headers=headers)


def test_the_admin_api_answers_json_refuses_bad_parameters_and_audits_reads(seeded):
    unanswered = _get(seeded, "/unanswered?days=7&limit=5")
    assert unanswered.status_code == 200
    first = unanswered.json["groups"][0]
    assert first == {"title": "能带无人机吗", "count": 3, "travelers": 2, "routes": {"fallback.suggest": 3},
                     "variants": [], "first_seen": "2026-05-01T10:00:00+09:00",
                     "last_seen": "2026-05-01T10:00:00+09:00"}
    daily = _get(seeded, "/daily?days=2").json
    assert daily == {"days": 2, "daily": [{"day": "2026-04-30", "messages": 1, "answered": 1, "share": 1.0},
                                          {"day": "2026-05-01", "messages": 5, "answered": 1, "share": 0.2}]}
    intents = _get(seeded, "/intents").json
    assert intents["intents"] == [{"intent": "suggest", "messages": 4}, {"intent": "place", "messages": 3}]
    assert intents["by_day"]["2026-05-01"] == {"suggest": 4, "place": 1} and len(intents["by_day"]) == 7

    for bad in ("/unanswered?days=0", "/unanswered?days=366", "/daily?days=abc", "/intents?days=-1",
                "/unanswered?limit=0", "/daily?days=1.5"):
        response = _get(seeded, bad)
        assert response.status_code == 400 and response.json["field"] in ("days", "limit"), bad
    assert _get(seeded, "/daily", token=None).status_code == 401
    assert _get(seeded, "/unanswered", token="x" * 30).status_code == 401

    with seeded.extensions["yjy"].db.session() as s:
        audited = [(a.path, a.status) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]
    assert audited == [("/admin/api/insights/unanswered", 200), ("/admin/api/insights/unanswered", 400),
                       ("/admin/api/insights/unanswered", 400), ("/admin/api/insights/unanswered", 400)]


def test_an_answered_message_still_costs_two_redis_round_trips(app, monkeypatch):
    """The event rides in the round trip that saves the reply: claim (one pipeline) and finish (one script)."""
    ext, wechat, openid = app.extensions["yjy"], WeChat(app), "o-insights-trips"
    wechat.say(openid, "你好")  # the conversation begun, the script loaded
    trips: list[str] = []
    client, pipeline = ext.redis, ext.redis.pipeline
    command = client.execute_command

    def counted_command(*args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(str(args[0]))
        return command(*args, **kwargs)

    def counted_pipeline(*args, **kwargs):  # type: ignore[no-untyped-def]
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        def counted_execute(*a, **k):  # type: ignore[no-untyped-def]
            trips.append("pipeline")
            return execute(*a, **k)

        pipe.execute = counted_execute
        return pipe

    monkeypatch.setattr(client, "execute_command", counted_command)
    monkeypatch.setattr(client, "pipeline", counted_pipeline)
    reply = wechat.say(openid, "有什么好吃的")
    assert isinstance(reply, dict) and trips == ["pipeline", "EVALSHA"]
    monkeypatch.undo()
    assert ext.redis.llen(ext.keys.insight_events()) == 2


def test_a_handler_that_raised_counts_as_not_answered(app_factory, openid):
    """The traveler got an apology, not an answer: counted unanswered under the route that failed, also when it
    failed after the reply deadline (the event is built once the handler is done)."""
    app = app_factory(routers="tests.probe_handlers:ROUTERS", webhook__reply_deadline_seconds=0.3)
    ext = app.extensions["yjy"]
    wechat = WeChat(app)
    assert wechat.say(openid, "echo:hi") != "success"
    assert wechat.say(openid, "boom") != "success"
    assert wechat.say(openid, "slowboom:0.6") == "success"
    deadline = time.time() + 3
    while ext.redis.llen(ext.keys.insight_events()) < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert flush(ext).events == 3
    assert _routes(ext.db) == {("text", "probe.probe", True): 1, ("text", "probe.probe", False): 2}
