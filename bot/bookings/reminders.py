"""The day-before reminder: which bookings get one now, each claimed once across workers.

    for booking in claim_due(db, now): ...send...; on a failure worth retrying: unclaim(db, booking.ref)
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.bookings.lifecycle import Status
from bot.infra.db import Database
from bot.infra.db.models import Booking
from bot.infra.db.results import affected

REMINDED = (Status.PAID.value, Status.CONFIRMED.value)


def claim_due(db: Database, now: datetime) -> list[Booking]:
    """Tomorrow's (Seoul) paid or confirmed bookings not reminded yet, each marked reminded by this caller
    (a conditional UPDATE: a booking another worker claimed meanwhile is left out)."""
    tomorrow = now.date() + timedelta(days=1)
    with db.session() as s:
        found = list(s.scalars(select(Booking).where(Booking.day == tomorrow, Booking.status.in_(REMINDED),
                                                     Booking.reminded_at.is_(None))))
    claimed = []
    for booking in found:
        with db.session() as s:
            done = s.execute(update(Booking).where(Booking.id == booking.id, Booking.reminded_at.is_(None))
                             .values(reminded_at=now))
        if affected(done) == 1:
            claimed.append(booking)
    return claimed


def unclaim(db: Database, ref: str) -> None:
    """The reminder could not be sent (not finally): the next run sends it."""
    with db.session() as s:
        s.execute(update(Booking).where(Booking.ref == ref).values(reminded_at=None))
