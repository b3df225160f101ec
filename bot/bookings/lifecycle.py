"""Order statuses and the one way they change: a conditional UPDATE plus a BookingEvent row.

    pending_payment ──paid──▶ paid ──redeemed──▶ redeemed
          │  └─expired─▶ expired ──paid (late, seats free again)──▶ paid
          │                 └──refunding (late, no seats left)──▶ refunded
          └─cancelled (──refunding, if it is paid after all)
                            paid ──refunding (cancelled in time)──▶ refunded
    confirmed (on-site payment, or booked before payments existed) ──▶ redeemed | cancelled

`move` changes a status only when the row still has the status the caller saw, so two workers (a notification
and the expiry job, a repeated notification, a double tap) can never both apply a move: the loser gets False
and rereads. Nothing edits `status` anywhere else.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.infra.db.models import Booking, BookingEvent
from bot.infra.db.results import affected


class Status(StrEnum):
    PENDING = "pending_payment"
    PAID = "paid"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    CONFIRMED = "confirmed"


# Statuses whose seats count as taken in slot_inventory.
HOLDING = frozenset({Status.PENDING, Status.PAID, Status.REDEEMED, Status.CONFIRMED})
# The traveler is coming: checkpoint lists, passport details, reminders.
GOING = frozenset({Status.PAID, Status.REDEEMED, Status.CONFIRMED})

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PAID, Status.CANCELLED, Status.EXPIRED}),
    Status.EXPIRED: frozenset({Status.PAID, Status.REFUNDING}),
    Status.CANCELLED: frozenset({Status.REFUNDING}),  # paid after the traveler cancelled: the money goes back
    Status.PAID: frozenset({Status.REDEEMED, Status.REFUNDING}),
    Status.REFUNDING: frozenset({Status.REFUNDED}),
    Status.CONFIRMED: frozenset({Status.REDEEMED, Status.CANCELLED}),
}


class IllegalMove(ValueError):
    """A move the lifecycle does not have (a bug in the caller, never a race)."""


def move(s: Session, booking: Booking, to: Status, *, actor: str, now: datetime, reason: str = "",
         detail: dict[str, Any] | None = None, **values: Any) -> bool:
    """Move `booking` from the status it was read with to `to`, setting `values` too; False when another
    transaction moved it first (nothing is changed then). Runs in the caller's transaction."""
    current = Status(booking.status)
    if to not in ALLOWED.get(current, frozenset()):
        raise IllegalMove(f"{booking.ref}: {current} -> {to}")
    result = s.execute(update(Booking).where(Booking.id == booking.id, Booking.status == current.value)
                       .values(status=to.value, **values))
    if affected(result) != 1:
        return False
    s.add(BookingEvent(booking_ref=booking.ref, at=now, from_status=current.value, to_status=to.value,
                       actor=actor, reason=reason, detail=detail or {}))
    return True


def created(s: Session, booking: Booking, *, actor: str, now: datetime, reason: str = "") -> None:
    """The first history row of a new order."""
    s.add(BookingEvent(booking_ref=booking.ref, at=now, from_status=None, to_status=booking.status, actor=actor,
                       reason=reason, detail={}))
