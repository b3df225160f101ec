"""Passport details after booking a product that needs them: parsing what travelers type, filing each
traveler under the right booking (on both back-ends), the staff export and the booking page."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from bot.bookings import orders as bookings
from bot.bookings import passports
from bot.bookings.passports import Passport
from bot.infra.clock import SEOUL
from bot.infra.db.models import AdminAudit

from .test_bookings import DAY, NOW, fresh_db, order, product

# --- filing under bookings, on both back-ends ---------------------------------------------------------
DMZ = product("dmz_tour", passport=True)

LATER = DAY + timedelta(days=7)

ZHANG = Passport("ZHANG WEI", "E12345678", "CHN", date(1990, 1, 1))

LI = Passport("LI NA", "E87654321", "CHN", date(1992, 5, 6))

WANG = Passport("WANG WU", "E11112222", "CHN", date(1980, 1, 1))


@pytest.fixture
def db(backend):  # type: ignore[no-untyped-def]
    database = fresh_db(backend.database_url, DMZ)
    yield database
    database.dispose()


def test_each_traveler_is_filed_once_under_the_soonest_booking_still_short(db):
    first = bookings.book(db, order("o-p", seats=2, p=DMZ), NOW)
    later = bookings.book(db, bookings.Order(openid="o-p", product=DMZ, day=LATER, slot="07:30", adults=1, children=0,
                                             contact_name="张伟", phone="+8613812345678",
                                             flow_key=bookings.new_flow_key()), NOW)
    assert passports.attach(db, {"dmz_tour"}, "o-stranger", ZHANG, NOW) is None  # no booking of theirs
    one = passports.attach(db, {"dmz_tour"}, "o-p", ZHANG, NOW)
    assert (one.booking.ref, one.received, one.outcome) == (first.ref, 1, "added")
    again = passports.attach(db, {"dmz_tour"}, "o-p", Passport("ZHANG WEI", "E12345678", "CHN", date(1990, 1, 2)), NOW)
    assert (again.booking.ref, again.received, again.outcome) == (first.ref, 1, "corrected")  # a correction
    assert (passports.attach(db, {"dmz_tour"}, "o-p", LI, NOW).received) == 2
    third = passports.attach(db, {"dmz_tour"}, "o-p", WANG, NOW)
    assert (third.booking.ref, third.outcome) == (later.ref, "added")  # the first booking is full
    assert passports.attach(db, {"dmz_tour"}, "o-p", Passport("X YZ", "E00000001", "CHN", date(1990, 1, 1)),
                            NOW).outcome == "full"
    recorded = passports.travelers(db, [first.ref, later.ref])
    assert [(t.name, t.birth_date) for t in recorded[first.ref]] == [("ZHANG WEI", date(1990, 1, 2)),
                                                                     ("LI NA", date(1992, 5, 6))]
    assert [t.passport_no for t in recorded[later.ref]] == ["E11112222"]


def test_cancelled_and_past_bookings_take_no_passports(db):
    booking = bookings.book(db, order("o-c", seats=1, p=DMZ), NOW)
    after_the_tour = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), SEOUL)
    assert passports.attach(db, {"dmz_tour"}, "o-c", ZHANG, after_the_tour) is None
    bookings.cancel(db, bookings_catalogue(), "o-c", booking.ref, NOW)
    assert passports.attach(db, {"dmz_tour"}, "o-c", ZHANG, NOW) is None


def bookings_catalogue():  # type: ignore[no-untyped-def]
    from .test_bookings import catalogue

    return catalogue(DMZ)


# --- through the chat, the staff export and the page ----------------------------------------------------
def test_chat_export_and_page(app, fake_api, fake_pay, tmp_path):
    from bot.infra.clock import Clock
    from tests.support import Payer, WeChat

    ext = app.extensions["yjy"]
    with ext.db.session() as s:
        s.execute(text("DELETE FROM booking_travelers"))
    ext.services.clock = Clock(datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL))
    wx, openid = WeChat(app), "oPassportTest0001"
    assert "联系人姓名" in wx.say(openid, "订DMZ 12月9日 上午 2个人")["Content"]
    assert "请核对" in wx.say(openid, "张伟 13812345678")["Content"]
    done = wx.say(openid, "确认")
    assert done["MsgType"] == "news" and "付款" in done["Articles"]["item"]["Description"]
    ref = done["Articles"]["item"]["Title"].split()[-1]
    Payer(app, fake_pay).pay(ref)
    assert "护照信息" in fake_api.wait_for("message/custom/send")[0].body["text"]["content"]  # asked once paid
    assert "请写上护照上的英文" in wx.say(openid, "E12345678 张伟 1990年1月1日")["Content"]
    got = wx.say(openid, "ZHANG WEI E12345678 1990-01-01")["Content"]
    assert "已收到护照信息" in got and "E1*****78" in got and "已收 1/2 位" in got
    assert "🛂 护照信息 1/2" in wx.say(openid, "我的订单")["Content"]

    out = tmp_path / "checkpoint.csv"
    result = app.test_cli_runner().invoke(args=["bookings", "travelers", "2026-12-09", "--csv", str(out),
                                                "--by", "staff-kim"])
    assert result.exit_code == 0, result.output
    assert f"{ref} dmz_tour 07:30 party 2: 1 passport(s)  <- MISSING 1" in result.output
    assert "ZHANG WEI                E12345678    CHN 1990-01-01" in result.output
    assert "1 booking, 1 traveler with passport details, 1 still missing" in result.output  # that day: ours only
    with out.open(encoding="utf-8") as f:
        assert list(csv.reader(f))[1][:8] == ["dmz_tour", "2026-12-09", "07:30", ref, "ZHANG WEI", "E12345678",
                                              "CHN", "1990-01-01"]
    with ext.db.session() as s:
        audit = s.scalars(select(AdminAudit).where(AdminAudit.actor == "cli:staff-kim")).all()
    assert [a.path for a in audit][-1].startswith("bookings travelers")

    from bot.bookings import links

    booking = bookings.get(ext.db, ref)
    page = app.test_client().get(f"/p/bookings/{ref}?{links.booking_query(ext.config.bookings.link_secret, booking)}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "护照信息 (1/2)" in html and "E1*****78" in html and "E12345678" not in html


def test_passport_details_are_purged_after_the_tour(app):
    from bot.infra.clock import Clock

    ext = app.extensions["yjy"]
    with ext.db.session() as s:
        s.execute(text("DELETE FROM booking_travelers"))
    booking = bookings.book(ext.db, order("o-purge", seats=1, p=DMZ), NOW)
    assert passports.attach(ext.db, {"dmz_tour"}, "o-purge", ZHANG, NOW).outcome == "added"
    runner = app.test_cli_runner()
    ext.services.clock = Clock(datetime.combine(DAY + timedelta(days=7), datetime.min.time(), SEOUL))
    kept = runner.invoke(args=["bookings", "purge-travelers", "--by", "cron"])
    assert kept.exit_code == 0 and "deleted the passport details of 0 travelers" in kept.output  # a week: kept
    assert passports.travelers(ext.db, [booking.ref])[booking.ref]
    ext.services.clock = Clock(datetime.combine(DAY + timedelta(days=8), datetime.min.time(), SEOUL))
    gone = runner.invoke(args=["bookings", "purge-travelers", "--by", "cron"])
    assert "deleted the passport details of 1 traveler (bookings before 2026-12-06)" in gone.output
    assert passports.travelers(ext.db, [booking.ref])[booking.ref] == []
