"""Bookings in the database: catalogue sync, atomic seats, idempotent confirmation, cancellation rules.

Run on both back-ends; the concurrency tests need PostgreSQL (many connections writing at once).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.bookings import orders as bookings
from bot.broadcasts.segments import parse_segment
from bot.infra.clock import SEOUL
from bot.infra.db import Database
from bot.infra.db.models import Booking, Follower, FollowerInterest, ProductRow, SlotInventory
from tests.builders import DAY, NOW, catalogue, fresh_db, order, product


@pytest.fixture
def db(backend):  # type: ignore[no-untyped-def]
    database = fresh_db(backend.database_url)
    yield database
    database.dispose()


def count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Booking).where(Booking.status == "confirmed"))


# --- catalogue sync -------------------------------------------------------------------------------
def test_sync_is_an_upsert_that_retires_and_can_be_rerun(db):
    again = bookings.sync_catalogue(db, catalogue(product()), NOW.date())
    assert again.unchanged == ["dmz_tour"] and not (again.added or again.updated or again.retired)

    changed = bookings.sync_catalogue(db, catalogue(product(adult_krw=80000), product("nanta_show")), NOW.date())
    assert changed.added == ["nanta_show"] and changed.updated == ["dmz_tour"]

    gone = bookings.sync_catalogue(db, catalogue(product("nanta_show")), NOW.date())
    assert gone.retired == ["dmz_tour"]
    with db.session() as s:
        row = s.get(ProductRow, "dmz_tour")
        assert row is not None and row.retired and row.data["adult_krw"] == 80000  # retired, not deleted
    with pytest.raises(bookings.NotBookable):
        bookings.book(db, order(), NOW)

    back = bookings.sync_catalogue(db, catalogue(product(), product("nanta_show")), NOW.date())
    assert back.updated == ["dmz_tour"]
    assert bookings.book(db, order(), NOW).status == "confirmed"


def test_capacity_change_applies_to_open_days_but_never_below_seats_taken(db):
    bookings.book(db, order(seats=4), NOW)
    bookings.sync_catalogue(db, catalogue(product(capacity=3)), NOW.date())
    assert bookings.remaining(db, product(capacity=3), DAY, "07:30") == 0  # capacity kept at 4 = taken
    bookings.sync_catalogue(db, catalogue(product(capacity=10)), NOW.date())
    assert bookings.remaining(db, product(capacity=10), DAY, "07:30") == 6


# --- booking --------------------------------------------------------------------------------------
def test_booking_takes_seats_and_prices_adults_and_children(db):
    o = replace(order(seats=2), children=1)
    b = bookings.book(db, o, NOW)
    assert b.ref.startswith("YJ") and len(b.ref) == 8
    assert b.price_krw == 2 * 70000 + 50000 and b.total_krw == b.price_krw
    assert bookings.remaining(db, product(), DAY, "07:30") == 2
    assert bookings.remaining(db, product(), DAY, "12:30") == 5  # other slot untouched


def test_sold_out_says_how_many_seats_are_left(db):
    bookings.book(db, order(seats=4), NOW)
    with pytest.raises(bookings.SoldOut) as info:
        bookings.book(db, order(seats=2), NOW)
    assert info.value.remaining == 1
    assert count(db) == 1
    assert bookings.book(db, order(seats=1), NOW).status == "confirmed"
    with pytest.raises(bookings.SoldOut) as info:
        bookings.book(db, order(seats=1), NOW)
    assert info.value.remaining == 0


def test_same_flow_confirmed_twice_makes_one_booking(db):
    first = bookings.book(db, order(key="flow-1"), NOW)
    second = bookings.book(db, order(key="flow-1"), NOW)
    assert first.ref == second.ref and count(db) == 1
    assert bookings.remaining(db, product(), DAY, "07:30") == 4


def test_flow_keys_are_per_follower(db):
    a = bookings.book(db, order("o-a", key="same"), NOW)
    b = bookings.book(db, order("o-b", key="same"), NOW)
    assert a.ref != b.ref and count(db) == 2


def test_group_request_takes_no_seats_and_is_idempotent(db):
    o = order(seats=12, key="group-1")
    first = bookings.request_group(db, o, NOW)
    assert first.ref.startswith("GR") and first.status == "new"
    assert bookings.request_group(db, o, NOW).ref == first.ref
    assert bookings.remaining(db, product(), DAY, "07:30") == 5


def interests(db: Database) -> set[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(select(FollowerInterest.openid, FollowerInterest.category))
        return {(row.openid, row.category) for row in rows}


def test_a_booking_or_group_request_counts_as_interest_in_the_products_categories(db):
    dmz = product(interests=("palace_history", "museum_culture"))
    with pytest.raises(bookings.SoldOut):
        bookings.book(db, order("o-full", seats=6, p=dmz), NOW)
    assert interests(db) == set()  # nothing booked, nothing recorded
    bookings.book(db, order("o-1", p=dmz), NOW)
    bookings.book(db, order("o-1", p=dmz), NOW)  # booked again: still one row per category
    bookings.request_group(db, order("o-2", seats=12, p=product(interests=("palace_history",))), NOW)
    assert interests(db) == {("o-1", "palace_history"), ("o-1", "museum_culture"), ("o-2", "palace_history")}
    with db.session() as s:
        s.merge(Follower(openid="o-1", subscribed=True, created_at=NOW))
    assert list(parse_segment({"interests": ["museum_culture"]}).openids_in(db)) == ["o-1"]


# --- cancellation ---------------------------------------------------------------------------------
def test_cancel_frees_the_seats_once(db):
    b = bookings.book(db, order(seats=3), NOW)
    result = bookings.cancel(db, catalogue(product()), "o-1", b.ref.lower(), NOW)
    assert result.status == "cancelled" and result.booking.status == "cancelled"
    assert bookings.remaining(db, product(), DAY, "07:30") == 5
    assert bookings.cancel(db, catalogue(product()), "o-1", b.ref, NOW).status == "already"
    assert bookings.remaining(db, product(), DAY, "07:30") == 5


def test_cancel_follows_the_products_rules(db):
    b = bookings.book(db, order(), NOW)
    start = datetime(2026, 12, 5, 7, 30, tzinfo=SEOUL)
    cat = catalogue(product())
    late = bookings.cancel(db, cat, "o-1", b.ref, start - timedelta(hours=47))
    assert late.status == "too_late" and late.deadline == start - timedelta(hours=48)
    assert bookings.cancel(db, cat, "o-1", b.ref, start + timedelta(minutes=1)).status == "past"
    assert bookings.cancel(db, cat, "o-1", b.ref, start - timedelta(hours=49)).status == "cancelled"


def test_only_the_owner_can_cancel(db):
    b = bookings.book(db, order("o-owner"), NOW)
    assert bookings.cancel(db, catalogue(product()), "o-stranger", b.ref, NOW).status == "not_found"
    assert bookings.cancel(db, catalogue(product()), "o-owner", "YJ2222222", NOW).status == "not_found"
    assert count(db) == 1


def test_retired_product_keeps_the_rules_it_was_sold_with(db):
    b = bookings.book(db, order(), NOW)
    bookings.sync_catalogue(db, catalogue(), NOW.date())  # removed from the file
    start = datetime(2026, 12, 5, 7, 30, tzinfo=SEOUL)
    assert bookings.cancel(db, catalogue(), "o-1", b.ref, start - timedelta(hours=47)).status == "too_late"
    assert bookings.cancel(db, catalogue(), "o-1", b.ref, start - timedelta(hours=49)).status == "cancelled"


def test_listing_is_per_follower(db):
    bookings.book(db, order("o-a"), NOW)
    bookings.book(db, order("o-a", slot="12:30"), NOW)
    bookings.book(db, order("o-b"), NOW)
    assert {b.slot for b in bookings.for_follower(db, "o-a")} == {"07:30", "12:30"}
    assert len(bookings.for_follower(db, "o-b")) == 1


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------
@pytest.mark.servers
def test_fifty_concurrent_confirmations_for_the_last_five_seats(pg_url):
    p = product("last_seats", capacity=105)
    db = fresh_db(pg_url, p)
    bookings.book(db, order("o-early", seats=100, p=p), NOW)  # 5 seats left
    start = threading.Barrier(50)
    outcomes: list[str] = []

    def confirm(i: int) -> str:
        start.wait()
        try:
            return bookings.book(db, order(f"o-{i}", p=p), NOW).ref
        except bookings.SoldOut:
            return "sold out"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(confirm, range(50)))
    assert outcomes.count("sold out") == 45
    refs = [o for o in outcomes if o != "sold out"]
    assert len(set(refs)) == 5
    with db.session() as s:
        row = s.get(SlotInventory, ("last_seats", DAY, "07:30"))
        assert (row.taken, row.capacity) == (105, 105)
        assert s.scalar(select(func.count()).select_from(Booking).where(Booking.product_id == "last_seats")) == 6
    db.dispose()


@pytest.mark.servers
def test_double_tap_from_many_connections_makes_one_booking(pg_url):
    p = product("double_tap")
    db = fresh_db(pg_url, p)
    start = threading.Barrier(10)

    def confirm(_: int) -> str:
        start.wait()
        return bookings.book(db, order("o-tapper", seats=2, key="one-flow", p=p), NOW).ref

    with ThreadPoolExecutor(10) as pool:
        refs = set(pool.map(confirm, range(10)))
    assert len(refs) == 1
    assert bookings.remaining(db, p, DAY, "07:30") == 3
    db.dispose()
