"""Hand-off to a person and complaints, through the real webhook on both back-ends: WeChat's passive
`transfer_customer_service` when kf is on and an agent is online (asked from the fake WeChat API), else a
text with staff hours and a `handoff_requests` row; retries, kf session events and what logs never show."""
from __future__ import annotations

import logging
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.devtools import sender as build
from bot.followers import handoff as requests
from bot.infra.clock import SEOUL, Clock
from bot.infra.db.models import HandoffRequest
from tests.support import WeChat, drain_queue

KF_LIST = "customservice/getonlinekflist"
FRIDAY_10 = datetime(2026, 5, 1, 10, 0, tzinfo=SEOUL)  # staff are in (09:00-21:00)
FRIDAY_22 = datetime(2026, 5, 1, 22, 0, tzinfo=SEOUL)  # staff are off until Saturday 09:00


def chat(app_factory, now: datetime = FRIDAY_10, **overrides) -> WeChat:  # type: ignore[no-untyped-def]
    app = app_factory(**overrides)
    app.extensions["yjy"].services.clock = Clock(now)
    return WeChat(app)


def kf_on(app_factory, now: datetime = FRIDAY_10) -> WeChat:  # type: ignore[no-untyped-def]
    return chat(app_factory, now, handoff__kf_enabled=True)


def rows(wechat: WeChat, openid: str) -> list[HandoffRequest]:
    with wechat.app.extensions["yjy"].db.session() as session:
        return list(session.scalars(select(HandoffRequest).where(HandoffRequest.openid == openid)
                                    .order_by(HandoffRequest.id)))


# --- transfer to an online agent ---------------------------------------------------------------------
def test_an_online_agent_gets_the_message_through_a_transfer_reply(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent("test1@test")]
    response = wechat.post(build.text(openid, "转人工"))
    body = wechat.sender.read_reply(response.data)
    assert "<MsgType><![CDATA[transfer_customer_service]]></MsgType>" in body
    assert f"<ToUserName><![CDATA[{openid}]]></ToUserName>" in body
    calls = fake_api.calls_to(KF_LIST)
    assert len(calls) == 1 and calls[0].query.get("access_token") and calls[0].body is None  # a GET
    assert calls[0].response == {"kf_online_list": [fake_api.kf_agent("test1@test")]}
    [row] = rows(wechat, openid)
    assert (row.kind, row.status, row.transferred, row.text, row.lang) == ("handoff", "open", True, "转人工", "zh-CN")


def test_english_words_transfer_too(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent("a@test", status=2)]  # online on the phone
    reply = wechat.say(openid, "talk to a human")
    assert isinstance(reply, dict) and reply["MsgType"] == "transfer_customer_service"


def test_a_menu_click_is_never_transferred_it_asks_for_the_question(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent()]
    reply = wechat.reply(build.event(openid, "CLICK", "HANDOFF"))
    assert isinstance(reply, dict) and reply["MsgType"] == "text" and "输入您的问题" in reply["Content"]
    assert fake_api.calls_to(KF_LIST) == [] and rows(wechat, openid) == []
    reply = wechat.say(openid, "明天的DMZ还能改时间吗")  # the question itself goes to the agent
    assert isinstance(reply, dict) and reply["MsgType"] == "transfer_customer_service"
    [row] = rows(wechat, openid)
    assert row.transferred and row.text == "明天的DMZ还能改时间吗"


def test_the_transfer_is_aimed_at_the_agent_with_room(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent("full@test", auto_accept=3, accepted_case=3),
                          fake_api.kf_agent("room@test", auto_accept=5, accepted_case=1)]
    body = wechat.sender.read_reply(wechat.post(build.text(openid, "人工客服")).data)
    assert "<MsgType><![CDATA[transfer_customer_service]]></MsgType>" in body
    assert "<KfAccount><![CDATA[room@test]]></KfAccount>" in body


def test_when_every_agent_online_is_full_the_request_is_recorded(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent("a@test", auto_accept=2, accepted_case=2),
                          fake_api.kf_agent("b@test", auto_accept=1, accepted_case=4)]
    reply = wechat.say(openid, "转人工")
    assert isinstance(reply, dict) and reply["MsgType"] == "text" and "已转告工作人员" in reply["Content"]
    [row] = rows(wechat, openid)
    assert not row.transferred


def test_a_transfer_that_misses_the_deadline_becomes_a_kf_message_and_a_request(app_factory, fake_api, openid):
    """Only a passive reply transfers: past the deadline the traveler is told staff have it, by kf message."""
    wechat = chat(app_factory, handoff__kf_enabled=True, webhook__reply_deadline_seconds=0.2)
    fake_api.kf_online = [fake_api.kf_agent()]
    fake_api.fail(KF_LIST, delay=0.6)  # WeChat answers which agents are online, but late
    assert wechat.post(build.text(openid, "转人工")).data == b"success"
    drain_queue(wechat.app)
    [sent] = fake_api.wait_for("message/custom/send")
    assert sent.body["touser"] == openid and "已转告工作人员" in sent.body["text"]["content"]
    deadline = time.time() + 3
    while rows(wechat, openid)[0].transferred and time.time() < deadline:
        time.sleep(0.02)
    [row] = rows(wechat, openid)
    assert (row.kind, row.transferred) == ("handoff", False)


# --- no transfer: a text with staff hours, and a row for staff ---------------------------------------
def test_with_kf_off_the_request_is_recorded_and_the_api_is_not_asked(app_factory, fake_api, openid):
    wechat = chat(app_factory)
    fake_api.kf_online = [fake_api.kf_agent()]
    reply = wechat.say(openid, "人工客服")
    assert isinstance(reply, dict) and reply["MsgType"] == "text"
    assert "已转告工作人员" in reply["Content"] and "09:00-21:00" in reply["Content"]
    assert fake_api.calls_to(KF_LIST) == []
    [row] = rows(wechat, openid)
    assert (row.kind, row.status, row.transferred) == ("handoff", "open", False)


def test_nobody_online_gets_text_and_a_row(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)  # the fake API reports nobody online by default
    reply = wechat.say(openid, "找客服")
    assert isinstance(reply, dict) and reply["MsgType"] == "text" and "已转告工作人员" in reply["Content"]
    assert len(fake_api.calls_to(KF_LIST)) == 1
    [row] = rows(wechat, openid)
    assert not row.transferred


def test_outside_staff_hours_says_when_and_does_not_ask_the_api(app_factory, fake_api, openid):
    wechat = kf_on(app_factory, FRIDAY_22)
    fake_api.kf_online = [fake_api.kf_agent()]
    reply = wechat.say(openid, "转人工")
    assert isinstance(reply, dict) and reply["MsgType"] == "text"
    assert "休息时间" in reply["Content"] and "明天 09:00" in reply["Content"]
    assert fake_api.calls_to(KF_LIST) == []
    [row] = rows(wechat, openid)
    assert not row.transferred


def test_weekday_hours_outside_name_the_next_staff_day(app_factory, fake_api, openid):
    wechat = chat(app_factory, FRIDAY_22, handoff__days=["mon", "tue", "wed", "thu", "fri"])
    wechat.say(openid, "English")
    reply = wechat.say(openid, "real person")
    assert isinstance(reply, dict) and "from 09:00 on Mon" in reply["Content"]


@pytest.mark.parametrize("fault", [{"errcode": 65400}, {"status": 502}])
def test_an_api_failure_gets_text_and_a_row(app_factory, fake_api, openid, fault):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent()]
    fake_api.fail(KF_LIST, **fault)
    reply = wechat.say(openid, "转人工")
    assert isinstance(reply, dict) and reply["MsgType"] == "text" and "已转告工作人员" in reply["Content"]
    [row] = rows(wechat, openid)
    assert not row.transferred


# --- once per delivery -------------------------------------------------------------------------------
def test_a_retried_delivery_records_one_row(app_factory, fake_api, openid):
    wechat = chat(app_factory)
    xml = build.text(openid, "转人工", msg_id=424242, create_time=1_700_000_000)
    first, again = wechat.reply(xml), wechat.reply(xml)
    assert first == again
    assert len(rows(wechat, openid)) == 1


def test_recording_is_idempotent_per_delivery_even_without_the_dedup_cache(app_factory, openid):
    db = app_factory().extensions["yjy"].db
    one = requests.record(db, openid=openid, kind="handoff", text="转人工", recent=["你好", 3, "多少钱"], lang="zh-CN",
                          transferred=False, source=f"m:1:{openid}:2", now=FRIDAY_10)
    two = requests.record(db, openid=openid, kind="handoff", text="转人工", recent=[], lang="zh-CN",
                          transferred=False, source=f"m:1:{openid}:2", now=FRIDAY_10)
    assert one.created and not two.created and one.id == two.id
    [row] = requests.open_requests(db, openid)
    assert row.recent == ["你好", "多少钱"]  # strings only


def test_recent_messages_in_the_state_ride_with_the_request(app_factory, openid):
    wechat = chat(app_factory)
    ext = wechat.app.extensions["yjy"]
    assert ext.services.store.finish(None, openid, {"recent": [f"msg {n}" for n in range(8)], "lang": "zh-CN"}, 0, "")
    wechat.say(openid, "转人工")
    [row] = rows(wechat, openid)
    # the last five (the pipeline may add the current message itself)
    assert len(row.recent) == 5 and "msg 7" in row.recent and "msg 2" not in row.recent


# --- kf sessions -------------------------------------------------------------------------------------
def test_closing_the_kf_session_closes_the_travelers_open_requests(app_factory, fake_api, openid):
    wechat = kf_on(app_factory)
    fake_api.kf_online = [fake_api.kf_agent()]
    wechat.say(openid, "转人工")
    other = openid[:-1] + ("x" if openid[-1] != "x" else "y")
    wechat.say(other, "转人工")
    assert wechat.reply(build.event(openid, "kf_create_session", KfAccount="test1@test")) == "success"
    assert [r.status for r in rows(wechat, openid)] == ["open"]
    assert wechat.reply(build.event(openid, "kf_close_session", KfAccount="test1@test")) == "success"
    [row] = rows(wechat, openid)
    assert row.status == "closed" and row.closed_at is not None
    assert [r.status for r in rows(wechat, other)] == ["open"]


# --- complaints --------------------------------------------------------------------------------------
def test_a_complaint_with_detail_is_recorded_with_it(app_factory, openid):
    wechat = chat(app_factory)
    wechat.say(openid, "English")
    reply = wechat.say(openid, "complaint: the guide was an hour late")
    assert isinstance(reply, dict) and "1330" in reply["Content"] and "complaint is recorded" in reply["Content"]
    [row] = rows(wechat, openid)
    assert (row.kind, row.text, row.lang, row.transferred) == ("complaint", "complaint: the guide was an hour late",
                                                               "en", False)


def test_a_complaint_is_recorded_when_asked_even_if_nothing_more_is_said(app_factory, openid):
    wechat = chat(app_factory)
    wechat.say(openid, "景福宫几点开门")
    assert "发生了什么" in wechat.say(openid, "我要投诉")["Content"]  # type: ignore[index]
    [row] = rows(wechat, openid)  # staff see it now, with what came before
    assert (row.kind, row.status, row.text, row.recent) == ("complaint", "open", "我要投诉", ["景福宫几点开门", "我要投诉"])
    reply = wechat.say(openid, "导游迟到了一个小时")
    assert isinstance(reply, dict) and f"编号 {row.id}" in reply["Content"]
    [row] = rows(wechat, openid)  # the same request, completed
    assert row.text == "我要投诉\n导游迟到了一个小时"


def test_phone_and_passport_numbers_stay_out_of_the_logs(app_factory, openid, caplog):
    wechat = chat(app_factory)
    detail = "司机多收了钱，我的电话 010-9876-5432，护照 E98765432"
    with caplog.at_level(logging.DEBUG):
        assert "发生了什么" in wechat.say(openid, "我要投诉")["Content"]  # type: ignore[index]
        reply = wechat.say(openid, detail)
        assert isinstance(reply, dict) and "投诉已记录" in reply["Content"] and "1330" in reply["Content"]
    [row] = rows(wechat, openid)
    # One request, recorded when asked and completed by the detail: the table keeps it for staff
    assert row.kind == "complaint" and row.text == f"我要投诉\n{detail}"
    assert "complaint request" in caplog.text  # the line was logged, masked
    # Whole numbers as typed: four digits alone also turn up in message ids and timestamps (1796543250).
    for secret in ("010-9876-5432", "9876-5432", "E98765432", "98765432"):
        assert secret not in caplog.text
