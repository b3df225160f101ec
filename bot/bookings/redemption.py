"""Redeeming a booking at the venue: once, by a named staff member, on the booking's day.

    result = redeem(db, "YJ7K4M2P", login, now)   # Redeemed(outcome="redeemed" | "already" | ...)

A paid (or on-site confirmed) booking moves to `redeemed` through the lifecycle (so the history row names who
redeemed it); a second scan finds it redeemed and says when and by whom. A redeemed order can no longer be
cancelled or refunded by the traveler.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.bookings import orders
from bot.bookings.lifecycle import Status, move
from bot.infra.config import StaffLogin
from bot.infra.db import Database
from bot.infra.db.models import Booking

Outcome = Literal["redeemed", "already", "not_today", "not_redeemable", "not_yours", "not_found"]
REDEEMABLE = (Status.PAID, Status.CONFIRMED)


@dataclass(frozen=True)
class Redeemed:
    outcome: Outcome
    booking: Booking | None = None


def may_see(login: StaffLogin, booking: Booking) -> bool:
    """A partner's login sees only its own products' bookings."""
    return not login.products or booking.product_id in login.products


def redeem(db: Database, ref: str, login: StaffLogin, now: datetime) -> Redeemed:
    for _ in range(3):  # another scan moved it meanwhile: look again
        booking = orders.get(db, ref)
        if booking is None:
            return Redeemed("not_found")
        if not may_see(login, booking):
            return Redeemed("not_yours")
        status = Status(booking.status)
        if status is Status.REDEEMED:
            return Redeemed("already", booking)
        if status not in REDEEMABLE:
            return Redeemed("not_redeemable", booking)
        if booking.day != now.date():
            return Redeemed("not_today", booking)
        with db.session() as s:
            if move(s, booking, Status.REDEEMED, actor=f"staff:{login.name}", now=now, reason="redeemed",
                    redeemed_at=now, redeemed_by=login.name):
                return Redeemed("redeemed", orders.get(db, ref))
    return Redeemed("already", orders.get(db, ref))
