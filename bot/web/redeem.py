"""The partner's side of a booking: the QR code's redemption link, opened by venue staff.

    GET  /r/<ref>?e=..&s=..          the booking as staff need it (party, time, passport details received,
                                     status), or a staff login form when the browser has no staff login
    POST /r/login                    a staff token (config bookings.staff / STAFF_TOKENS) -> a signed cookie
    POST /r/<ref>/redeem?e=..&s=..   redeem it once; a second scan says when and by whom it was redeemed

A wrong or expired link is a plain 404; the cookie is HttpOnly, SameSite=Strict and lasts a working day.
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.bookings import links, passports, redemption
from bot.bookings import orders as bookings
from bot.infra.clock import in_seoul
from bot.infra.config import StaffLogin
from bot.web.pages import html_page, mask_phone, not_found, page_lang, private

bp = Blueprint("redeem", __name__, url_prefix="/r")
COOKIE = "yjy_staff"
LOGIN_SECONDS = 12 * 3600


def _services() -> Any:
    return current_app.extensions["yjy"].services


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_services().config.bookings.link_secret, salt="staff-login")


def _login() -> StaffLogin | None:
    """The staff member this browser logged in as, if their login is still configured."""
    try:
        name = _signer().loads(request.cookies.get(COOKIE, ""), max_age=LOGIN_SECONDS)
    except BadSignature:
        return None
    return next((login for login in _services().config.bookings.staff if login.name == name), None)


def _booking(ref: str) -> Any:
    s = _services()
    if len(ref) > 12 or not links.redeem_link_ok(s.config.bookings.link_secret, ref.upper(), request.args,
                                                 s.clock.now().date()):
        return None
    return bookings.get(s.db, ref)


def _page(booking: Any, login: StaffLogin, result: str = "", status: int = 200) -> Response:
    s = _services()
    product = s.content.products.get(booking.product_id)
    travelers = passports.travelers(s.db, [booking.ref])[booking.ref] if product and product.passport else None
    return private(html_page(s.cards.page("redeem", page_lang(), booking=booking, login=login, result=result,
                                       phone=mask_phone(booking.phone), travelers=travelers,
                                       today=s.clock.now().date(), query=request.query_string.decode(),
                                       redeemed_at=f"{in_seoul(booking.redeemed_at):%Y-%m-%d %H:%M}"
                                       if booking.redeemed_at else ""),
                          status=status))


@bp.get("/<ref>")
def show(ref: str) -> Response:
    booking = _booking(ref)
    if booking is None:
        return not_found()
    login = _login()
    if login is None:
        return private(html_page(_services().cards.page("staff_login", page_lang(), next=request.full_path,
                                                        failed=False)))
    if not redemption.may_see(login, booking):
        return not_found()
    return _page(booking, login)


@bp.post("/<ref>/redeem")
def redeem(ref: str) -> Response:
    booking = _booking(ref)
    login = _login()
    if booking is None or login is None:
        return not_found()
    s = _services()
    result = redemption.redeem(s.db, booking.ref, login, s.clock.now())
    if result.outcome in ("not_found", "not_yours"):
        return not_found()
    return _page(result.booking, login, result.outcome, status=200 if result.outcome == "redeemed" else 409)


@bp.post("/login")
def login() -> Any:
    token = request.form.get("token", "")
    found = None
    for candidate in _services().config.bookings.staff:  # every one compared, in constant time
        if hmac.compare_digest(candidate.token.encode(), token.encode()):
            found = candidate
    target = request.form.get("next", "")
    if found is None or not target.startswith("/r/"):
        return private(html_page(_services().cards.page("staff_login", page_lang(), next=target, failed=True), 403))
    response = redirect(target, code=303)
    response.set_cookie(COOKIE, _signer().dumps(found.name), max_age=LOGIN_SECONDS, httponly=True,
                        samesite="Strict", secure=request.is_secure, path="/r/")
    return private(response)
