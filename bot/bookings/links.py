"""Links the cards open: product pages, and booking pages that only their owner's link can open.

A booking link carries an HMAC of the reference and the owner's openid (config `bookings.link_secret`),
so references cannot be guessed into someone else's name and phone number.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from bot.infra.config import Config
from bot.travel.products import Product


def booking_token(secret: str, ref: str, openid: str) -> str:
    digest = hmac.new(secret.encode(), f"booking:{ref}:{openid}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def booking_token_ok(secret: str, ref: str, openid: str, token: str) -> bool:
    return hmac.compare_digest(booking_token(secret, ref, openid), token or "")


def booking_url(config: Config, ref: str, openid: str) -> str:
    return f"{config.public_base_url}/p/bookings/{ref}?t={booking_token(config.bookings.link_secret, ref, openid)}"


def product_url(config: Config, product: Product, lang: str = "zh-CN") -> str:
    suffix = "" if lang == "zh-CN" else f"?lang={lang}"
    return f"{config.public_base_url}/p/products/{product.id}{suffix}"
