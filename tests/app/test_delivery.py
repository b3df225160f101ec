"""Retries, the reply deadline and late delivery through the customer-service API."""
from __future__ import annotations

import threading
import time

import pytest
from wechatpy.exceptions import WeChatClientException

from bot.devtools import sender as build
from tests import probe_handlers
from tests.support import WeChat, drain_queue


def _probe_app(app_factory, **overrides):  # type: ignore[no-untyped-def]
    return app_factory(routers="tests.probe_handlers:ROUTERS", **overrides)


def test_a_retry_gets_the_first_reply_and_the_handler_runs_once(app_factory, openid):
    wx = WeChat(_probe_app(app_factory))
    xml = build.text(openid, f"echo:{openid}", msg_id=123456789)
    first = wx.reply(xml)
    second = wx.reply(xml)  # WeChat retries with the same MsgId, sender and CreateTime
    assert first["Content"] == second["Content"] == openid
    assert probe_handlers.runs[f"echo:{openid}"] == 1


def test_same_msgid_from_another_user_or_time_is_a_new_message(app_factory, openid):
    wx = WeChat(_probe_app(app_factory))
    now = int(time.time())
    wx.reply(build.text(openid, f"echo:{openid}", msg_id=5, create_time=now))
    wx.reply(build.text(openid + "b", f"echo:{openid}", msg_id=5, create_time=now))
    wx.reply(build.text(openid, f"echo:{openid}", msg_id=5, create_time=now - 1))
    assert probe_handlers.runs[f"echo:{openid}"] == 3


def test_events_dedup_on_sender_time_event_and_key(wechat, openid):
    now = int(time.time())
    first = wechat.reply(build.event(openid, "subscribe", "qrscene_a", create_time=now))
    retry = wechat.reply(build.event(openid, "subscribe", "qrscene_a", create_time=now))
    other_key = wechat.reply(build.event(openid, "subscribe", "qrscene_b", create_time=now))
    assert retry == first  # the cached reply, byte for byte
    assert other_key["MsgType"] == "text"
    followers = wechat.app.extensions["yjy"].db
    from bot.followers import records as repo
    assert repo.get(followers, openid).qrscene == "b"


def test_concurrent_retries_run_the_handler_once(app_factory, openid):
    wx = WeChat(_probe_app(app_factory))
    xml = build.text(openid, f"slow:0.4:{openid}", msg_id=777)
    key = f"slow:0.4:{openid}"
    bodies: list[str] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        response = wx.post(xml)
        assert response.status_code == 200
        bodies.append(wx.sender.read_reply(response.data))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probe_handlers.runs[key] == 1
    replies = [b for b in bodies if b != "success"]
    assert len(replies) == 1 and "slept 0.4" in replies[0]
    assert bodies.count("success") == 2


def test_state_survives_between_messages(app_factory, openid):
    wx = WeChat(_probe_app(app_factory))
    assert wx.say(openid, "remember:blue-door")["Content"] == "ok"
    assert wx.say(openid, "recall")["Content"] == "blue-door"
    assert wx.say(openid + "z", "recall")["Content"] == "nothing"


def test_messages_sent_at_once_each_keep_what_their_reply_promised(app_factory, openid):
    """Eight messages of one traveler at once: each reply says "noted", so the state must keep all eight (a
    message whose state write lost the race is answered again on the state the others saved)."""
    wx = WeChat(_probe_app(app_factory))
    replies: list[str] = []
    barrier = threading.Barrier(8)

    def send(n: int) -> None:
        barrier.wait()
        reply = wx.say(openid, f"add:{n}", msg_id=70000 + n)
        replies.append(reply["Content"] if isinstance(reply, dict) else reply)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    noted = sorted(r.removeprefix("noted ") for r in replies if r.startswith("noted "))
    kept = wx.say(openid, "recall-added")["Content"].split(",")
    assert set(noted) <= set(kept)  # nothing promised is lost
    assert len(noted) + sum("请再发一次" in r for r in replies) == 8  # the rest were told to resend


def test_past_the_deadline_answer_success_then_deliver_by_kf(app_factory, fake_api, openid):
    app = _probe_app(app_factory, webhook__reply_deadline_seconds=0.2)
    wx = WeChat(app)
    xml = build.text(openid, "slow:0.6", msg_id=31337)
    started = time.monotonic()
    response = wx.post(xml)
    assert response.data == b"success"
    assert time.monotonic() - started < 0.55  # answered before the handler finished
    drain_queue(app)
    calls = fake_api.wait_for("message/custom/send")
    assert len(calls) == 1
    assert calls[0].body == {"touser": openid, "msgtype": "text", "text": {"content": "slept 0.6"}}
    # A retry after the deadline neither runs the handler again nor repeats the reply.
    assert wx.post(xml).data == b"success"
    assert probe_handlers.runs["slow:0.6"] >= 1


def test_kf_quota_errors_are_final_and_not_retried(app_factory, fake_api, openid, caplog):
    app = _probe_app(app_factory, webhook__reply_deadline_seconds=0.1)
    fake_api.fail("message/custom/send", errcode=45047)
    wx = WeChat(app)
    assert wx.post(build.text(openid, "slow:0.3")).data == b"success"
    drain_queue(app)
    fake_api.wait_for("message/custom/send")
    time.sleep(0.3)
    assert len(fake_api.calls_to("message/custom/send")) == 1
    assert "final error 45047" in caplog.text


def test_a_late_reply_job_run_twice_sends_once(app_factory, fake_api, openid):
    """An RQ retry or a worker killed mid-send runs the job again: the reply goes out once."""
    from bot.jobs import deliver_late_reply

    app = _probe_app(app_factory)
    payload = {"touser": openid, "msgtype": "text", "text": {"content": "hello once"}}
    with app.app_context():
        assert deliver_late_reply(openid, payload, "m:1:once") == "sent"
        assert deliver_late_reply(openid, payload, "m:1:once") == "already"
    assert len(fake_api.calls_to("message/custom/send")) == 1


def test_a_refused_late_reply_may_be_tried_again_but_a_timed_out_one_is_not(app_factory, fake_api, openid):

    from bot.jobs import deliver_late_reply

    app = _probe_app(app_factory)
    payload = {"touser": openid, "msgtype": "text", "text": {"content": "retry me"}}
    fake_api.fail("message/custom/send", errcode=45028)  # WeChat refused it: nothing was sent
    with app.app_context():
        with pytest.raises(WeChatClientException):
            deliver_late_reply(openid, payload, "m:2:refused")
        assert deliver_late_reply(openid, payload, "m:2:refused") == "sent"  # RQ's retry sends it
        app.extensions["yjy"].services.api.timeout = 0.3  # the API client gives up at 0.3 s (5 s in production)
        fake_api.fail("message/custom/send", delay=0.8)  # ... and WeChat answers later
        assert deliver_late_reply(openid, payload, "m:3:slow") == "unknown"
        assert deliver_late_reply(openid, payload, "m:3:slow") == "already"  # may have gone out: not again
