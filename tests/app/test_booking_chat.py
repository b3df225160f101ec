"""Bookings through the real webhook: cancel by reference, the owner-only page, the confirmation
template message (fake WeChat API over HTTP), the product page, the catalogue sync command and a booking
carried over from the previous state format."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.devtools import sender as build
from bot.infra.clock import SEOUL, Clock
from bot.infra.db.models import Booking, ProductRow
from tests.support import Payer, WeChat

WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)
STEPS = ["我想订乱打秀", "12月5日", "20:00", "2人", "张伟", "13812345678"]


def book_nanta(app, openid: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Walk the flow and confirm; (reference, page URL)."""
    app.extensions["yjy"].services.clock = Clock(WEDNESDAY)
    wx = WeChat(app)
    for text in STEPS:
        reply = wx.say(openid, text)
        assert isinstance(reply, dict) and reply["MsgType"] == "text", reply
    done = wx.say(openid, "确认")
    item = done["Articles"]["item"]
    ref = re.search(r"YJ[2-9A-Z]{6}", item["Title"]).group()
    return ref, item["Url"]


def test_cancel_by_reference_in_the_chat(app, openid):
    ref, _ = book_nanta(app, openid)
    wx = WeChat(app)
    listing = wx.say(openid, "取消订单")
    assert ref in listing["Content"] and "取消订单" in listing["Content"]
    assert "已取消" in wx.say(openid, f"取消订单 {ref.lower()}")["Content"]
    assert "之前已经取消过了" in wx.say(openid, f"取消订单 {ref}")["Content"]
    assert "已取消" in wx.say(openid, "我的订单")["Content"]
    assert "没找到订单" in wx.say("o-someone-else", f"取消订单 {ref}")["Content"]


def test_cancel_after_the_free_window_is_refused_with_the_deadline(app, fake_pay, openid):
    ref, _ = book_nanta(app, openid)
    assert Payer(app, fake_pay).pay(ref).status_code == 204
    app.extensions["yjy"].services.clock = Clock(datetime(2026, 12, 4, 21, 0, tzinfo=SEOUL))  # 23 h before
    reply = WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert "已过免费取消时间" in reply and "12月04日 20:00" in reply


def test_an_unpaid_order_can_be_cancelled_until_it_starts(app, openid):
    ref, _ = book_nanta(app, openid)
    app.extensions["yjy"].services.clock = Clock(datetime(2026, 12, 4, 21, 0, tzinfo=SEOUL))  # 23 h before
    reply = WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert "已取消" in reply and "还没有付款" in reply


def test_a_retried_confirmation_makes_one_booking(app, openid):
    app.extensions["yjy"].services.clock = Clock(WEDNESDAY)
    wx = WeChat(app)
    for text in STEPS:
        wx.say(openid, text)
    confirm = build.text(openid, "确认", msg_id=990001, create_time=1795000000)
    first = wx.reply(confirm)
    retry = wx.reply(confirm)  # WeChat's retry: same MsgId, answered from the dedup cache
    assert first == retry
    with app.extensions["yjy"].db.session() as s:
        assert len(list(s.scalars(select(Booking).where(Booking.openid == openid)))) == 1


def test_booking_page_opens_only_with_the_owners_link(app, fake_pay, openid):
    ref, url = book_nanta(app, openid)
    client = app.test_client()
    path = url.removeprefix("https://yjy.example.com")
    unpaid = client.get(path).get_data(as_text=True)
    assert 'id="pay"' in unpaid and "₩110,000" in unpaid and "<svg" not in unpaid  # pay first, no QR code yet
    Payer(app, fake_pay).pay(ref)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and ref in html and "<svg" in html and 'id="pay"' not in html
    assert "+86 138****5678" in html and "13812345678" not in html
    assert page.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/p/bookings/{ref}").status_code == 404
    assert client.get(f"/p/bookings/{ref}?t=AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert client.get(path.replace(ref, "YJ22222222")).status_code == 404


def test_confirmation_template_message_goes_through_the_api_once_paid(app_factory, fake_api, fake_pay, openid):
    app = app_factory(bookings__template_id="TPL-booking-1")
    ref, url = book_nanta(app, openid)
    assert fake_api.calls_to("message/template/send") == []  # not before the money is in
    Payer(app, fake_pay).pay(ref)
    call = fake_api.wait_for("message/template/send")[0]
    assert call.body["touser"] == openid and call.body["template_id"] == "TPL-booking-1"
    data = call.body["data"]
    assert call.body["url"] == url and data["keyword1"]["value"] == ref
    assert "乱打秀" in data["keyword2"]["value"] and "first" not in data and "remark" not in data  # not shown
    assert all(len(field["value"]) <= 20 and "\n" not in field["value"] for field in data.values())
    told = fake_api.calls_to("message/custom/send")
    assert len(told) == 1 and "支付成功" in told[0].body["text"]["content"]


def test_no_template_message_without_a_template_id(app, fake_api, openid):
    book_nanta(app, openid)
    assert fake_api.calls_to("message/template/send") == []


def test_product_page(app):
    page = app.test_client().get("/p/products/dmz_tour")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "DMZ" in html and "70,000" in html and "预订" in html
    assert app.test_client().get("/p/products/nope").status_code == 404


def test_products_sync_command_is_safe_to_rerun(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["products", "sync"])
    assert first.exit_code == 0, first.output
    assert "0 added, 0 updated, 0 retired" in first.output  # the fixture synced already
    with app.extensions["yjy"].db.session() as s:
        assert s.get(ProductRow, "dmz_tour") is not None


def test_a_traveler_mid_booking_in_the_old_state_format_carries_on(app, openid):
    """A deploy lands while a traveler is at the name question: the one-letter draft the previous code
    stored is read, converted on the next save, and its flow key still makes the booking idempotent."""
    ext = app.extensions["yjy"]
    ext.services.clock = Clock(WEDNESDAY)
    legacy = {"lang": "zh-CN", "flow": "booking", "step": "name",
              "bk": {"k": "legacy-flow-key-1", "p": "nanta_show", "d": "2026-12-05", "s": "20:00", "a": 2, "c": 0,
                     "group": False}}
    assert ext.services.store.finish(None, openid, legacy, 0, "")
    wx = WeChat(app)
    assert "联系电话" in wx.say(openid, "张伟")["Content"]
    state = ext.services.store.load(openid)
    assert "bk" not in state and state["step"] == "phone" and state["booking"] == {
        "flow_key": "legacy-flow-key-1", "product_id": "nanta_show", "day": "2026-12-05", "slot": "20:00",
        "adults": 2, "name": "张伟"}
    summary = wx.say(openid, "13812345678")["Content"]
    assert "请核对" in summary and "12月5日（周六） 20:00" in summary and "张伟 +8613812345678" in summary
    done = wx.say(openid, "确认")
    assert re.search(r"YJ[2-9A-Z]{6}", done["Articles"]["item"]["Title"])
    with ext.db.session() as s:
        booking = s.scalars(select(Booking).where(Booking.openid == openid)).one()
    assert booking.idempotency_key == f"{openid}:legacy-flow-key-1" and booking.adults == 2
    assert "flow" not in ext.services.store.load(openid)
