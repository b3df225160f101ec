"""Redemption at the venue: the QR code's signed link, a staff login, redeemed once, on the day, by whom."""
from __future__ import annotations

import re
from datetime import datetime
from html import unescape

import pytest

from bot.bookings import orders
from bot.infra.clock import SEOUL, Clock
from tests.app.test_booking_chat import book_nanta
from tests.support import Payer, WeChat

KIM = "kim:kim-token-0123456789abcdef:nanta_show"
PARK = "park:park-token-0123456789abcdef:dmz_tour"
SHOW_DAY = datetime(2026, 12, 5, 19, 30, tzinfo=SEOUL)


@pytest.fixture
def staff_app(app_factory):  # type: ignore[no-untyped-def]
    return app_factory(bookings__staff=[KIM, PARK])


def _qr_link(app, ref: str, openid: str) -> str:  # type: ignore[no-untyped-def]
    """The redemption link the booking page's QR code holds (read from the page's own data)."""
    from bot.bookings import links

    ext = app.extensions["yjy"]
    booking = orders.get(ext.db, ref)
    page = app.test_client().get(links.booking_url(ext.config, booking).removeprefix(ext.config.public_base_url))
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    url = links.redeem_url(ext.config, booking)
    return url.removeprefix(ext.config.public_base_url)


def _login(client, token: str, target: str):  # type: ignore[no-untyped-def]
    return client.post("/r/login", data={"token": token, "next": target})


def test_staff_redeem_once_and_a_second_scan_says_when_and_by_whom(staff_app, fake_pay, openid):
    ref, _ = book_nanta(staff_app, openid)
    Payer(staff_app, fake_pay).pay(ref)
    link = _qr_link(staff_app, ref, openid)
    client = staff_app.test_client()

    anonymous = client.get(link).get_data(as_text=True)
    assert "工作人员登录" in anonymous and "张伟" not in anonymous and "5678" not in anonymous  # nothing without a login
    assert _login(client, "wrong-token-0123456789", link).status_code == 403
    logged = _login(client, "kim-token-0123456789abcdef", link)
    assert logged.status_code == 303 and "HttpOnly" in logged.headers["Set-Cookie"]
    assert "SameSite=Strict" in logged.headers["Set-Cookie"]

    staff_app.extensions["yjy"].services.clock = Clock(SHOW_DAY)
    page = client.get(link).get_data(as_text=True)
    assert ref in page and "确认核销" in page and "+86 138****5678" in page and "13812345678" not in page
    path, _, query = link.partition("?")
    done = client.post(f"{path}/redeem?{query}")
    assert done.status_code == 200 and "已核销" in done.get_data(as_text=True)
    again = client.post(f"{path}/redeem?{query}")
    text = unescape(again.get_data(as_text=True))
    assert again.status_code == 409 and "2026-12-05 19:30" in text and "kim" in text and "不能重复使用" in text

    booking = orders.get(staff_app.extensions["yjy"].db, ref)
    assert booking.status == "redeemed" and booking.redeemed_by == "kim"
    # A redeemed order cannot be cancelled (nor refunded) by the traveler.
    staff_app.extensions["yjy"].services.clock = Clock(datetime(2026, 12, 5, 19, 0, tzinfo=SEOUL))
    assert "已经到场核销" in WeChat(staff_app).say(openid, f"取消订单 {ref}")["Content"]


def test_redeem_refused_on_another_day_unpaid_or_by_another_partner(staff_app, fake_pay, openid):
    ref, _ = book_nanta(staff_app, openid)
    link = _qr_link_unpaid(staff_app, ref)
    client = staff_app.test_client()
    _login(client, "kim-token-0123456789abcdef", link)
    path, _, query = link.partition("?")
    unpaid = client.post(f"{path}/redeem?{query}")
    assert unpaid.status_code == 409 and "不能核销" in unpaid.get_data(as_text=True)  # not paid: not admitted

    Payer(staff_app, fake_pay).pay(ref)
    staff_app.extensions["yjy"].services.clock = Clock(datetime(2026, 12, 4, 19, 30, tzinfo=SEOUL))
    early = client.post(f"{path}/redeem?{query}")
    assert early.status_code == 409 and "今天不能核销" in early.get_data(as_text=True)

    other = staff_app.test_client()  # the DMZ partner's login sees no NANTA booking at all
    _login(other, "park-token-0123456789abcdef", link)
    assert other.get(link).status_code == 404 and other.post(f"{path}/redeem?{query}").status_code == 404
    assert orders.get(staff_app.extensions["yjy"].db, ref).status == "paid"


def test_forged_or_expired_redemption_links_show_nothing(staff_app, fake_pay, openid):
    ref, _ = book_nanta(staff_app, openid)
    link = _qr_link_unpaid(staff_app, ref)
    client = staff_app.test_client()
    _login(client, "kim-token-0123456789abcdef", link)
    forged = re.sub(r"s=[^&]+", "s=AAAAAAAAAAAAAAAAAAAAAA", link)
    assert client.get(forged).status_code == 404
    assert client.get(link.replace("e=2026", "e=2027")).status_code == 404  # the expiry is signed too
    staff_app.extensions["yjy"].services.clock = Clock(datetime(2026, 12, 13, 10, 0, tzinfo=SEOUL))
    assert client.get(link).status_code == 404  # a week after the show


def test_booking_links_expire_a_week_after_the_tour_and_cancelled_ones_show_no_details(app, openid):
    from bot.bookings import links

    ref, url = book_nanta(app, openid)
    ext = app.extensions["yjy"]
    path = url.removeprefix(ext.config.public_base_url)
    client = app.test_client()
    ext.services.clock = Clock(datetime(2026, 12, 12, 23, 0, tzinfo=SEOUL))
    assert client.get(path).status_code == 200  # the last day
    ext.services.clock = Clock(datetime(2026, 12, 13, 0, 1, tzinfo=SEOUL))
    assert client.get(path).status_code == 404
    booking = orders.get(ext.db, ref)
    assert links.expires(booking) == "20261212"

    ext.services.clock = Clock(datetime(2026, 11, 25, 11, 0, tzinfo=SEOUL))
    WeChat(app).say(openid, f"取消订单 {ref}")
    closed = client.get(path).get_data(as_text=True)
    assert "已取消" in closed and "张伟" not in closed and "5678" not in closed and "<svg" not in closed


def _qr_link_unpaid(app, ref: str) -> str:  # type: ignore[no-untyped-def]
    from bot.bookings import links

    ext = app.extensions["yjy"]
    return links.redeem_url(ext.config, orders.get(ext.db, ref)).removeprefix(ext.config.public_base_url)
