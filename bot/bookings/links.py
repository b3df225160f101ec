"""Links the cards open: product pages, booking pages only their owner's link opens, redemption links.

A booking link carries an expiry day and an HMAC of the reference, the owner's openid and that day (config
`bookings.link_secret`): references cannot be guessed into someone else's name and phone number, and a link
stops working a week after the tour. The QR code on the booking page holds a redemption link signed the same
way for the partner's staff (it shows nothing without a staff login).

    booking_url(config, booking)   -> https://.../p/bookings/YJ7K4M2P?e=20261216&t=...
    redeem_url(config, booking)    -> https://.../r/YJ7K4M2P?e=20261216&s=...
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date, datetime, timedelta
from typing import Mapping, Protocol

from bot.infra.config import Config
from bot.travel.products import Product

LINK_DAYS_AFTER = 7  # refunds, complaints and receipts still need the page for a while after the tour


class _Booking(Protocol):
    ref: str
    openid: str
    day: date


def expires(booking: _Booking) -> str:
    """The last day (Seoul) a link to the booking opens, as YYYYMMDD."""
    return f"{booking.day + timedelta(days=LINK_DAYS_AFTER):%Y%m%d}"


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def booking_token(secret: str, ref: str, openid: str, until: str) -> str:
    return _mac(secret, f"booking:{ref}:{openid}:{until}")


def booking_query(secret: str, booking: _Booking) -> str:
    until = expires(booking)
    return f"e={until}&t={booking_token(secret, booking.ref, booking.openid, until)}"


def booking_url(config: Config, booking: _Booking) -> str:
    return f"{config.public_base_url}/p/bookings/{booking.ref}?{booking_query(config.bookings.link_secret, booking)}"


def _unexpired(until: str, today: date) -> bool:
    try:
        return datetime.strptime(until, "%Y%m%d").date() >= today
    except ValueError:
        return False


def opens(secret: str, booking: _Booking, args: Mapping[str, str], today: date) -> bool:
    """Whether a request's `e` and `t` open this booking's page today (a wrong token looks like no booking)."""
    until = args.get("e", "")
    ok = hmac.compare_digest(booking_token(secret, booking.ref, booking.openid, until), args.get("t", ""))
    return ok and _unexpired(until, today)


def redeem_url(config: Config, booking: _Booking) -> str:
    until = expires(booking)
    signature = _mac(config.bookings.link_secret, f"redeem:{booking.ref}:{until}")
    return f"{config.public_base_url}/r/{booking.ref}?e={until}&s={signature}"


def redeem_link_ok(secret: str, ref: str, args: Mapping[str, str], today: date) -> bool:
    until = args.get("e", "")
    ok = hmac.compare_digest(_mac(secret, f"redeem:{ref}:{until}"), args.get("s", ""))
    return ok and _unexpired(until, today)


def product_url(config: Config, product: Product, lang: str = "zh-CN") -> str:
    suffix = "" if lang == "zh-CN" else f"?lang={lang}"
    return f"{config.public_base_url}/p/products/{product.id}{suffix}"
