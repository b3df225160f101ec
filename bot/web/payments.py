"""WeChat Pay over HTTP: the notification endpoint, and the booking page's pay and status calls.

    POST /pay/notify                      WeChat Pay's notifications (payments and refunds): verified, applied
                                          once, answered in milliseconds (204); follow-ups go to the job queue
    POST /p/bookings/<ref>/pay?t=...      the getBrandWCPayRequest arguments for the owner's unpaid booking
    GET  /p/bookings/<ref>/status?t=...   the booking's status, which the page polls after paying

A failed check answers 4xx/5xx with {"code": "FAIL", "message": ...}: WeChat Pay then retries, which is what
a database that is down for a moment needs. A verified notification for another sub-merchant of our acquirer
is answered 204 and ignored.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bot.bookings.payments import Mismatch, NotPayable, PaymentUnavailable
from bot.infra import queue
from bot.pay.client import NoticeError, PayError, SignatureError, Transaction
from bot.web.pages import linked_booking

bp = Blueprint("payments", __name__, static_folder="static", static_url_path="/p/static")  # pay.js
log = logging.getLogger(__name__)
MAX_NOTICE_BYTES = 64 * 1024
FOLLOW_UP = {"paid", "late_paid", "refund_late", "refund_cancelled", "refunded"}


def _fail(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"code": "FAIL", "message": message}), status


@bp.post("/pay/notify")
def notify() -> Any:
    s = current_app.extensions["yjy"].services
    if s.pay is None:
        return _fail(404, "WeChat Pay is not configured")
    if (request.content_length or 0) > MAX_NOTICE_BYTES:
        return _fail(413, "notification too large")
    # The raw bytes (the signature covers them as sent), at most one past the limit: a chunked body has no
    # Content-Length to refuse it by.
    body = request.stream.read(MAX_NOTICE_BYTES + 1)
    if len(body) > MAX_NOTICE_BYTES:
        return _fail(413, "notification too large")
    try:
        notice = s.pay.notification(request.headers, body)
    except SignatureError as exc:
        log.warning("WeChat Pay notification refused: %s", exc)
        return _fail(401, f"signature: {exc}")
    except NoticeError as exc:
        log.error("WeChat Pay notification unreadable: %s", exc)
        return _fail(400, str(exc))
    now = s.clock.now()
    try:
        if notice.is_refund:
            out_trade_no = str(notice.resource.get("out_trade_no") or "")[:32]
            outcome = s.payments.apply_refund(notice.resource, now, "wechatpay:notify")
        else:
            tx = Transaction.parse(notice.resource)
            out_trade_no = tx.out_trade_no[:32]
            if not s.payments.ours(tx):
                log.info("notification %s is for another merchant: ignored", notice.id)
                return "", 204
            outcome = s.payments.apply_transaction(tx, now, "wechatpay:notify")
        if outcome in FOLLOW_UP:  # before the audit row: WeChat's retry after a failure there finds "already"
            _follow_up(s, out_trade_no, outcome)
        s.payments.take_notice(notice.id, notice.event_type, out_trade_no, now, outcome)
    except Mismatch as exc:
        log.error("WeChat Pay notification %s does not match its order: %s", notice.id, exc)
        return _fail(400, f"does not match the order: {exc}")
    except NoticeError as exc:
        log.error("WeChat Pay notification %s: %s", notice.id, exc)
        return _fail(400, str(exc))
    except SQLAlchemyError as exc:  # WeChat Pay retries: the payment is applied when the database is back
        log.error("WeChat Pay notification %s not applied, database error %s", notice.id, type(exc).__name__)
        return _fail(503, "temporarily unavailable")
    log.info("WeChat Pay %s for %s: %s", notice.event_type, out_trade_no, outcome)
    return "", 204


def _follow_up(s: Any, ref: str, outcome: str) -> None:
    """Confirmation messages and refunds are sent by a worker: the notification is answered now."""
    try:
        queue.enqueue_after_payment(s.queue, ref, outcome)
    except Exception:  # noqa: BLE001 - the payment is recorded; the sweep sends refunds, the page shows it paid
        log.exception("could not queue the follow-up of %s (%s)", ref, outcome)


@bp.post("/p/bookings/<ref>/pay")
def pay(ref: str) -> Any:
    s = current_app.extensions["yjy"].services
    booking = linked_booking(ref)
    if booking is None:
        return jsonify({"error": "not_found"}), 404
    try:
        params = s.payments.checkout(booking, s.clock.now())
    except NotPayable as exc:
        return jsonify({"error": "not_payable", "status": exc.status}), 409
    except PaymentUnavailable:
        return jsonify({"error": "unavailable"}), 503
    except PayError as exc:
        log.warning("placing the WeChat Pay order for %s failed: %s", ref, exc)
        return jsonify({"error": "pay_error", "retry": exc.retryable}), 502
    response = jsonify({"params": params, "simulated": s.config.pay.simulated})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/p/bookings/<ref>/status")
def status(ref: str) -> Any:
    booking = linked_booking(ref)
    if booking is None:
        return jsonify({"error": "not_found"}), 404
    response = jsonify({"status": booking.status})
    response.headers["Cache-Control"] = "no-store"
    return response
