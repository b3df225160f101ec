"""`/admin/api/orders` and `/admin/api/group-requests`: staff work on orders (`bot.bookings.staff`): the day's
orders, one order's history, refunds, resent confirmations, group requests. Phone numbers masked, never passport
details; every read is audited."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, request

from bot.bookings.staff import StaffError
from bot.web.admin_api import app_ext, bp, error, json_body, seoul_time

if TYPE_CHECKING:
    from bot.bookings.staff import OrderHistory, Staff
    from bot.infra.db.models import Booking, GroupRequest, Refund


def _staff() -> Staff:
    from bot.bookings.staff import staff  # loads on first use, like the broadcast machinery

    return staff(app_ext())


def _refused(exc: StaffError) -> Response:
    """The staff service's refusals as HTTP errors."""
    return error(exc.status, str(exc), exc.field)


@bp.get("/orders")
def list_orders() -> Response:
    """`?day=YYYY-MM-DD` (required), `&product=<id>`, `&status=<status>`: the day's orders and totals per status."""
    g.audit_read = True
    raw_day = request.args.get("day", "")
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        return error(400, "expected day=YYYY-MM-DD", "day")
    try:
        found = _staff().orders(day, request.args.get("product") or None, request.args.get("status") or None)
    except StaffError as exc:
        return _refused(exc)
    g.audit_detail = {"day": day.isoformat(), "orders": len(found.orders)}
    return jsonify({"day": day.isoformat(), "orders": [_order(b) for b in found.orders],
                    "totals": {k: {"orders": t.orders, "krw": t.krw} for k, t in found.totals.items()},
                    "count": len(found.orders)})


@bp.get("/orders/<ref>")
def show_order(ref: str) -> Response:
    """The order, every move of its status and its refunds."""
    g.audit_read = True
    try:
        found = _staff().history(ref)
    except StaffError as exc:
        return _refused(exc)
    g.audit_detail = {"order": found.booking.ref}
    return jsonify(_history(found))


@bp.post("/orders/<ref>/refund")
def refund_order(ref: str) -> Response:
    """Body `{"reason": "...", "amount_krw": 50000}` (amount optional: all that is left): a paid order goes to
    refunding and WeChat Pay is asked for the money by a job (202)."""
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    reason, amount = body.get("reason"), body.get("amount_krw")
    if not isinstance(reason, str):
        return error(400, "a reason is required (WeChat Pay shows it to the traveler with the refund)", "reason")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        return error(400, "the amount must be a whole number of won, 1 or more", "amount_krw")
    try:
        done = _staff().refund(ref, reason=reason, by=g.actor, amount_krw=amount)
    except StaffError as exc:
        return _refused(exc)
    r = done.refund
    g.audit_detail = {"order": done.booking.ref, "refund": r.out_refund_no, "amount_krw": r.amount_krw}
    response = jsonify({"ref": done.booking.ref, "status": done.booking.status, "queued": done.queued,
                        "refund": _refund(r)})
    response.status_code = 202
    return response


@bp.post("/orders/<ref>/resend")
def resend_confirmation(ref: str) -> Response:
    """Queue the confirmation template message of a paid or confirmed order again (202)."""
    try:
        booking = _staff().resend_confirmation(ref)
    except StaffError as exc:
        return _refused(exc)
    g.audit_detail = {"order": booking.ref}
    response = jsonify({"ref": booking.ref, "queued": True})
    response.status_code = 202
    return response


@bp.get("/group-requests")
def list_group_requests() -> Response:
    """`?status=new|contacted|closed` (optional): group requests, oldest first."""
    g.audit_read = True
    try:
        found = _staff().group_requests(request.args.get("status") or None)
    except StaffError as exc:
        return _refused(exc)
    g.audit_detail = {"group_requests": len(found)}
    return jsonify([_group(r) for r in found])


@bp.post("/group-requests/<ref>")
def update_group_request(ref: str) -> Response:
    """Body `{"status": "contacted"}` or `{"status": "closed"}`: forward only (409 going back)."""
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    status = body.get("status")
    if not isinstance(status, str):
        return error(400, "expected status: contacted or closed", "status")
    try:
        moved = _staff().set_group_status(ref, status, by=g.actor)
    except StaffError as exc:
        return _refused(exc)
    g.audit_detail = {"group_request": moved.request.ref, "status": moved.request.status, "changed": moved.changed}
    return jsonify({**_group(moved.request), "changed": moved.changed})


def _order(b: Booking) -> dict[str, Any]:
    from bot.web.pages import mask_phone

    return {"ref": b.ref, "product_id": b.product_id, "product_name": b.product_name, "day": b.day.isoformat(),
            "slot": b.slot, "adults": b.adults, "children": b.children, "party": b.adults + b.children,
            "status": b.status, "payment": b.payment, "price_krw": b.price_krw, "discount_krw": b.discount_krw,
            "total_krw": b.total_krw, "pay_total": b.pay_total, "pay_currency": b.pay_currency,
            "contact_name": b.contact_name, "phone": mask_phone(b.phone), "created_at": seoul_time(b.created_at),
            "hold_until": seoul_time(b.hold_until), "paid_at": seoul_time(b.paid_at),
            "cancelled_at": seoul_time(b.cancelled_at), "redeemed_at": seoul_time(b.redeemed_at)}


def _history(found: OrderHistory) -> dict[str, Any]:
    b = found.booking
    return {**_order(b), "coupon_id": b.coupon_id, "transaction_id": b.transaction_id,
            "redeemed_by": b.redeemed_by, "refunded_krw": found.refunded_krw,
            "events": [{"from": e.from_status, "to": e.to_status, "actor": e.actor, "reason": e.reason,
                        "detail": e.detail, "at": seoul_time(e.at)} for e in found.events],
            "refunds": [_refund(r) for r in found.refunds]}


def _refund(r: Refund) -> dict[str, Any]:
    return {"out_refund_no": r.out_refund_no, "amount_krw": r.amount_krw, "pay_amount": r.pay_amount,
            "status": r.status, "reason": r.reason, "requested_by": r.requested_by,
            "created_at": seoul_time(r.created_at), "finished_at": seoul_time(r.finished_at)}


def _group(r: GroupRequest) -> dict[str, Any]:
    from bot.web.pages import mask_phone

    return {"ref": r.ref, "product_id": r.product_id, "day": r.day.isoformat(), "slot": r.slot, "adults": r.adults,
            "children": r.children, "party": r.adults + r.children, "contact_name": r.contact_name,
            "phone": mask_phone(r.phone), "created_at": seoul_time(r.created_at), "status": r.status}
