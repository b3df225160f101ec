"""`/admin/orders`: orders for customer service, over the staff service (`bot.bookings.staff`) the CLI's
`bookings orders` / `bookings show` and the admin API call: a day's orders with totals per status (filtered by
product and status, a day picker, a search by reference); one order with its history, its refunds and what is
left to refund, and its actions: resend the confirmation, and refund, which is a confirmation page first (the
POST without `confirm=1` checks the amount and the reason and changes nothing), then the POST that queues it.

Phones are masked as in the admin API, passport details never shown; every page that shows an order is audited
(personal data), every action too (`staff:<name>`). A refusal is the order page with its reason and status
(400 a bad amount or reason, 409 not for an order in this status, 503 the job queue down); a success goes back
to the order (POST/redirect/GET).
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from flask import Response, redirect, request, url_for

from bot.bookings.staff import StaffError
from bot.web.console.common import audit_detail, audit_read, back, bp, ext, lang, me, refuse, render, today, words

if TYPE_CHECKING:
    from bot.bookings.staff import OrderHistory, Staff

REF = re.compile(r"[A-Za-z0-9]{2,20}")
REFUNDABLE = ("paid", "redeemed")  # as `Staff.refund` takes them
RESENDABLE = ("paid", "confirmed")  # as `Staff.resend_confirmation` takes them
# An order's status as one of the console's pill colours (console.css): waiting, done, under way, over.
PILLS = {"pending_payment": "open", "paid": "sent", "confirmed": "sent", "redeemed": "answered",
         "refunding": "assigned", "refunded": "closed", "cancelled": "closed", "expired": "closed"}


def _staff() -> Staff:
    from bot.bookings.staff import staff  # loads on first use, like the other services

    return staff(ext())


def _statuses() -> list[str]:
    from bot.bookings.lifecycle import Status

    return [s.value for s in Status]


def _reason_max() -> int:
    from bot.bookings.staff import REASON_MAX

    return REASON_MAX


def _mask() -> Any:
    from bot.web.pages import mask_phone  # the same masking as the admin API's JSON

    return mask_phone


def left_to_refund(found: OrderHistory) -> int:
    """Won of the order not refunded yet (refunds WeChat Pay closed unpaid do not count)."""
    return max(found.booking.total_krw - found.refunded_krw, 0)


# --- a day's orders -------------------------------------------------------------------------------------
@bp.get("/orders")
def orders() -> Response:
    """`?day=YYYY-MM-DD` (today in Seoul by default), `&product=`, `&status=`; `?ref=` jumps to that order."""
    t = words()["orders"]
    wanted = request.args.get("ref", "").strip()
    if wanted:
        if not REF.fullmatch(wanted):
            return refuse(404, t["not_found"].format(ref=wanted[:20]), link=("console.orders", {}))
        return redirect(url_for("console.order", ref=wanted.upper()), code=303)  # type: ignore[return-value]
    raw = request.args.get("day", "").strip()
    try:
        day = date.fromisoformat(raw) if raw else today()
    except ValueError:
        return refuse(400, t["bad_day"], link=("console.orders", {}))
    product = request.args.get("product", "").strip()
    status = request.args.get("status", "").strip()
    if status and status not in _statuses():
        return refuse(400, t["bad_status"], link=("console.orders", {"day": day.isoformat()}))
    from bot.bookings.staff import UnknownProduct

    try:
        found = _staff().orders(day, product or None, status or None)
    except UnknownProduct:
        return refuse(400, t["bad_product"].format(product=product[:40]),
                      link=("console.orders", {"day": day.isoformat()}))
    audit_read(day=day.isoformat(), orders=len(found.orders), **({"product": product} if product else {}),
               **({"status": status} if status else {}))
    names = ext().content.products.names(lang())
    return render("orders", day=day, prev=day - timedelta(days=1), next=day + timedelta(days=1),
                  is_today=day == today(), orders=found.orders, totals=found.totals,
                  total_krw=sum(x.krw for x in found.totals.values()), product=product, status=status,
                  products=sorted(names.items()), statuses=_statuses(), pills=PILLS, phone=_mask())


# --- one order ------------------------------------------------------------------------------------------
def _order_page(ref: str, status: int = 200, error: str = "", amount: str = "", reason: str = "") -> Response:
    """The order with its history and refunds; `error` (with the form as typed) after a refused action."""
    from bot.bookings.staff import NotFound

    audit_read(order=ref.strip().upper()[:20])  # a look-up of an unknown reference too, as the admin API does
    try:
        found = _staff().history(ref)
    except NotFound:
        return refuse(404, words()["orders"]["not_found"].format(ref=ref.strip().upper()[:20]),
                      link=("console.orders", {}))
    b = found.booking
    left = left_to_refund(found)
    return render("order", status, h=found, b=b, left=left, refundable=b.status in REFUNDABLE and left > 0,
                  resendable=b.status in RESENDABLE, error=error, amount=amount or str(left), reason=reason,
                  reason_max=_reason_max(), done=request.args.get("done", ""), pills=PILLS, phone=_mask())


@bp.get("/orders/<ref>")
def order(ref: str) -> Response:
    return _order_page(ref)


def _amount(raw: str, left: int) -> int | None:
    """The amount typed (commas and spaces allowed; empty: all that is left), or None when it is no number."""
    digits = re.sub(r"[\s,_]", "", raw)
    if not digits:
        return left
    return int(digits) if digits.isascii() and digits.isdigit() else None


@bp.post("/orders/<ref>/refund")
def order_refund(ref: str) -> Response:
    """Without `confirm=1`: check the amount and the reason and show what will happen (nothing changes). With
    it: `Staff.refund`, and back to the order. The confirmation carries how many refunds the order had: a
    confirmation posted twice (a double click) or after another refund is refused rather than refunding again
    (a paid order's second refund is refused anyway: it is refunding; a redeemed order's would not be)."""
    from bot.bookings.staff import NotFound

    t = words()["orders"]
    names = t["status_names"]
    reason = " ".join(request.form.get("reason", "").split())
    raw = request.form.get("amount", "").strip()
    try:
        found = _staff().history(ref)
    except NotFound:
        return refuse(404, t["not_found"].format(ref=ref.strip().upper()[:20]), link=("console.orders", {}))
    b = found.booking
    left = left_to_refund(found)
    audit_detail(order=b.ref)

    def refused(code: int, message: str) -> Response:
        audit_detail(refused=message[:200])
        return _order_page(b.ref, code, message, amount=raw, reason=reason)

    if b.status not in REFUNDABLE:
        return refused(409, t["not_refundable"].format(status=names.get(b.status, b.status)))
    if left <= 0:
        return refused(409, t["nothing_left"].format(total=f"{b.total_krw:,}"))
    confirmed = request.form.get("confirm") == "1"
    if confirmed and request.form.get("seen") != str(len(found.refunds)):  # a second click, or another refund
        return refused(409, t["changed"])
    amount = _amount(raw, left)
    if amount is None or amount < 1:
        return refused(400, t["bad_amount"])
    if amount > left:
        return refused(400, t["too_much"].format(amount=f"{amount:,}", left=f"{left:,}"))
    if not reason:
        return refused(400, t["reason_empty"])
    if len(reason) > _reason_max():
        return refused(400, t["reason_long"].format(max=_reason_max(), length=len(reason)))
    if not confirmed:
        audit_detail(amount_krw=amount, step="confirmation")
        return render("order_refund", b=b, amount=amount, reason=reason, left=left, seen=len(found.refunds),
                      pills=PILLS)
    try:
        done = _staff().refund(b.ref, reason=reason, by=me().name, amount_krw=amount)
    except StaffError as exc:
        return refused(exc.status, t["refund_refused"].format(reason=exc))
    audit_detail(refund=done.refund.out_refund_no, amount_krw=done.refund.amount_krw, queued=done.queued)
    return back("console.order", ref=b.ref, done="refunded" if done.queued else "refund_waiting")


@bp.post("/orders/<ref>/resend")
def order_resend(ref: str) -> Response:
    """Queue the confirmation template message of a paid or confirmed order again."""
    from bot.bookings.staff import NotFound

    t = words()["orders"]
    try:
        booking = _staff().resend_confirmation(ref)
    except NotFound:
        return refuse(404, t["not_found"].format(ref=ref.strip().upper()[:20]), link=("console.orders", {}))
    except StaffError as exc:
        audit_detail(order=ref.strip().upper()[:20], refused=str(exc)[:200])
        return _order_page(ref, exc.status, t["resend_refused"].format(reason=exc))
    audit_detail(order=booking.ref)
    return back("console.order", ref=booking.ref, done="resent")


def traveler_orders(openid: str) -> list[Any]:
    """The traveler's latest five orders, newest first (the inbox item shows them)."""
    return _staff().traveler_orders(openid, limit=5)
