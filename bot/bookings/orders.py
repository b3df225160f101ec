"""Bookings in the database: catalogue sync, seats taken atomically, idempotent confirmation, cancellation.

A booking is money and a promise. Seats are taken by one conditional UPDATE
(`taken + n <= capacity`) in the same transaction that inserts the booking, so concurrent
confirmations can never oversell; the booking's idempotency key (one per booking flow) is unique, so a
retried or double-tapped "确认" returns the first booking instead of making a second one. A booking paid
in WeChat starts as `pending_payment` and holds its seats until `hold_until`; statuses move only through
`bot.bookings.lifecycle`.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.bookings.lifecycle import Status, created, move
from bot.followers import records as followers
from bot.infra.clock import SEOUL
from bot.infra.db import Database
from bot.infra.db.models import Booking, CouponClaim, GroupRequest, ProductRow, Refund, SlotInventory
from bot.infra.db.results import affected
from bot.travel.products import Catalogue, Product

log = logging.getLogger(__name__)
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud over the phone


def new_ref(prefix: str = "YJ") -> str:
    return prefix + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def new_flow_key() -> str:
    """Identifies one booking flow; stored in the conversation state until it is confirmed."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Order:
    """What the booking flow collected, ready to confirm."""

    openid: str
    product: Product
    day: date
    slot: str
    adults: int
    children: int
    contact_name: str
    phone: str
    flow_key: str
    lang: str = "zh-CN"
    coupon_id: str | None = None
    discount_krw: int = 0
    hold_minutes: int = 15  # how long seats wait for a WeChat payment

    @property
    def total_krw(self) -> int:
        return self.product.price(self.adults, self.children) - self.discount_krw

    @property
    def paid_in_wechat(self) -> bool:
        return self.product.paid_in_wechat(self.total_krw)

    @property
    def party(self) -> int:
        return self.adults + self.children

    @property
    def idempotency_key(self) -> str:
        return f"{self.openid}:{self.flow_key}"


class SoldOut(Exception):
    def __init__(self, remaining: int) -> None:
        super().__init__(f"only {remaining} seats left")
        self.remaining = remaining


class NotBookable(Exception):
    """The product is retired or was never synced into the database."""


class CouponSpent(Exception):
    """The coupon shown in the summary was used by another booking meanwhile."""


# --- catalogue --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncReport:
    added: list[str]
    updated: list[str]
    retired: list[str]
    unchanged: list[str]


def product_data(product: Product) -> dict:
    return {"name": product.name, "category": product.category, "adult_krw": product.adult_krw,
            "child_krw": product.child_krw, "capacity": product.capacity, "slots": list(product.slots),
            "start": product.start, "lead_hours": product.lead_hours,
            "free_cancel_hours": product.free_cancel_hours, "payment": product.payment,
            "late_refund_percent": product.late_refund_percent}


def sync_catalogue(db: Database, catalogue: Catalogue, today: date, now: datetime | None = None) -> SyncReport:
    """Upsert every product of the file, retire those no longer in it; safe to re-run.

    A changed capacity applies to future days already opened (never below the seats already taken).
    """
    now = now or datetime.now(UTC)
    added, updated, unchanged = [], [], []
    with db.session() as s:
        rows = {row.id: row for row in s.scalars(select(ProductRow))}
        for product in catalogue:
            data = product_data(product)
            row = rows.get(product.id)
            if row is None:
                s.add(ProductRow(id=product.id, name=product.name["zh-CN"], data=data, retired=False, synced_at=now))
                added.append(product.id)
                continue
            if row.data == data and not row.retired and row.name == product.name["zh-CN"]:
                unchanged.append(product.id)
                continue
            row.name, row.data, row.retired, row.synced_at = product.name["zh-CN"], data, False, now
            updated.append(product.id)
            s.execute(update(SlotInventory)
                      .where(SlotInventory.product_id == product.id, SlotInventory.day >= today)
                      .values(capacity=case((SlotInventory.taken > product.capacity, SlotInventory.taken),
                                            else_=product.capacity)))
        retired = [pid for pid, row in rows.items() if pid not in catalogue.items and not row.retired]
        if retired:
            s.execute(update(ProductRow).where(ProductRow.id.in_(retired)).values(retired=True, synced_at=now))
    return SyncReport(added, updated, sorted(retired), unchanged)


# --- seats ------------------------------------------------------------------------------------
def remaining(db: Database, product: Product, day: date, slot: str) -> int:
    with db.session() as s:
        row = s.get(SlotInventory, (product.id, day, slot))
    return product.capacity if row is None else max(row.capacity - row.taken, 0)


def _open_slot(db: Database, s: Session, product: Product, day: date, slot: str) -> None:
    stmt = db.insert(SlotInventory).values(product_id=product.id, day=day, slot=slot,
                                             capacity=product.capacity, taken=0)
    s.execute(stmt.on_conflict_do_nothing(index_elements=["product_id", "day", "slot"]))


def _take(s: Session, product_id: str, day: date, slot: str, seats: int) -> bool:
    result = s.execute(update(SlotInventory)
                       .where(SlotInventory.product_id == product_id, SlotInventory.day == day,
                              SlotInventory.slot == slot, SlotInventory.taken + seats <= SlotInventory.capacity)
                       .values(taken=SlotInventory.taken + seats))
    return affected(result) == 1


def retake(s: Session, booking: Booking) -> bool:
    """Take a booking's seats again (a payment that came after its hold expired); False when they are gone."""
    return _take(s, booking.product_id, booking.day, booking.slot, booking.adults + booking.children)


def release(s: Session, booking: Booking) -> None:
    """Give a booking's seats back, and its coupon: in the transaction that moves it out of HOLDING."""
    s.execute(update(SlotInventory)
              .where(SlotInventory.product_id == booking.product_id, SlotInventory.day == booking.day,
                     SlotInventory.slot == booking.slot)
              .values(taken=SlotInventory.taken - (booking.adults + booking.children)))
    if booking.coupon_id:
        s.execute(update(CouponClaim).where(CouponClaim.openid == booking.openid,
                                            CouponClaim.coupon_id == booking.coupon_id,
                                            CouponClaim.used_ref == booking.ref).values(used_ref=None))


# --- booking ----------------------------------------------------------------------------------
def find_by_key(db: Database, key: str) -> Booking | None:
    with db.session() as s:
        return s.scalar(select(Booking).where(Booking.idempotency_key == key))


def book(db: Database, order: Order, now: datetime) -> Booking:
    """Take the seats and record the booking, or return the booking this flow already made.

    Raises SoldOut (with the seats left), NotBookable, CouponSpent.
    """
    for _ in range(3):  # a new reference on the (rare) collision of two random ones
        existing = find_by_key(db, order.idempotency_key)
        if existing is not None:
            return existing
        ref = new_ref()
        try:
            with db.session() as s:
                product_row = s.get(ProductRow, order.product.id)
                if product_row is None or product_row.retired:
                    raise NotBookable(order.product.id)
                _open_slot(db, s, order.product, order.day, order.slot)
                if not _take(s, order.product.id, order.day, order.slot, order.party):
                    row = s.get(SlotInventory, (order.product.id, order.day, order.slot))
                    raise SoldOut(max(row.capacity - row.taken, 0) if row else 0)
                booking = Booking(
                    ref=ref, idempotency_key=order.idempotency_key, openid=order.openid,
                    product_id=order.product.id, product_name=order.product.name["zh-CN"], day=order.day,
                    slot=order.slot, adults=order.adults, children=order.children,
                    contact_name=order.contact_name, phone=order.phone,
                    price_krw=order.product.price(order.adults, order.children),
                    discount_krw=order.discount_krw, coupon_id=order.coupon_id, lang=order.lang, created_at=now,
                    **_payment_fields(order, now))
                s.add(booking)
                s.flush()  # the unique idempotency key and ref are checked here, inside the transaction
                created(s, booking, actor="traveler", now=now)
                followers.add_interests(s, order.openid, order.product.interests, now)
                if order.coupon_id:
                    spent = s.execute(update(CouponClaim)
                                      .where(CouponClaim.openid == order.openid,
                                             CouponClaim.coupon_id == order.coupon_id,
                                             CouponClaim.used_ref.is_(None))
                                      .values(used_ref=ref))
                    if affected(spent) != 1:
                        raise CouponSpent(order.coupon_id)
            log.info("booking %s (%s): %s %s %s x%d for %s", ref, booking.status, order.product.id, order.day,
                     order.slot, order.party, order.openid)
            return booking
        except IntegrityError:
            continue  # the same flow confirmed concurrently (found above), or a reference collision
    existing = find_by_key(db, order.idempotency_key)
    if existing is not None:
        return existing
    raise RuntimeError(f"could not record booking for {order.idempotency_key}")


def _payment_fields(order: Order, now: datetime) -> dict:
    """Status and payment of a new booking: WeChat-paid ones wait for the money, the others are confirmed."""
    if order.paid_in_wechat:
        return {"status": Status.PENDING.value, "payment": "wechat",
                "hold_until": now + timedelta(minutes=order.hold_minutes)}
    return {"status": Status.CONFIRMED.value, "payment": "free" if order.total_krw == 0 else "on_site"}


def request_group(db: Database, order: Order, now: datetime) -> GroupRequest:
    """Record a group request for staff (no seats are taken); idempotent like `book`."""
    with db.session() as s:
        found = s.scalar(select(GroupRequest).where(GroupRequest.idempotency_key == order.idempotency_key))
        if found is not None:
            return found
    request = GroupRequest(ref=new_ref("GR"), idempotency_key=order.idempotency_key, openid=order.openid,
                           product_id=order.product.id, day=order.day, slot=order.slot, adults=order.adults,
                           children=order.children, contact_name=order.contact_name, phone=order.phone,
                           status="new", created_at=now)
    try:
        with db.session() as s:
            s.add(request)
            s.flush()
            followers.add_interests(s, order.openid, order.product.interests, now)
    except IntegrityError:
        with db.session() as s:
            found = s.scalar(select(GroupRequest).where(GroupRequest.idempotency_key == order.idempotency_key))
        if found is None:
            raise
        return found
    log.info("group request %s: %s %s party %d for %s", request.ref, order.product.id, order.day, order.party,
             order.openid)
    return request


def for_follower(db: Database, openid: str, limit: int = 10) -> list[Booking]:
    with db.session() as s:
        return list(s.scalars(select(Booking).where(Booking.openid == openid)
                              .order_by(Booking.day.desc(), Booking.created_at.desc()).limit(limit)))


def get(db: Database, ref: str) -> Booking | None:
    with db.session() as s:
        return s.scalar(select(Booking).where(Booking.ref == ref.upper()))


# --- cancellation -----------------------------------------------------------------------------
CancelStatus = Literal["cancelled", "refunding", "not_found", "already", "too_late", "past", "redeemed"]


@dataclass(frozen=True)
class CancelResult:
    status: CancelStatus
    booking: Booking | None = None
    deadline: datetime | None = None
    refund_krw: int = 0  # cancelled after payment: what goes back (all of it, or the product's late share)


def _cancel_rules(db: Database, catalogue: Catalogue, booking: Booking) -> tuple[datetime, datetime, int]:
    """(start, free cancellation deadline, late refund %) under the current rules, or those it was sold with."""
    product = catalogue.get(booking.product_id)
    if product is not None:
        return (product.starts_at(booking.day, booking.slot), product.free_cancel_until(booking.day, booking.slot),
                product.late_refund_percent)
    with db.session() as s:
        row = s.get(ProductRow, booking.product_id)
    data = row.data if row else {}
    hh, mm = booking.slot.split(":")
    starts = datetime.combine(booking.day, time(int(hh), int(mm)), SEOUL)
    return (starts, starts - timedelta(hours=int(data.get("free_cancel_hours", 0))),
            int(data.get("late_refund_percent", 0)))


def refund_number(ref: str, n: int) -> str:
    """WeChat's out_refund_no: the same number is the same refund, so a retried request cannot pay twice."""
    return f"{ref}R{n}"


def add_refund(s: Session, booking: Booking, amount_krw: int, *, reason: str, by: str, now: datetime) -> Refund:
    """A refund request row (sent to WeChat Pay by a job): the pay amount is the same share of what was paid."""
    n = (s.scalar(select(func.count()).select_from(Refund).where(Refund.booking_ref == booking.ref)) or 0) + 1
    total = booking.total_krw or 1
    pay_amount = (booking.pay_total or 0) * amount_krw // total
    refund = Refund(out_refund_no=refund_number(booking.ref, n), booking_ref=booking.ref, amount_krw=amount_krw,
                    pay_amount=pay_amount, status="requested", reason=reason, requested_by=by, created_at=now)
    s.add(refund)
    return refund


def cancel(db: Database, catalogue: Catalogue, openid: str, ref: str, now: datetime) -> CancelResult:
    """Cancel the follower's booking `ref` as its product's rules allow: seats and coupon go back, an unpaid
    order is cancelled, a paid one goes to `refunding` (all of it before the free deadline, the product's late
    share after it) and the refund is requested by a job."""
    booking = get(db, ref)
    if booking is None or booking.openid != openid:
        return CancelResult("not_found")  # someone else's reference looks the same as a wrong one
    status = Status(booking.status)
    if status is Status.REDEEMED:
        return CancelResult("redeemed", booking)
    if status not in (Status.PENDING, Status.PAID, Status.CONFIRMED):
        return CancelResult("already", booking)
    starts, deadline, late_percent = _cancel_rules(db, catalogue, booking)
    if now >= starts:
        return CancelResult("past", booking, deadline)
    refund = 0
    if status is Status.PAID:
        refund = booking.total_krw if now <= deadline else booking.total_krw * late_percent // 100
        if refund == 0:
            return CancelResult("too_late", booking, deadline)
    elif now > deadline and status is Status.CONFIRMED:
        return CancelResult("too_late", booking, deadline)
    with db.session() as s:
        to = Status.REFUNDING if status is Status.PAID else Status.CANCELLED
        if not move(s, booking, to, actor="traveler", now=now, reason="cancelled", cancelled_at=now):
            return CancelResult("already", get(db, ref))
        release(s, booking)
        if to is Status.REFUNDING:
            add_refund(s, booking, refund, reason="cancelled by traveler", by="traveler", now=now)
    log.info("booking %s cancelled by %s (%s)", booking.ref, openid, to.value)
    return CancelResult("refunding" if refund else "cancelled", get(db, ref), deadline, refund)
