"""Staff operations on bookings: a day's orders, group requests, manual refunds, resent confirmations, an order's
history, the DMZ checkpoint list of a day (who travels, with their passport details, and who is still missing)
and the purge of passport details once tours are over. The CLI (`bot/cli/bookings.py`), the admin API
(`bot/web/admin_api/orders.py`) and the console (`bot/web/console/orders.py`) call these; they never query the
tables themselves.

    staff = Staff(db, content.products, clock, queue=queue, template_id=config.bookings.template_id)
    staff.orders(date(2026, 12, 9), product_id="dmz_tour", status="paid")   # DayOrders, totals per status
    staff.history("YJ2ABCDE")                                # the order, its BookingEvent rows and refunds
    staff.traveler_orders("o6_bm...", limit=5)               # a traveler's latest orders, newest first
    staff.refund("YJ2ABCDE", reason="tour cancelled by the partner", by="mei")   # paid -> refunding, queued
    staff.resend_confirmation("YJ2ABCDE")                    # the template message, queued again
    staff.group_requests("new"); staff.set_group_status("GR2ABCDE", "contacted", by="mei")
    found = staff.checkpoint_list(date(2026, 12, 9))         # UnknownProduct for a product id not in content
    write_csv(found, "checkpoint.csv")                       # passport numbers in full: mode 0600, delete it after
    deleted, before = staff.purge_travelers(days=7)

Refusals are exceptions whose message is meant for the person at the keyboard: NotFound (no such reference),
Invalid (a bad value, naming its field), Refused (not for an order in this status, or not configured),
QueueDown (the job queue did not take the job).
"""
from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from redis import RedisError
from sqlalchemy import select, update

from bot.bookings import orders, passports
from bot.bookings.lifecycle import GOING, Status, move
from bot.infra import queue as jobs
from bot.infra.clock import Clock
from bot.infra.db import Database
from bot.infra.db.models import Booking, BookingEvent, BookingTraveler, GroupRequest, ProductRow, Refund
from bot.infra.db.results import affected
from bot.infra.text import inert
from bot.travel.products import Catalogue

if TYPE_CHECKING:
    from rq import Queue
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CSV_HEADER = ["product", "day", "slot", "booking", "name", "passport_no", "nationality", "birth_date", "contact",
              "phone"]


REASON_MAX = 80  # Refund.reason, and WeChat Pay's limit: the traveler sees it in the refund notice
GROUP_STATUSES = ("new", "contacted", "closed")
# A group request moves forward only: new -> contacted -> closed, or straight to closed.
GROUP_MOVES: dict[str, tuple[str, ...]] = {"contacted": ("new",), "closed": ("new", "contacted")}
# Refunds that did not pay anything back (WeChat Pay closed them): not counted against what is left to refund.
_FAILED_REFUNDS = ("CLOSED",)


class StaffError(Exception):
    """What the staff service refuses, with the HTTP status an API or page answers it with and, for a value
    staff gave, the `field` it names."""

    status = 409
    field: str | None = None


class UnknownProduct(StaffError, LookupError):
    """A product id that is not in content/products.yaml."""

    status, field = 400, "product"


class NotFound(StaffError, LookupError):
    """No order or group request with that reference."""

    status = 404


class Invalid(StaffError, ValueError):
    """A value staff gave that cannot be used; `field` names it (`status`, `amount_krw`, `reason`)."""

    status = 400
    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class Refused(StaffError):
    """Not for this order or request as it is now (its status), or not configured; the message says why."""


class QueueDown(StaffError):
    """The job queue did not take the job (Redis down): nothing was queued."""

    status = 503


@dataclass(frozen=True)
class CheckpointBooking:
    booking: Booking
    travelers: list[BookingTraveler]  # those who sent their passport details, in the order they did

    @property
    def party(self) -> int:
        return self.booking.adults + self.booking.children

    @property
    def missing(self) -> int:
        return max(self.party - len(self.travelers), 0)


@dataclass(frozen=True)
class CheckpointList:
    """A day's confirmed bookings of products that need passports, by product, slot and reference."""

    day: date
    bookings: list[CheckpointBooking]

    @property
    def travelers(self) -> int:
        return sum(len(b.travelers) for b in self.bookings)

    @property
    def missing(self) -> int:
        return sum(b.missing for b in self.bookings)

    def rows(self) -> list[list[str]]:
        """One row per traveler, in CSV_HEADER's columns."""
        rows: list[list[str]] = []
        for entry in self.bookings:
            b = entry.booking
            rows.extend([b.product_id, b.day.isoformat(), b.slot, b.ref, t.name, t.passport_no, t.nationality,
                         t.birth_date.isoformat(), b.contact_name, b.phone] for t in entry.travelers)
        return rows


@dataclass(frozen=True)
class StatusTotal:
    orders: int
    krw: int


@dataclass(frozen=True)
class DayOrders:
    """A day's orders (of one product, or in one status, when asked), by product, slot and reference."""

    day: date
    orders: list[Booking]

    @property
    def totals(self) -> dict[str, StatusTotal]:
        """Orders and KRW per status present, in the lifecycle's order of statuses."""
        found: dict[str, StatusTotal] = {}
        for status in Status:
            these = [b for b in self.orders if b.status == status.value]
            if these:
                found[status.value] = StatusTotal(len(these), sum(b.total_krw for b in these))
        return found


@dataclass(frozen=True)
class OrderHistory:
    """An order, every move of its status (BookingEvent rows, oldest first) and its refunds."""

    booking: Booking
    events: list[BookingEvent]
    refunds: list[Refund]

    @property
    def refunded_krw(self) -> int:
        """What its refunds give back or gave back (those WeChat Pay closed unpaid not counted)."""
        return _counted(self.refunds)


@dataclass(frozen=True)
class StaffRefund:
    booking: Booking  # as it is now: refunding
    refund: Refund
    queued: bool  # False: the queue did not answer; the refund row waits for the next payments sweep


@dataclass(frozen=True)
class GroupMove:
    request: GroupRequest  # as it is now
    changed: bool  # False: it had that status already


def _counted(refunds: list[Refund]) -> int:
    return sum(r.amount_krw for r in refunds if r.status not in _FAILED_REFUNDS)


class Staff:
    """Bookings as staff handle them, over the database and the product catalogue (content/products.yaml).

    `products` may be the catalogue or a callable giving it: the purge needs no content, and loading it
    would cost a command a second. `queue` (or a callable giving it) takes the jobs staff actions start
    (refunds, confirmations); `template_id` is config `bookings.template_id` ("" : no confirmation template).
    """

    def __init__(self, db: Database, products: Catalogue | Callable[[], Catalogue], clock: Clock,
                 queue: Queue | Callable[[], Queue] | None = None, template_id: str = "") -> None:
        self.db, self.clock = db, clock
        self._products = products
        self._queue = queue
        self.template_id = template_id

    @property
    def products(self) -> Catalogue:
        return self._products() if callable(self._products) else self._products

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            raise QueueDown("no job queue was given to the staff service")
        return self._queue() if callable(self._queue) else self._queue

    # --- orders ---------------------------------------------------------------------------------------
    def orders(self, day: date, product_id: str | None = None, status: str | None = None) -> DayOrders:
        """`day`'s orders, of `product_id` only and in `status` only when given (UnknownProduct, Invalid)."""
        wanted = _status(status) if status else None
        query = select(Booking).where(Booking.day == day)
        with self.db.session() as s:
            if product_id:
                if s.get(ProductRow, product_id) is None:
                    raise UnknownProduct(f"no product {product_id!r} (ids are those of content/products.yaml)")
                query = query.where(Booking.product_id == product_id)
            if wanted:
                query = query.where(Booking.status == wanted.value)
            found = list(s.scalars(query.order_by(Booking.product_id, Booking.slot, Booking.ref)))
        return DayOrders(day, found)

    def history(self, ref: str) -> OrderHistory:
        """The order `ref` with its status moves and refunds (NotFound)."""
        with self.db.session() as s:
            booking = s.scalar(select(Booking).where(Booking.ref == ref.strip().upper()))
            if booking is None:
                raise NotFound(f"no order {ref.strip().upper()}")
            events = list(s.scalars(select(BookingEvent).where(BookingEvent.booking_ref == booking.ref)
                                    .order_by(BookingEvent.id)))
            refunds = list(s.scalars(select(Refund).where(Refund.booking_ref == booking.ref)
                                     .order_by(Refund.created_at, Refund.out_refund_no)))
        return OrderHistory(booking, events, refunds)

    def traveler_orders(self, openid: str, limit: int = 5) -> list[Booking]:
        """The traveler's latest `limit` orders, newest first (beside their request in the staff inbox)."""
        with self.db.session() as s:
            return list(s.scalars(select(Booking).where(Booking.openid == openid)
                                  .order_by(Booking.created_at.desc(), Booking.id.desc()).limit(limit)))

    def refund(self, ref: str, *, reason: str, by: str, amount_krw: int | None = None) -> StaffRefund:
        """Refund a paid order, all that is left of it or `amount_krw` won: paid -> refunding (actor
        "staff:<by>"), its seats and coupon released, a Refund row, and the job that sends it to WeChat Pay.

        A redeemed order (the tour took place: a complaint, a goodwill gesture) is refunded as asked and stays
        redeemed: nothing to release, the Refund row is the record.

        Invalid for a missing or too long reason or a bad amount; Refused for an order that was never paid or is
        refunded already; NotFound."""
        reason = " ".join(reason.split())
        if not reason:
            raise Invalid("reason", "a reason is required (WeChat Pay shows it to the traveler with the refund)")
        if len(reason) > REASON_MAX:
            raise Invalid("reason", f"the reason is {len(reason)} characters; WeChat Pay takes at most {REASON_MAX}")
        if amount_krw is not None and (isinstance(amount_krw, bool) or not isinstance(amount_krw, int)
                                       or amount_krw < 1):
            raise Invalid("amount_krw", "the amount must be a whole number of won, 1 or more")
        actor = (by if by.startswith("staff:") else f"staff:{by}")[:60]  # "mei", or the API's "staff:mei"
        now = self.clock.now()
        booking = self._order(ref)
        _refundable(booking)
        if booking.status == Status.REDEEMED:
            return self._refund_redeemed(booking, reason=reason, actor=actor, amount_krw=amount_krw, now=now)
        with self.db.session() as s:
            _, amount = _amount_left(s, booking, amount_krw)
            moved = move(s, booking, Status.REFUNDING, actor=actor, now=now, reason="staff_refund",
                         detail={"amount_krw": amount, "note": reason}, cancelled_at=now)
            if moved:
                orders.release(s, booking)
                refund = orders.add_refund(s, booking, amount, reason=reason, by=actor, now=now)
        if not moved:  # another worker (a cancellation, a second staff refund) moved it first
            current = self._order(booking.ref)
            _refundable(current)
            raise Refused(f"{booking.ref} changed while refunding it: it is {current.status} now; look again")
        log.info("order %s: staff refund %s of %d KRW by %s", booking.ref, refund.out_refund_no, amount, actor)
        return StaffRefund(self._order(booking.ref), refund, self._enqueue_refunds())

    def _refund_redeemed(self, booking: Booking, *, reason: str, actor: str, amount_krw: int | None,
                         now: datetime) -> StaffRefund:
        """A refund of an order whose tour took place: its status stays, the row lock keeps two staff refunds at
        once from paying back more than was paid."""
        with self.db.session() as s:
            locked = s.scalar(select(Booking).where(Booking.ref == booking.ref).with_for_update())
            if locked is None or locked.status != Status.REDEEMED:
                raise Refused(f"{booking.ref} changed while refunding it: look again")
            left, amount = _amount_left(s, locked, amount_krw)
            refund = orders.add_refund(s, locked, amount, reason=reason, by=actor, now=now)
        log.info("order %s (redeemed): staff refund %s of %d KRW by %s, %d KRW left", booking.ref,
                 refund.out_refund_no, amount, actor, left - amount)
        return StaffRefund(self._order(booking.ref), refund, self._enqueue_refunds())

    def _enqueue_refunds(self) -> bool:
        try:
            jobs.enqueue_refunds(self.queue)
        except (RedisError, QueueDown) as exc:
            log.warning("refunds not queued (%s): the next payments sweep sends them", type(exc).__name__)
            return False
        return True

    def resend_confirmation(self, ref: str) -> Booking:
        """Queue the booking confirmation (template message) of a paid or confirmed order again. WeChat's
        template send has no idempotency key: each call sends one more message. Refused without a template id
        or for another status; NotFound; QueueDown."""
        booking = self._order(ref)
        if not self.template_id:
            raise Refused("no confirmation template is configured (config bookings.template_id, environment "
                          "BOOKING_TEMPLATE_ID, is empty): there is no confirmation message to send")
        if booking.status not in (Status.PAID, Status.CONFIRMED):
            raise Refused(f"{booking.ref} is {booking.status}: only paid or confirmed orders get a confirmation")
        try:
            jobs.enqueue_booking_confirmation(self.queue, booking.ref)
        except RedisError as exc:
            raise QueueDown(f"the job queue did not answer ({type(exc).__name__}): nothing was queued; "
                            "try again") from None
        log.info("order %s: confirmation queued again", booking.ref)
        return booking

    def _order(self, ref: str) -> Booking:
        found = orders.get(self.db, ref.strip())
        if found is None:
            raise NotFound(f"no order {ref.strip().upper()}")
        return found

    # --- group requests -------------------------------------------------------------------------------
    def group_requests(self, status: str | None = None) -> list[GroupRequest]:
        """Group requests, oldest first; only those in `status` (new, contacted, closed) when given."""
        if status is not None and status not in GROUP_STATUSES:
            raise Invalid("status", f"no group request status {status!r}: {', '.join(GROUP_STATUSES)}")
        query = select(GroupRequest)
        if status:
            query = query.where(GroupRequest.status == status)
        with self.db.session() as s:
            return list(s.scalars(query.order_by(GroupRequest.created_at, GroupRequest.id)))

    def set_group_status(self, ref: str, to: str, *, by: str) -> GroupMove:
        """Move a group request forward (new -> contacted -> closed, or any -> closed) by one conditional
        UPDATE; already there is no change, backwards is Refused. Invalid `to`; NotFound."""
        if to not in GROUP_MOVES:
            raise Invalid("status", f"a group request can be set to {' or '.join(GROUP_MOVES)}, not {to!r}")
        ref = ref.strip().upper()
        with self.db.session() as s:
            changed = affected(s.execute(update(GroupRequest)
                                         .where(GroupRequest.ref == ref, GroupRequest.status.in_(GROUP_MOVES[to]))
                                         .values(status=to))) == 1
            found = s.scalar(select(GroupRequest).where(GroupRequest.ref == ref))
        if found is None:
            raise NotFound(f"no group request {ref}")
        if not changed and found.status != to:
            raise Refused(f"{ref} is {found.status} already: a group request does not go back to {to} "
                          "(new -> contacted -> closed)")
        if changed:
            log.info("group request %s: %s by %s", ref, to, by)
        return GroupMove(found, changed)

    def checkpoint_list(self, day: date, product_id: str | None = None) -> CheckpointList:
        """`day`'s confirmed bookings of every product marked `passport: true`, or of `product_id` only."""
        products = self.products.needing_passports
        if product_id:
            if product_id not in {p.id for p in self.products}:
                raise UnknownProduct(f"no product {product_id!r} in content/products.yaml")
            products = {product_id}
        with self.db.session() as s:
            found = list(s.scalars(select(Booking).where(Booking.day == day, Booking.status.in_(GOING),
                                                         Booking.product_id.in_(products))
                                   .order_by(Booking.product_id, Booking.slot, Booking.ref)))
        recorded = passports.travelers(self.db, [b.ref for b in found])
        return CheckpointList(day, [CheckpointBooking(b, recorded[b.ref]) for b in found])

    def purge_travelers(self, days: int = 7) -> tuple[int, date]:
        """Delete the passport details of bookings more than `days` days past; (how many, the first day kept)."""
        before = self.clock.now().date() - timedelta(days=days)
        return passports.purge(self.db, before), before


def write_csv(found: CheckpointList, path: str) -> None:
    """The list as CSV, readable by its owner only (passport numbers in full); cells a spreadsheet would run
    as a formula are made plain text."""
    # O_CREAT without O_TRUNC: an existing file is made private (fchmod) before a byte of it changes.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    os.ftruncate(fd, 0)
    with open(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        writer.writerows([inert(cell) for cell in row] for row in found.rows())


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise Invalid("status", f"no order status {value!r}: {', '.join(s.value for s in Status)}") from None


def _amount_left(s: Session, booking: Booking, amount_krw: int | None) -> tuple[int, int]:
    """(won left to refund of `booking`, the amount to refund now: `amount_krw` or all that is left)."""
    earlier = _counted(list(s.scalars(select(Refund).where(Refund.booking_ref == booking.ref))))
    left = booking.total_krw - earlier
    if left <= 0:
        raise Refused(f"{booking.ref}: nothing left to refund (paid {booking.total_krw:,} KRW, "
                      f"refunded {earlier:,} KRW)")
    amount = left if amount_krw is None else amount_krw
    if amount > left:
        raise Invalid("amount_krw", f"{amount:,} KRW is more than the {left:,} KRW left to refund of "
                                    f"{booking.ref} (paid {booking.total_krw:,} KRW, refunded {earlier:,} KRW before)")
    return left, amount


def _refundable(booking: Booking) -> None:
    """Refused unless staff may refund `booking` now."""
    status = Status(booking.status)
    if status in (Status.PAID, Status.REDEEMED):
        return
    why = {Status.PENDING: "nothing has been paid yet", Status.EXPIRED: "nothing was paid in time",
           Status.CANCELLED: "it was cancelled before any payment",
           Status.REFUNDING: "its refund is already under way", Status.REFUNDED: "it was refunded already",
           Status.CONFIRMED: "it was not paid in WeChat (paid on site, or free)"}[status]
    raise Refused(f"{booking.ref} is {status.value}: {why}; only paid orders can be refunded")


def staff(ext: Any) -> Staff:
    """Staff operations over an app's services: `current_app.extensions["yjy"]` or its `Services`."""
    services = getattr(ext, "services", ext)
    return Staff(services.db, lambda: services.content.products, services.clock, queue=lambda: services.queue,
                 template_id=services.config.bookings.template_id)
