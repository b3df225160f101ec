"""Insight events: what one message becomes (no openid, no digit typed), read back or refused."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from bot.conversation.router import Dispatcher
from bot.devtools import sender as build
from bot.infra.clock import SEOUL
from bot.insights import events
from bot.services import load_routers
from bot.wechat.inbound import to_incoming
from bot.wechat.protocol import parse_xml

AT = datetime(2026, 5, 1, 23, 59, 30, tzinfo=SEOUL)


def _msg(xml: str):  # type: ignore[no-untyped-def]
    return to_incoming(parse_xml(xml.encode()))


def _event(xml: str, route: str, intent: str = "") -> dict | None:  # type: ignore[type-arg]
    raw = events.for_message(_msg(xml), route=route, intent=intent, lang="zh-CN", secret="s3cret", at=AT)
    return None if raw is None else json.loads(raw)


def test_an_answered_message_keeps_no_words_and_an_unanswered_one_no_digits_or_openid():
    assert _event(build.text("o-1", "明洞怎么去"), "attractions.place", "place") == {
        "t": int(AT.timestamp()), "k": "text", "r": "attractions.place", "i": "place", "a": 1}
    missed = _event(build.text("o-1", "我的电话13812345678 " + "长" * 600), "fallback.suggest", "suggest")
    assert missed is not None and missed["a"] == 0 and missed["l"] == "zh-CN"
    assert missed["x"].startswith("我的电话########### 长") and len(missed["x"]) == 500
    assert missed["u"] == hashlib.sha256(b"s3creto-1").hexdigest()[:16]
    back = events.decode(events.encode(missed))
    assert (back.at, back.day, back.answered, back.route, back.traveler) == (AT, AT.date(), False, "fallback.suggest",
                                                                              missed["u"])


def test_a_handler_that_failed_did_not_answer():
    raw = events.for_message(_msg(build.text("o-1", "明洞怎么去")), route="attractions.place", intent="place",
                             lang="zh-CN", secret="s3cret", at=AT, failed=True)
    assert raw is not None
    failed = json.loads(raw)
    assert (failed["r"], failed["a"], failed["x"]) == ("attractions.place", 0, "明洞怎么去")


def test_events_count_what_travelers_do_not_what_wechat_sends():
    assert _event(build.event("o-1", "CLICK", "HANDOFF"), "handoff.handoff_click")["k"] == "event:click"
    assert _event(build.event("o-1", "subscribe", "qrscene_x"), "welcome.welcome")["a"] == 1
    assert _event(build.event("o-1", "MASSSENDJOBFINISH"), "broadcasts.job_finished") is None
    assert _event(build.event("o-1", "kf_close_session"), "handoff.kf_session_closed") is None
    assert _event(build.event("o-1", "VIEW", "https://x"), "") is None  # a menu link: nothing asked
    image = build.message_xml({"FromUserName": "o-1", "CreateTime": 1, "MsgType": "image", "MsgId": 1})
    assert _event(image, "fallback.not_understood") == {"t": int(AT.timestamp()), "k": "image",
                                                       "r": "fallback.not_understood", "i": "", "a": 0}


def test_the_unanswered_routes_are_routes_of_the_shipped_handlers():
    table = Dispatcher(load_routers("handlers:ROUTERS")).table
    names = {route.name for route in table.values()}
    assert events.UNANSWERED_ROUTES.issubset(names)
    assert {r.name for (kind, _), r in table.items() if kind == "fallback"} <= events.UNANSWERED_ROUTES


@pytest.mark.parametrize("raw", [b"\xff", "not json", "[]", '{"k":"text","a":1}', '{"t":true,"k":"text","a":1}',
                                 '{"t":1,"k":"","a":1}', '{"t":1,"k":"text","a":1.0}', '{"t":1,"k":"text","a":1,"x":5}',
                                 '{"t":1e20,"k":"text","a":1}'])
def test_what_is_not_an_event_is_refused(raw):
    with pytest.raises(events.MalformedEvent):
        events.decode(raw)


def test_an_unanswered_text_keeps_no_email_address_either():
    raw = events.for_message(_msg(build.text("o-1", "发票寄到 zhang.wei+trip@qq.com 可以吗")), route="fallback.suggest",
                             intent="suggest", lang="zh-CN", secret="s3cret", at=AT)
    assert raw is not None and json.loads(raw)["x"] == "发票寄到 ***@*** 可以吗"
