"""`/admin/api/`: the staff's HTTP API: broadcasts, orders, group requests. Bearer tokens from config; JSON in
and out.

Without a valid token nothing is readable (401); every authenticated call that changes something, and every
read of travelers' orders and group requests, is written to the audit log with the caller's token fingerprint.
Orders and group requests come with masked phone numbers and never with passport details.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from bot.broadcasts.errors import MessageError, NoScheduler, PlanError, SpecError
from bot.infra import audit as audit_log

if TYPE_CHECKING:
    from bot.bookings.staff import OrderHistory, Staff
    from bot.broadcasts.service import BroadcastService, Status, Summary
    from bot.infra.db.models import Booking, GroupRequest, Refund

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin/api")


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def _ext() -> Any:
    return current_app.extensions["yjy"]


@bp.before_request
def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    # Compare with every configured token, in constant time, without stopping at the first match.
    ok = False
    for known in _ext().config.admin_tokens:
        ok |= hmac.compare_digest(token.encode(), known.encode())
    if not token or not ok:
        log.warning("admin API refused %s %s from %s: %s", request.method, request.path,
                    request.headers.get("X-Forwarded-For", request.remote_addr), "bad token" if token else "no token")
        response = _error(401, "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="yijiyou-admin"'
        return response
    g.actor = "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]
    return None


@bp.after_request
def audit(response: Response) -> Response:
    if (request.method != "GET" or getattr(g, "audit_read", False)) and getattr(g, "actor", None):
        audit_log.record(_ext().db, actor=g.actor, method=request.method, path=request.path,
                         status=response.status_code, detail=getattr(g, "audit_detail", {}))
    return response


def _json_body() -> Any:
    if not request.is_json:
        return None
    return request.get_json(silent=True)


def _service() -> BroadcastService:
    from bot.broadcasts.service import broadcast_service  # the broadcast machinery loads on first use

    return broadcast_service(_ext())


@bp.get("/broadcasts")
def list_broadcasts() -> Response:
    return jsonify([_summary(b) for b in _service().newest(100)])


@bp.post("/broadcasts")
def create_broadcast() -> Response:
    """Body: a broadcast spec as JSON, plus `"dry_run": true` for the audience size and a sample only."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    dry_run = body.pop("dry_run", False) is True
    service = _service()
    try:
        draft = service.validate(body)
    except SpecError as exc:
        return _error(400, exc.message, exc.field)
    try:
        if dry_run:  # counted as create would freeze it, and refused (422) the same way
            found = service.dry_run(draft)
            return jsonify({"name": found.name, "audience": found.audience, "mode": found.mode,
                            "batches": found.batches, "skipped_monthly_limit": found.skipped_monthly_limit,
                            "sample": found.sample})
        plan = service.create(draft, g.actor)
    except PlanError as exc:
        return _error(422, str(exc))
    g.audit_detail = {"broadcast": plan.broadcast_id, "audience": plan.audience}
    response = jsonify({"id": plan.broadcast_id, "mode": plan.mode, "audience": plan.audience,
                        "batches": plan.batches, "skipped_monthly_limit": plan.skipped_monthly_limit})
    response.status_code = 201
    return response


@bp.post("/broadcasts/preview")
def preview_broadcast() -> Response:
    """Body: a broadcast spec plus `"to": [test openids]`; sends it to them through WeChat's preview API."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    to = body.pop("to", None)
    if not isinstance(to, list) or not 1 <= len(to) <= 20 or not all(isinstance(o, str) and o for o in to):
        return _error(400, "expected 1 to 20 test openids", "to")
    service = _service()
    try:
        refused = service.preview(service.validate(body).spec, to)
    except SpecError as exc:
        return _error(400, exc.message, exc.field)
    except MessageError as exc:
        return _error(502, str(exc))
    g.audit_detail = {"to": len(to), "refused": refused}
    return jsonify({"sent": len(to) - len(refused), "refused": refused})


@bp.get("/broadcasts/<int:broadcast_id>")
def show_broadcast(broadcast_id: int) -> Response:
    try:
        found = _service().status(broadcast_id)
    except LookupError as exc:
        return _error(404, str(exc))
    return jsonify(_status(found))


@bp.post("/broadcasts/<int:broadcast_id>/send")
def send_broadcast(broadcast_id: int) -> Response:
    """Queue the send on the RQ worker; body `{"at": "2026-12-01T10:00"}` (Asia/Seoul) schedules it, and
    `{"skip_failed": true}` gives up on the batches WeChat refused (otherwise the send retries them)."""
    service = _service()
    body = _json_body() or {}
    at = body.get("at") if isinstance(body, dict) else None
    skip_failed = isinstance(body, dict) and body.get("skip_failed", False)
    if skip_failed not in (True, False):
        return _error(400, "expected true or false", "skip_failed")
    when = None
    if at is not None:
        try:
            when = service.parse_time(str(at))
        except ValueError as exc:
            return _error(400, str(exc), "at")
    skipped = None
    try:
        service.check_sendable(broadcast_id)  # nothing given up on a broadcast that cannot be sent
        if skip_failed:
            batches, followers = service.skip_failed(broadcast_id)
            skipped = {"batches": batches, "followers": followers}
        when = service.queue_send(broadcast_id, when)
    except NoScheduler as exc:
        return _error(422, f"{exc}; send without `at`", "at")
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:  # sent or cancelled
        return _error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id, **({"at": when.isoformat()} if when else {}),
                      **({"skipped": skipped} if skipped else {})}
    response = jsonify({"id": broadcast_id, "queued": True, "at": at, **({"skipped": skipped} if skipped else {})})
    response.status_code = 202
    return response


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def cancel_broadcast(broadcast_id: int) -> Response:
    try:
        _service().cancel(broadcast_id)
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id}
    return jsonify({"id": broadcast_id, "status": "cancelled"})


# --- orders and group requests (bot.bookings.staff) ---------------------------------------------------
def _staff() -> Staff:
    from bot.bookings.staff import staff  # loads on first use, like the broadcast machinery

    return staff(_ext())


def _refused(exc: Exception) -> Response:
    """The staff service's refusals as HTTP errors."""
    from bot.bookings.staff import Invalid, NotFound, QueueDown, Refused, UnknownProduct

    if isinstance(exc, Invalid):
        return _error(400, exc.message, exc.field)
    if isinstance(exc, UnknownProduct):
        return _error(400, str(exc), "product")
    if isinstance(exc, NotFound):
        return _error(404, str(exc))
    if isinstance(exc, Refused):
        return _error(409, str(exc))
    if isinstance(exc, QueueDown):
        return _error(503, str(exc))
    raise exc


def _staff_errors() -> tuple[type[Exception], ...]:
    from bot.bookings.staff import Invalid, NotFound, QueueDown, Refused, UnknownProduct

    return Invalid, NotFound, QueueDown, Refused, UnknownProduct


@bp.get("/orders")
def list_orders() -> Response:
    """`?day=YYYY-MM-DD` (required), `&product=<id>`, `&status=<status>`: the day's orders and totals per status."""
    g.audit_read = True
    raw_day = request.args.get("day", "")
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        return _error(400, "expected day=YYYY-MM-DD", "day")
    try:
        found = _staff().orders(day, request.args.get("product") or None, request.args.get("status") or None)
    except _staff_errors() as exc:
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
    except _staff_errors() as exc:
        return _refused(exc)
    g.audit_detail = {"order": found.booking.ref}
    return jsonify(_history(found))


@bp.post("/orders/<ref>/refund")
def refund_order(ref: str) -> Response:
    """Body `{"reason": "...", "amount_krw": 50000}` (amount optional: all that is left): a paid order goes to
    refunding and WeChat Pay is asked for the money by a job (202)."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    reason, amount = body.get("reason"), body.get("amount_krw")
    if not isinstance(reason, str):
        return _error(400, "a reason is required (WeChat Pay shows it to the traveler with the refund)", "reason")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        return _error(400, "the amount must be a whole number of won, 1 or more", "amount_krw")
    try:
        done = _staff().refund(ref, reason=reason, by=g.actor, amount_krw=amount)
    except _staff_errors() as exc:
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
    except _staff_errors() as exc:
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
    except _staff_errors() as exc:
        return _refused(exc)
    g.audit_detail = {"group_requests": len(found)}
    return jsonify([_group(r) for r in found])


@bp.post("/group-requests/<ref>")
def update_group_request(ref: str) -> Response:
    """Body `{"status": "contacted"}` or `{"status": "closed"}`: forward only (409 going back)."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    status = body.get("status")
    if not isinstance(status, str):
        return _error(400, "expected status: contacted or closed", "status")
    try:
        moved = _staff().set_group_status(ref, status, by=g.actor)
    except _staff_errors() as exc:
        return _refused(exc)
    g.audit_detail = {"group_request": moved.request.ref, "status": moved.request.status, "changed": moved.changed}
    return jsonify({**_group(moved.request), "changed": moved.changed})


# --- the service's results as JSON ----------------------------------------------------------------
def _time(when: datetime | None) -> str | None:
    """A stored time in Seoul's zone (SQLite gives it back without one: Seoul wall time already)."""
    from bot.infra.clock import in_seoul

    return in_seoul(when).isoformat() if when is not None else None


def _order(b: Booking) -> dict[str, Any]:
    from bot.web.pages import mask_phone

    return {"ref": b.ref, "product_id": b.product_id, "product_name": b.product_name, "day": b.day.isoformat(),
            "slot": b.slot, "adults": b.adults, "children": b.children, "party": b.adults + b.children,
            "status": b.status, "payment": b.payment, "price_krw": b.price_krw, "discount_krw": b.discount_krw,
            "total_krw": b.total_krw, "pay_total": b.pay_total, "pay_currency": b.pay_currency,
            "contact_name": b.contact_name, "phone": mask_phone(b.phone), "created_at": _time(b.created_at),
            "hold_until": _time(b.hold_until), "paid_at": _time(b.paid_at), "cancelled_at": _time(b.cancelled_at),
            "redeemed_at": _time(b.redeemed_at)}


def _history(found: OrderHistory) -> dict[str, Any]:
    b = found.booking
    return {**_order(b), "coupon_id": b.coupon_id, "transaction_id": b.transaction_id,
            "redeemed_by": b.redeemed_by, "refunded_krw": found.refunded_krw,
            "events": [{"from": e.from_status, "to": e.to_status, "actor": e.actor, "reason": e.reason,
                        "detail": e.detail, "at": _time(e.at)} for e in found.events],
            "refunds": [_refund(r) for r in found.refunds]}


def _refund(r: Refund) -> dict[str, Any]:
    return {"out_refund_no": r.out_refund_no, "amount_krw": r.amount_krw, "pay_amount": r.pay_amount,
            "status": r.status, "reason": r.reason, "requested_by": r.requested_by, "created_at": _time(r.created_at),
            "finished_at": _time(r.finished_at)}


def _group(r: GroupRequest) -> dict[str, Any]:
    from bot.web.pages import mask_phone

    return {"ref": r.ref, "product_id": r.product_id, "day": r.day.isoformat(), "slot": r.slot, "adults": r.adults,
            "children": r.children, "party": r.adults + r.children, "contact_name": r.contact_name,
            "phone": mask_phone(r.phone), "created_at": _time(r.created_at), "status": r.status}


def _summary(b: Summary) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "status": b.status, "mode": b.mode, "audience": b.audience,
            "skipped_monthly_limit": b.skipped_monthly_limit, "created_by": b.created_by,
            "created_at": b.created_at.isoformat(), "error": b.error,
            "scheduled_at": b.scheduled_at.isoformat() if b.scheduled_at else None,
            "results": b.results.as_dict(), "not_reached": b.not_reached}


def _status(found: Status) -> dict[str, Any]:
    return {**_summary(found.broadcast), "batches": [
        {"seq": x.seq, "size": x.size, "status": x.status, "attempts": x.attempts, "msg_id": x.msg_id,
         "error": x.error, "total": x.total, "sent": x.sent, "errors": x.errors, "filter_count": x.filter_count}
        for x in found.batches]}
