"""Migration 0011 on a database with bookings made before payments existed: they stay confirmed, marked legacy,
and no history is invented for them; downgrading and upgrading again keeps them. Both back-ends."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select, text

from bot.infra.db import Database
from bot.infra.db.models import Booking, BookingEvent
from tests.builders import BOOKING_TABLES

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _old_booking(db: Database) -> None:
    """A booking as the code of migration 0010 wrote it (no payment columns yet)."""
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO products (id, name, data, retired, synced_at) "
                          "VALUES ('nanta_show', '乱打秀', '{}', false, :now)"), {"now": NOW})
        conn.execute(text(
            "INSERT INTO bookings (ref, idempotency_key, openid, product_id, day, slot, adults, children, "
            "contact_name, phone, created_at, product_name, price_krw, discount_krw, status, lang) VALUES "
            "('YJOLD222', 'o-old:flow', 'o-old', 'nanta_show', :day, '20:00', 2, 0, '张伟', '+8613812345678', "
            ":now, '乱打秀', 110000, 0, 'confirmed', 'zh-CN')"), {"day": date(2026, 12, 9), "now": NOW})


def test_bookings_made_before_payments_stay_confirmed_as_legacy(backend):  # type: ignore[no-untyped-def]
    db = Database(backend.database_url)
    try:
        db.upgrade()
        with db.engine.begin() as conn:  # the servers back-end shares one schema: no bookings of other tests
            for table in BOOKING_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        _downgrade(db, "0010")
        _old_booking(db)
        db.upgrade()
        with db.session() as s:
            booking = s.scalars(select(Booking)).one()
            assert (booking.status, booking.payment, booking.hold_until) == ("confirmed", "legacy", None)
            assert s.scalar(select(func.count()).select_from(BookingEvent)) == 0
        _downgrade(db, "0010")  # and back: the booking survives both ways
        db.upgrade()
        with db.session() as s:
            assert s.scalars(select(Booking)).one().payment == "legacy"
            for table in BOOKING_TABLES:
                s.execute(text(f"DELETE FROM {table}"))
    finally:
        db.dispose()


def _downgrade(db: Database, revision: str) -> None:
    from alembic import command

    from bot.infra.db import alembic_config

    command.downgrade(alembic_config(db.url), revision)
