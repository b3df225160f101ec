"""Mobile pages the cards link to: small, readable on slow roaming data, no inline scripts (the booking page loads
its pay button's script from our origin)."""
from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import segno
from flask import Blueprint, Response, current_app, request
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from bot.bookings import links, passports
from bot.bookings import orders as bookings
from bot.conversation.cards import DEFAULT_LANG
from bot.infra.clock import in_seoul
from bot.infra.db.models import Booking

bp = Blueprint("pages", __name__, url_prefix="/p")
ResponseT = TypeVar("ResponseT", bound=BaseResponse)


def page_lang() -> str:
    cards = current_app.extensions["yjy"].cards
    return cards.lang(request.args.get("lang", DEFAULT_LANG))


def html_page(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=300"  # the open/closed line ages
    return response


@bp.get("/attractions/<place_id>")
def attraction(place_id: str) -> Response:
    s = current_app.extensions["yjy"].services
    lang = page_lang()
    place = s.content.places.get(place_id)
    if place is None:
        return not_found()
    now = s.clock.now()
    name_zh = quote(place.name["zh-CN"])
    return html_page(s.cards.page(
        "attraction", lang, place=place, checked=s.content.places.checked,
        status=s.cards.status_line(place.status(now), lang, now),
        navigate_url=(f"https://uri.amap.com/marker?position={place.lng},{place.lat}&name={name_zh}"
                      "&coordinate=wgs84&callnative=1&src=yijiyou"),
        naver_url=f"https://map.naver.com/p/search/{quote(place.name.get('ko') or place.name['en'])}",
        map_url=f"https://www.openstreetmap.org/?mlat={place.lat}&mlon={place.lng}#map=17/{place.lat}/{place.lng}",
    ))


@bp.get("/info/<topic_id>")
def info(topic_id: str) -> Response:
    s = current_app.extensions["yjy"].services
    lang = page_lang()
    if topic_id == "tax_refund":
        return html_page(s.cards.page("tax", lang, rules=s.content.tax))
    topic = s.content.topics.items.get(topic_id)
    if topic is None:
        return not_found()
    return html_page(s.cards.page("info", lang, topic=topic))


@bp.get("/products/<product_id>")
def product(product_id: str) -> Response:
    s = current_app.extensions["yjy"].services
    item = s.content.products.get(product_id)
    if item is None:
        return not_found()
    adult_cny, rate_day = s.rates.yuan_estimate(item.adult_krw)
    return html_page(s.cards.page("product", page_lang(), product=item, adult_cny=adult_cny, rate_day=rate_day,
                              checked=s.content.products.checked))


def linked_booking(ref: str) -> Booking | None:
    """The booking behind its owner's signed, unexpired link, or None (a wrong token looks like an unknown
    reference). The page, and its pay and status calls."""
    s = current_app.extensions["yjy"].services
    found = bookings.get(s.db, ref) if len(ref) <= 12 else None
    if found is None or not links.opens(s.config.bookings.link_secret, found, request.args, s.clock.now().date()):
        return None
    return found


@bp.get("/bookings/<ref>")
def booking(ref: str) -> Response:
    """Only through the owner's signed link: a wrong token looks exactly like an unknown reference."""
    s = current_app.extensions["yjy"].services
    found = linked_booking(ref)
    if found is None:
        return not_found()
    item = s.content.products.get(found.product_id)
    free_until = item.free_cancel_until(found.day, found.slot).strftime("%Y-%m-%d %H:%M") if item else ""
    if found.status in ("cancelled", "expired", "refunded"):  # nothing to show but that it is over
        return private(html_page(s.cards.page("booking_closed", page_lang(), booking=found)))
    # The partner's staff scan it: a signed redemption link, useless without a staff login.
    qr = segno.make(links.redeem_url(s.config, found), error="m").svg_inline(scale=4, border=2)
    travelers = passports.travelers(s.db, [found.ref])[found.ref] if item and item.passport else None
    pay: dict = {}
    if found.status == "pending_payment" and found.hold_until is not None:
        cny, rate_day = s.rates.yuan_estimate(found.total_krw)
        pay = dict(pay_query=links.booking_query(s.config.bookings.link_secret, found),
                   hold_until=f"{in_seoul(found.hold_until):%H:%M}",
                   simulated=s.config.pay.simulated, cny=cny, rate_day=rate_day)
    return private(html_page(s.cards.page("booking", page_lang(), booking=found, product=item,
                                          free_until=free_until, phone=mask_phone(found.phone), qr_svg=Markup(qr),
                                          travelers=travelers, mask=passports.mask, **pay)))


def private(response: ResponseT) -> ResponseT:
    response.headers["Cache-Control"] = "private, no-store"  # a traveler's booking, not for shared caches
    return response


def mask_phone(phone: str) -> str:
    """+8613812345678 -> +86 138****5678: the page may be forwarded; staff have the full number."""
    country, number = phone[:3], phone[3:]
    return f"{country} {number[:3]}{'*' * max(len(number) - 7, 0)}{number[-4:]}"


def not_found(_exc: Exception | None = None) -> Response:
    """The friendly 404 page (also for URLs outside /p/: `bot.errors`)."""
    cards = current_app.extensions["yjy"].cards
    return html_page(cards.page("not_found", page_lang()), status=404)
