"""Paying for bookings: checkout, payments and refunds applied once, expiry and reconciliation.

    payments = Payments(db, pay, config, rates_quote)
    params = payments.checkout(booking, now)            # getBrandWCPayRequest arguments (places the order once)
    outcome = payments.apply_transaction(tx, now, actor="wechatpay:notify")   # paid | late_paid | refund_late ...
    payments.sweep(now)                                 # expire unpaid holds, find lost notifications, send refunds

Every status change goes through `bot.bookings.lifecycle.move` in the transaction that also moves the seats,
so a notification repeated for a day, the expiry job and the reconciliation job can race and still apply a
payment once. The WeChat Pay calls happen outside any database transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from sqlalchemy import select, update

from bot.bookings import orders
from bot.bookings.lifecycle import Status, move
from bot.infra.clock import in_seoul
from bot.infra.config import Config
from bot.infra.db import Database
from bot.infra.db.models import Booking, PaymentNotice, Refund
from bot.infra.db.results import affected
from bot.pay.client import PayError, Transaction, WeChatPay

log = logging.getLogger(__name__)
PREPAY_REUSE = timedelta(minutes=110)  # a prepay_id is valid for 2 hours
LOST_NOTICE_AFTER = timedelta(minutes=2)  # an order placed this long ago without news is queried
REFUND_QUERY_AFTER = timedelta(minutes=2)


class PaymentUnavailable(Exception):
    """No merchant account is configured (production without WECHAT_PAY_*)."""


class NotPayable(Exception):
    """The booking cannot be paid now: `status` says why (paid already, expired, cancelled ...)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class Mismatch(ValueError):
    """A verified payment that does not match our order (amount, currency, appid): never applied."""


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    paid: list[str] = field(default_factory=list)  # found by query: their notification was lost
    closed: list[str] = field(default_factory=list)
    refunds_sent: list[str] = field(default_factory=list)
    refunds_done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Payments:
    def __init__(self, db: Database, pay: WeChatPay | None, config: Config,
                 krw_per_cny: Callable[[], Decimal | None] = lambda: None) -> None:
        self.db, self.pay, self.config = db, pay, config
        self._krw_per_cny = krw_per_cny  # only the domestic mode (CNY orders) needs it

    def _client(self) -> WeChatPay:
        if self.pay is None:
            raise PaymentUnavailable("WeChat Pay is not configured")
        return self.pay

    # --- checkout ----------------------------------------------------------------------------------
    def amount(self, booking: Booking) -> tuple[int, str]:
        """What WeChat Pay is asked for: won as they are (Global, KRW has no minor unit), or CNY fen."""
        if self.config.pay.mode != "domestic":
            return booking.total_krw, "KRW"
        rate = self._krw_per_cny()
        if not rate:
            raise PaymentUnavailable("no KRW/CNY rate for a domestic (CNY) order")
        fen = (Decimal(booking.total_krw) / rate * 100).quantize(Decimal(1), ROUND_HALF_UP)
        return int(fen), "CNY"

    def checkout(self, booking: Booking, now: datetime) -> dict[str, str]:
        """The getBrandWCPayRequest arguments for an unpaid booking, placing its WeChat Pay order once
        (a prepay_id is reused for its two hours; the same out_trade_no and body give the same one anyway)."""
        pay = self._client()
        if booking.status != Status.PENDING or booking.hold_until is None:
            raise NotPayable(booking.status)
        if in_seoul(booking.hold_until) <= now:
            raise NotPayable(Status.EXPIRED.value)
        if booking.prepay_id and booking.prepaid_at and in_seoul(booking.prepaid_at) > now - PREPAY_REUSE:
            return pay.jsapi_params(booking.prepay_id)
        total, currency = (booking.pay_total, booking.pay_currency) if booking.pay_total else self.amount(booking)
        assert total is not None and currency is not None
        description = f"{booking.product_name} {booking.day:%m-%d} {booking.slot}"
        try:
            prepay_id = pay.jsapi(booking.ref, description, total, currency, booking.openid,
                                  in_seoul(booking.hold_until))
        except PayError as exc:
            if exc.code == "ORDER_CLOSED":
                raise NotPayable(Status.EXPIRED.value) from None
            raise
        with self.db.session() as s:
            stored = s.execute(update(Booking).where(Booking.id == booking.id, Booking.status == Status.PENDING.value)
                               .values(prepay_id=prepay_id, prepaid_at=now, pay_total=total, pay_currency=currency))
        if affected(stored) != 1:  # cancelled or expired meanwhile: no arguments for an order we would refuse
            current = orders.get(self.db, booking.ref)
            raise NotPayable(current.status if current else Status.CANCELLED.value)
        return pay.jsapi_params(prepay_id)

    # --- payments --------------------------------------------------------------------------------------
    def check(self, tx: Transaction, booking: Booking) -> None:
        """Raise Mismatch unless the payment is for this order, by this merchant, of the amount asked."""
        pay = self.config.pay
        if tx.merchant != pay.mchid or (pay.institutional and tx.sub_merchant != pay.sub_mchid):
            raise Mismatch(f"merchant {tx.merchant}/{tx.sub_merchant}")
        if tx.appid and tx.appid not in {self.config.wechat.appid, pay.sp_appid or self.config.wechat.appid}:
            raise Mismatch(f"appid {tx.appid}")
        if booking.pay_total is None or tx.total != booking.pay_total or tx.currency != booking.pay_currency:
            raise Mismatch(f"amount {tx.total} {tx.currency}, order {booking.pay_total} {booking.pay_currency}")

    def ours(self, tx: Transaction) -> bool:
        """Whether a notification is for our merchant: an acquirer sends every sub-merchant's to one URL."""
        return self._ours(tx.merchant, tx.sub_merchant)

    def _ours(self, merchant: str, sub_merchant: str) -> bool:
        pay = self.config.pay
        if merchant != pay.mchid:  # decrypted with our APIv3 key, yet another acquirer: misconfigured, or forged
            log.error("WeChat Pay notification for merchant %s, ours is %s: ignored", merchant[:32], pay.mchid)
            return False
        if pay.institutional and sub_merchant != pay.sub_mchid:
            log.info("WeChat Pay notification for sub-merchant %s (another of our acquirer's): ignored",
                     sub_merchant[:32])
            return False
        return True

    def apply_transaction(self, tx: Transaction, now: datetime, actor: str) -> str:
        """Apply a verified, matching SUCCESS payment once; the outcome names what happened:
        paid | late_paid (after expiry, seats free again) | refund_late (expired, no seats: refunded) |
        refund_cancelled (paid after a cancellation) | already | not_paid | unknown."""
        if tx.trade_state != "SUCCESS":
            return "not_paid"
        for _ in range(3):  # another transaction moved it meanwhile: look again
            booking = orders.get(self.db, tx.out_trade_no)
            if booking is None:
                log.error("payment %s for an order we do not have", tx.out_trade_no)
                return "unknown"
            self.check(tx, booking)
            status = Status(booking.status)
            paid: dict[str, Any] = {"paid_at": now, "transaction_id": tx.transaction_id[:64], "hold_until": None}
            with self.db.session() as s:
                if status is Status.PENDING:
                    if move(s, booking, Status.PAID, actor=actor, now=now, reason="paid", **paid):
                        return "paid"
                elif status is Status.EXPIRED:
                    if orders.retake(s, booking):
                        if move(s, booking, Status.PAID, actor=actor, now=now, reason="late_payment", **paid):
                            return "late_paid"
                        s.rollback()
                    elif move(s, booking, Status.REFUNDING, actor=actor, now=now, reason="late_payment_no_seats",
                              transaction_id=paid["transaction_id"], paid_at=now):
                        orders.add_refund(s, booking, booking.total_krw, reason="paid after the hold expired",
                                          by=actor, now=now)
                        return "refund_late"
                elif status is Status.CANCELLED:
                    if move(s, booking, Status.REFUNDING, actor=actor, now=now, reason="paid_after_cancel",
                            transaction_id=paid["transaction_id"], paid_at=now):
                        orders.add_refund(s, booking, booking.total_krw, reason="paid after cancelling",
                                          by=actor, now=now)
                        return "refund_cancelled"
                else:
                    return "already"
        return "already"

    def take_notice(self, notice_id: str, event_type: str, out_trade_no: str, now: datetime, outcome: str) -> None:
        """Remember a notification applied (by its envelope id): the audit trail of what WeChat told us."""
        stmt = self.db.insert(PaymentNotice).values(id=notice_id, event_type=event_type, out_trade_no=out_trade_no,
                                                    received_at=now, outcome=outcome)
        with self.db.session() as s:
            s.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

    # --- refunds -------------------------------------------------------------------------------------
    def apply_refund(self, data: dict[str, Any], now: datetime, actor: str) -> str:
        """A refund result (notification or query): the refund row, and the order once every refund is done."""
        number = str(data.get("out_refund_no") or "")
        status = str(data.get("refund_status") or data.get("status") or "")
        merchant = str(data.get("sp_mchid") or data.get("mchid") or "")
        if merchant and not self._ours(merchant, str(data.get("sub_mchid") or "")):
            return "not_ours"
        with self.db.session() as s:
            refund = s.get(Refund, number)
            if refund is None:
                log.error("refund result for %r, which we never asked for", number[:64])
                return "unknown"
            if data.get("out_trade_no") and data["out_trade_no"] != refund.booking_ref:
                log.error("refund %s names order %r, not %s: ignored", number, str(data["out_trade_no"])[:32],
                          refund.booking_ref)
                return "mismatch"
            if refund.status == "SUCCESS" or status not in ("SUCCESS", "CLOSED", "ABNORMAL", "PROCESSING"):
                return "already" if refund.status == "SUCCESS" else "ignored"
            s.execute(update(Refund).where(Refund.out_refund_no == number, Refund.status != "SUCCESS")
                      .values(status=status, refund_id=str(data.get("refund_id") or data.get("id") or "")[:64]
                              or refund.refund_id, finished_at=now if status != "PROCESSING" else None))
            if status != "SUCCESS":
                if status in ("CLOSED", "ABNORMAL"):
                    log.error("refund %s for %s is %s: staff must refund by hand", number, refund.booking_ref,
                              status)
                return status.lower()
            booking = s.scalar(select(Booking).where(Booking.ref == refund.booking_ref))
            open_refunds = s.scalar(select(Refund.out_refund_no).where(Refund.booking_ref == refund.booking_ref,
                                                                       Refund.status != "SUCCESS").limit(1))
            if booking is not None and booking.status == Status.REFUNDING and open_refunds is None:
                move(s, booking, Status.REFUNDED, actor=actor, now=now, reason="refund_success")
                return "refunded"
            if booking is not None and booking.status == Status.REDEEMED:
                return "refunded"  # a staff refund after the tour: the order stays redeemed, the traveler is told
        return "refund_success"

    def refunded_krw(self, ref: str) -> int:
        """What has been paid back for an order, in won."""
        with self.db.session() as s:
            amounts = s.scalars(select(Refund.amount_krw).where(Refund.booking_ref == ref, Refund.status == "SUCCESS"))
            return sum(amounts)

    def send_refunds(self, now: datetime, report: SweepReport) -> None:
        """Ask WeChat Pay for every requested refund (the same out_refund_no on a retry: paid once)."""
        pay = self._client()
        with self.db.session() as s:
            waiting = list(s.execute(select(Refund, Booking).join(Booking, Booking.ref == Refund.booking_ref)
                                     .where(Refund.status == "requested")))
        for refund, booking in waiting:
            try:
                answer = pay.refund(booking.ref, refund.out_refund_no, refund.pay_amount, booking.pay_total or 0,
                                    booking.pay_currency or "KRW", refund.reason)
            except PayError as exc:
                report.errors.append(f"{refund.out_refund_no}: {exc.code}")
                log.warning("refund %s not accepted yet: %s %s", refund.out_refund_no, exc.code, exc.message)
                continue
            with self.db.session() as s:
                s.execute(update(Refund).where(Refund.out_refund_no == refund.out_refund_no,
                                               Refund.status == "requested")
                          .values(status="PROCESSING",
                                  refund_id=str(answer.get("refund_id") or answer.get("id") or "")[:64] or None))
            report.refunds_sent.append(refund.out_refund_no)
            if str(answer.get("status")) == "SUCCESS":  # some answers are final at once
                self.apply_refund({**answer, "out_refund_no": refund.out_refund_no}, now, "wechatpay:refund")

    # --- expiry and reconciliation ----------------------------------------------------------------
    def expire(self, booking: Booking, now: datetime, report: SweepReport) -> None:
        """An unpaid hold that ran out: ask WeChat Pay first (the notification may be lost), then expire it,
        free the seats and close the WeChat order so it can no longer be paid."""
        if self.pay is not None and booking.prepay_id:
            try:
                tx = self.pay.query(booking.ref)
            except PayError as exc:
                report.errors.append(f"{booking.ref}: {exc.code}")
                return  # not knowing whether it was paid, keep the hold until the next sweep
            if tx is not None and tx.trade_state == "SUCCESS":
                if self.apply_transaction(tx, now, "job:reconcile") in ("paid", "late_paid"):
                    report.paid.append(booking.ref)
                return
        with self.db.session() as s:
            if not move(s, booking, Status.EXPIRED, actor="job:expire", now=now, reason="not paid in time"):
                return
            orders.release(s, booking)
        report.expired.append(booking.ref)
        if self.pay is not None and booking.prepay_id:
            try:
                self.pay.close(booking.ref)
                report.closed.append(booking.ref)
            except PayError as exc:  # closed already, or WeChat busy: a late payment is refunded anyway
                log.info("closing %s at WeChat Pay: %s", booking.ref, exc.code)

    def close_cancelled(self, ref: str, now: datetime) -> str:
        """An unpaid order the traveler cancelled: its WeChat Pay order is closed so it can no longer be paid
        (asked first: a payment that slipped in is applied, which refunds it). Raises PayError when WeChat Pay
        refuses for now (Global closes no order in its first 5 minutes): the job retries."""
        pay = self._client()
        booking = orders.get(self.db, ref)
        if booking is None or booking.status != Status.CANCELLED or not booking.prepay_id:
            return "nothing to close"
        tx = pay.query(ref)
        if tx is not None and tx.trade_state == "SUCCESS":
            return self.apply_transaction(tx, now, "job:close")
        if tx is None or tx.trade_state == "CLOSED":
            return "closed"
        pay.close(ref)
        return "closed"

    def sweep(self, now: datetime) -> SweepReport:
        """Everything a lost notification or a stopped worker could leave behind; safe to run any time,
        from any number of workers."""
        report = SweepReport()
        with self.db.session() as s:
            pending = list(s.scalars(select(Booking).where(Booking.status == Status.PENDING.value)))
        for booking in pending:
            try:
                self._sweep_one(booking, now, report)
            except (PayError, Mismatch) as exc:  # one order's trouble must not stop the sweep for the others
                log.error("payments sweep: %s: %s", booking.ref, exc)
                report.errors.append(f"{booking.ref}: {getattr(exc, 'code', type(exc).__name__)}")
        if self.pay is not None:
            self.send_refunds(now, report)
            self._query_refunds(now, report)
        return report

    def _sweep_one(self, booking: Booking, now: datetime, report: SweepReport) -> None:
        if booking.hold_until is not None and in_seoul(booking.hold_until) <= now:
            self.expire(booking, now, report)
        elif self.pay is not None and booking.prepaid_at and in_seoul(booking.prepaid_at) < now - LOST_NOTICE_AFTER:
            tx = self.pay.query(booking.ref)
            if tx is not None and tx.trade_state == "SUCCESS" and \
                    self.apply_transaction(tx, now, "job:reconcile") == "paid":
                report.paid.append(booking.ref)

    def _query_refunds(self, now: datetime, report: SweepReport) -> None:
        assert self.pay is not None
        with self.db.session() as s:
            waiting = list(s.scalars(select(Refund).where(Refund.status == "PROCESSING",
                                                          Refund.created_at < now - REFUND_QUERY_AFTER)))
        for refund in waiting:
            try:
                answer = self.pay.query_refund(refund.out_refund_no)
            except PayError as exc:
                report.errors.append(f"{refund.out_refund_no}: {exc.code}")
                continue
            if self.apply_refund({**answer, "out_refund_no": refund.out_refund_no}, now, "job:reconcile") in (
                    "refunded", "refund_success"):
                report.refunds_done.append(refund.out_refund_no)
