"""Privacy and integrity around bookings, on both back-ends: no traveler's details in database errors, a too
long passport name answered in the chat, passport messages sent at once filed one by one, security headers on
every page, the audit keeping `--days 0`."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from flask import Response
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.bookings import links, passports
from bot.bookings import orders as bookings
from bot.bookings.passports import NAME_MAX, NUMBER_MAX, Filed, Passport
from bot.infra.clock import Clock
from bot.infra.db import Database
from bot.infra.db.models import AdminAudit, Booking, BookingTraveler
from bot.web.security import CONTENT_SECURITY_POLICY
from tests.builders import NOW, fresh_db, order, product
from tests.support import WeChat

DMZ = product("dmz_tour", passport=True)


@pytest.fixture
def db(backend, request):  # type: ignore[no-untyped-def]
    # PostgreSQL: a database of this test's own (a copy of the migrated template), whatever other tests left.
    url = request.getfixturevalue("pg_migrated_db") if backend.name == "servers" else backend.database_url
    database = fresh_db(url, DMZ)
    yield database
    database.dispose()


def booked(db: Database, openid: str, seats: int) -> Booking:
    """A confirmed DMZ booking, however the product is paid (a WeChat-paid one would wait for payment)."""
    booking = bookings.book(db, order(openid, seats=seats, p=DMZ), NOW)
    with db.session() as s:
        s.execute(update(Booking).where(Booking.ref == booking.ref).values(status="confirmed"))
    return booking


def travelers_stored(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(BookingTraveler)))


# --- 1. database errors name no traveler ---------------------------------------------------------------
def test_a_database_error_does_not_carry_the_travelers_details(db):
    # PostgreSQL refuses the 90-letter name (DataError); SQLite keeps any length, so a missing
    # column makes it refuse (IntegrityError). Either way the driver's error would list the parameters.
    row = dict(booking_ref="YJNOSUCH", passport_no="EA7654321", name="ZHANG " + "W" * 84,
               nationality="CHN", birth_date=date(1987, 6, 5), received_at=NOW)
    if db.engine.dialect.name == "sqlite":
        row["received_at"] = None
    with pytest.raises(DBAPIError) as info, db.session() as s:
        s.execute(db.insert(BookingTraveler).values(row))
    message = str(info.value)
    assert "parameters hidden" in message
    assert [v for v in ("EA7654321", "WWWWWWWW", "1987-06-05", "1987, 6, 5") if v in message] == []


def test_the_servers_own_row_details_stay_out_of_the_log(db):
    """PostgreSQL quotes the row in its DETAIL line ("Key (...)=(EA7654321)"); the log's formatter masks it."""
    import io
    import logging

    from bot.infra.logs import LINE, ScrubbingFormatter

    booking = booked(db, "o-log", 2)
    row = dict(booking_ref=booking.ref, passport_no="EA7654321", name="ZHANG WEI", nationality="CHN",
               birth_date=date(1987, 6, 5), received_at=NOW)
    with db.session() as s:
        s.execute(db.insert(BookingTraveler).values(row))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(ScrubbingFormatter(LINE))
    log = logging.getLogger("test.privacy.rows")
    log.addHandler(handler)
    try:
        with db.session() as s:  # the same traveler twice: a unique violation
            s.execute(db.insert(BookingTraveler).values(row))
    except DBAPIError:
        log.exception("could not file the traveler")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "could not file the traveler" in text and "IntegrityError" in text
    assert "EA7654321" not in text and "ZHANG WEI" not in text


# --- 2. a name longer than the column, through the chat -----------------------------------------------
def test_a_too_long_passport_name_is_answered_politely_with_the_limit(app, openid):
    ext = app.extensions["yjy"]
    ext.services.clock = Clock(NOW)
    booking = booked(ext.db, openid, 2)
    got = WeChat(app).say(openid, "ZHANG " + "W" * 84 + " E12345678 1990-01-01")["Content"]
    assert got.startswith(f"抱歉，英文姓名最多能登记 {NAME_MAX} 个字母")  # the template says the column's limit
    assert f"{booking.ref}" in got and "已收 0/2 位" in got  # what is still awaited
    assert passports.travelers(ext.db, [booking.ref])[booking.ref] == []
    english = ext.cards.render("passport_ask", "en", problem="name_too_long", waiting=[], names={})
    assert english.startswith(f"Sorry, a name can have at most {NAME_MAX} letters")
    for lang in ("zh-CN", "en"):  # the number's limit (its pattern never matches that long: said all the same)
        said = ext.cards.render("passport_ask", lang, problem="number_too_long", waiting=[], names={})
        assert said.startswith("抱歉" if lang == "zh-CN" else "Sorry") and f" {NUMBER_MAX} " in said


# --- 3. passport messages sent at once -----------------------------------------------------------------
def send_at_once(db: Database, openid: str, n: int) -> list[Filed | None]:
    """`n` different travelers' details for `openid`, all sent at the same moment."""
    start = threading.Barrier(n)

    def send(i: int) -> Filed | None:
        start.wait()
        return passports.attach(db, {"dmz_tour"}, openid, Passport(f"TRAVELER {chr(65 + i)}", f"E{i:08d}", "CHN",
                                                                   date(1990, 1, 1)), NOW)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(send, range(n)))


def test_ten_travelers_at_once_fill_a_party_of_two_and_no_more(db):
    booking = booked(db, "o-ten", 2)
    filed = [f for f in send_at_once(db, "o-ten", 10) if f is not None]
    added = sorted(f.received for f in filed if f.outcome == "added")
    assert added == [1, 2]  # each reply counts the travelers truly there: "已收 1/2", then "已收 2/2"
    assert [(f.outcome, f.received) for f in filed if f.outcome != "added"] == [("full", 2)] * 8
    assert {f.booking.ref for f in filed} == {booking.ref}
    assert travelers_stored(db) == 2


def test_two_travelers_at_once_for_one_seat_store_one(db):
    booked(db, "o-one", 1)
    outcomes = sorted((f.outcome, f.received) for f in send_at_once(db, "o-one", 2) if f is not None)
    assert outcomes == [("added", 1), ("full", 1)]
    assert travelers_stored(db) == 1


# --- 5. security headers -----------------------------------------------------------------------------------
EXPECTED = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", re.IGNORECASE)


def headers_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: response.headers.get(name, "") for name in EXPECTED}


def test_every_page_and_the_api_carry_the_security_headers(app_factory, openid):
    app = app_factory(admin__tokens=["marketing-token-0123456789"])
    app.add_url_rule("/own-policy", view_func=lambda: Response("x", headers={"Content-Security-Policy": "sandbox"}))
    ext = app.extensions["yjy"]
    booking = booked(ext.db, openid, 1)
    query = links.booking_query(ext.config.bookings.link_secret, booking)
    client = app.test_client()
    auth = {"Authorization": "Bearer marketing-token-0123456789"}
    pages = {"/p/products/dmz_tour": 200, "/p/attractions/gyeongbokgung": 200, "/p/info/tax_refund": 200,
             f"/p/bookings/{booking.ref}?{query}": 200, "/p/attractions/atlantis": 404, "/nowhere": 404}
    for path, status in pages.items():
        response = client.get(path)
        assert (response.status_code, headers_of(response)) == (status, EXPECTED), path
        assert not INLINE_SCRIPT.search(response.get_data(as_text=True)), f"{path} needs an inline script"
    assert "<svg" in client.get(f"/p/bookings/{booking.ref}?{query}").get_data(as_text=True)  # QR: inline SVG
    for response in (client.get("/admin/api/broadcasts", headers=auth), client.get("/admin/api/broadcasts")):
        assert response.status_code in (200, 401) and headers_of(response) == EXPECTED
    own = client.get("/own-policy")  # a view's own policy is kept, the other headers added
    assert headers_of(own) == EXPECTED | {"Content-Security-Policy": "sandbox"}


def test_the_simulator_page_works_under_the_policy(app_factory):
    from bot.devtools import simulator

    app = app_factory(simulator__enabled=True)
    simulator.init_app(app)
    client = app.test_client()
    page = client.get("/simulator")
    assert page.status_code == 200 and headers_of(page) == EXPECTED
    html = page.get_data(as_text=True)
    assert not INLINE_SCRIPT.search(html)  # its one script is a file of this origin ('self')
    script = re.search(r'<script src="([^"]+)"', html)
    assert script and script[1].startswith("/simulator/") and client.get(script[1]).status_code == 200


# --- 6. the audit keeps falsy values ------------------------------------------------------------------------
def test_purge_with_days_0_is_audited_with_days_0(app):
    ext = app.extensions["yjy"]
    with ext.db.session() as s:
        s.execute(text("DELETE FROM admin_audit"))
    result = app.test_cli_runner().invoke(args=["bookings", "purge-travelers", "--days", "0", "--by", "cron"])
    assert result.exit_code == 0, result.output
    with ext.db.session() as s:
        paths = s.scalars(select(AdminAudit.path).where(AdminAudit.actor == "cli:cron")).all()
    assert paths == ["bookings purge-travelers --days 0"]
