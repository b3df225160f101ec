"""Background jobs an RQ worker runs (`flask --app wsgi worker`, inside the app context they need).

Code that enqueues names them by dotted path (`bot.infra.queue`), so it
never imports this module; the paths are stored in Redis with each job and must not move. The embedded
development runner has no worker process: its queue runs each job at once in the enqueuing thread.
"""
from __future__ import annotations

import logging
from typing import Any

import redis
from flask import current_app
from wechatpy.exceptions import WeChatClientException

from bot.infra import metrics

log = logging.getLogger(__name__)

# Final customer-service errors: outside the 48 h window / unsubscribed, and over the message count.
KF_FINAL_ERRORS = {45015, 45047}
LATE_REPLY_MARK_SECONDS = 48 * 3600  # the kf window: past it nothing can be sent anyway
# Template messages: unsubscribed / refused by the user, invalid template id, over the daily quota.
TEMPLATE_FINAL_ERRORS = {43004, 43101, 40037, 45009}


def deliver_late_reply(openid: str, payload: dict[str, Any], delivery: str) -> str:
    """Send a reply that missed the passive window through the customer-service API, once.

    A key in Redis marks the reply as being sent before the call: a job run again (an RQ retry, a worker killed
    mid-send) finds it and sends nothing. WeChat refusing it (an error code) frees the key: quota errors are
    final (logged: retrying cannot succeed and would burn the next message's quota), anything else raises so
    RQ retries with backoff. A timeout leaves the key: WeChat may have sent it, and twice is worse than late.
    """
    ext = current_app.extensions["yjy"]
    key = ext.keys.late_reply(delivery)
    try:
        first = ext.redis.set(key, "sending", nx=True, ex=LATE_REPLY_MARK_SECONDS)
    except redis.RedisError as exc:  # cannot check: send (the job itself came from Redis a moment ago)
        log.warning("late reply for %s: could not mark it (%s), sending anyway", delivery, type(exc).__name__)
        first = True
    if not first:
        log.info("late reply for %s already sent or being sent: not sent again", delivery)
        return "already"
    try:
        ext.wechat.send_custom(payload)
    except WeChatClientException as exc:
        if exc.errcode is None and "Timeout" in str(exc.errmsg):
            log.warning("late reply for %s timed out: WeChat may have sent it, so it is not sent again", delivery)
            metrics.late_reply(ext.redis, ext.keys, "unknown")
            return "unknown"
        _forget(ext, key)
        metrics.late_reply(ext.redis, ext.keys, "failed")
        if exc.errcode in KF_FINAL_ERRORS:
            log.warning("late reply for %s not delivered, final error %s: %s", delivery, exc.errcode, exc.errmsg)
            return f"dropped:{exc.errcode}"
        log.warning("late reply for %s failed (%s), will retry", delivery, exc.errcode)
        raise
    try:
        ext.redis.set(key, "sent", ex=LATE_REPLY_MARK_SECONDS)
    except redis.RedisError:
        pass  # still marked "sending": a rerun sends nothing either way
    log.info("late reply for %s delivered via customer-service API", delivery)
    metrics.late_reply(ext.redis, ext.keys, "sent")
    return "sent"


def _forget(ext: Any, key: str) -> None:
    try:
        ext.redis.delete(key)
    except redis.RedisError:
        log.warning("could not clear %s: a retry of that late reply will not send it", key)


def send_booking_confirmation(ref: str) -> str:
    """The booking confirmation as a WeChat template message (template id from config)."""
    from bot.bookings import orders as bookings

    ext = current_app.extensions["yjy"]
    booking = bookings.get(ext.db, ref)
    if booking is None:
        log.error("confirmation for unknown booking %s", ref)
        return "unknown"
    return _send_template(ext, booking, "booking_confirmation", ext.config.bookings.template_id)


def _send_template(ext: Any, booking: Any, name: str, template_id: str, **context: Any) -> str:
    """One template message about `booking` (fields from `<lang>/<name>.tmsg.j2`); WeChat's final refusals are
    logged and dropped, anything else raises so RQ retries."""
    from bot.bookings import links

    data = ext.cards.template_data(name, booking.lang, booking=booking, **context)
    try:
        ext.wechat.send_template(booking.openid, template_id, data, url=links.booking_url(ext.config, booking))
    except WeChatClientException as exc:
        if exc.errcode in TEMPLATE_FINAL_ERRORS:
            log.warning("%s for %s not sent, final error %s: %s", name, booking.ref, exc.errcode, exc.errmsg)
            return f"dropped:{exc.errcode}"
        raise
    log.info("%s for %s sent as a template message", name, booking.ref)
    return "sent"


def send_booking_reminders() -> str:
    """The day-before reminders (a worker queues this every hour): each booking of tomorrow that is paid or
    confirmed gets one, claimed in the database first so two workers never both send it."""
    from bot.bookings import reminders

    ext = current_app.extensions["yjy"]
    template_id = ext.config.bookings.reminder_template_id
    if not template_id:
        return "no reminder template configured"
    sent = failed = 0
    for booking in reminders.claim_due(ext.db, ext.clock.now()):
        try:
            outcome = _send_template(ext, booking, "booking_reminder", template_id)
        except WeChatClientException as exc:  # not final: unclaimed, the next run tries again
            reminders.unclaim(ext.db, booking.ref)
            log.warning("reminder for %s failed (%s), will retry", booking.ref, exc.errcode)
            failed += 1
            continue
        sent += outcome == "sent"
    return f"reminders sent {sent}, to retry {failed}"


def after_payment(ref: str, outcome: str) -> str:
    """What follows a payment notification: the traveler hears that it went through (a chat message, and the
    template message when one is configured), or, for money that came after the hold expired with the seats
    gone or after a cancellation, the refund is requested and the traveler told why. Each message is sent
    once per booking and outcome, however often this job runs."""
    from bot.bookings import links
    from bot.bookings import orders as bookings
    from bot.bookings.payments import SweepReport
    from bot.wechat.replies import to_customer_service

    ext = current_app.extensions["yjy"]
    booking = bookings.get(ext.db, ref)
    if booking is None:
        log.error("payment follow-up for unknown booking %s", ref)
        return "unknown"
    if outcome.startswith("refund_"):
        ext.payments.send_refunds(ext.clock.now(), SweepReport())
    mark = ext.keys.payment_message(ref, outcome)
    if not ext.redis.set(mark, "1", nx=True, ex=LATE_REPLY_MARK_SECONDS):
        return "already told"
    url = links.booking_url(ext.config, booking)
    reply = ext.cards.text(f"booking_{outcome}", booking.lang, booking=booking, url=url,
                           passport=booking.product_id in ext.content.products.needing_passports)
    payload = to_customer_service(reply, booking.openid)
    try:
        if payload is not None:
            ext.wechat.send_custom(payload)
    except WeChatClientException as exc:
        if exc.errcode not in KF_FINAL_ERRORS:
            _forget(ext, mark)
            raise
        log.warning("payment message for %s not delivered, final error %s", ref, exc.errcode)
    if outcome in ("paid", "late_paid") and ext.config.bookings.template_id:
        send_booking_confirmation(ref)
    if outcome == "refunded" and ext.config.bookings.refund_template_id:
        _send_template(ext, booking, "booking_refund", ext.config.bookings.refund_template_id,
                       refunded=ext.payments.refunded_krw(ref))
    return f"told:{outcome}"


def send_refunds() -> str:
    """Ask WeChat Pay for every refund requested and not yet accepted (a failure is retried by the sweep)."""
    from bot.bookings.payments import SweepReport

    ext = current_app.extensions["yjy"]
    report = SweepReport()
    ext.payments.send_refunds(ext.clock.now(), report)
    return f"refunds sent {len(report.refunds_sent)}, not yet {len(report.errors)}"


def close_cancelled_order(ref: str) -> str:
    """An unpaid order the traveler cancelled can no longer be paid; a payment that slipped in is refunded."""
    from bot.infra import queue

    ext = current_app.extensions["yjy"]
    outcome = ext.payments.close_cancelled(ref, ext.clock.now())
    if outcome == "refund_cancelled":
        queue.enqueue_after_payment(ext.queue, ref, outcome)
    return outcome


def refresh_rates() -> str:
    """Today's exchange rates into the shared cache (one call to the source; a holiday keeps the last ones)."""
    ext = current_app.extensions["yjy"]
    quote = ext.rates.refresh()
    if quote is None:
        return "no rates"
    return f"rates of {quote.table.as_of:%Y-%m-%d}{' (stale: the source failed)' if quote.stale else ''}"


def _refresh_live(kind: str) -> str:
    """One kind of live data into the shared cache, as `flask live refresh <kind>` does (quota counted)."""
    from bot.cli.live import REFRESHERS

    return "; ".join(REFRESHERS[kind](current_app.extensions["yjy"]))


def refresh_weather() -> str:
    return _refresh_live("weather")


def refresh_air() -> str:
    return _refresh_live("air")


def refresh_crowds() -> str:
    return _refresh_live("crowd")


def payments_sweep() -> str:
    """Expire unpaid holds that ran out, apply payments whose notification was lost, send and check refunds."""
    ext = current_app.extensions["yjy"]
    report = ext.payments.sweep(ext.clock.now())
    for ref in report.paid:
        from bot.infra import queue

        queue.enqueue_after_payment(ext.queue, ref, "paid")
    return (f"expired {len(report.expired)}, paid {len(report.paid)}, refunds sent {len(report.refunds_sent)}, "
            f"done {len(report.refunds_done)}, errors {len(report.errors)}")


def record_handoff_request(request: dict[str, Any]) -> str:
    """A hand-off or complaint the database could not take when the traveler asked: written now (once per
    delivery, however often this runs). A failure raises, and RQ tries again later."""
    from datetime import datetime

    from bot.followers import handoff

    ext = current_app.extensions["yjy"]
    fields = dict(request, now=datetime.fromisoformat(request["now"]))
    recorded = handoff.record(ext.db, **fields)
    return f"recorded:{recorded.id}"


def send_broadcast(broadcast_id: int, scheduled_for: str | None = None) -> str:
    """Send (or resume) a planned broadcast on a worker; its batches make a re-run safe.

    A scheduled job whose time is no longer the broadcast's was replaced by a later `send`: it does nothing.
    """
    from bot.broadcasts.service import broadcast_service

    report = broadcast_service(current_app.extensions["yjy"]).send_scheduled(broadcast_id, scheduled_for)
    if report is None:
        return f"skipped: broadcast {broadcast_id} was rescheduled or sent since this job was queued"
    return f"{report.status}: {len(report.sent)} batches sent{f' ({report.error})' if report.error else ''}"


def flush_insights() -> str:
    """Message events waiting in Redis into the insight tables (exactly once per batch; bot/insights/flush.py)."""
    from bot.insights.flush import flush

    return str(flush(current_app.extensions["yjy"]))


def purge_insights() -> str:
    """Raw texts older than `insights.keep_raw_days` deleted, closed hand-off texts blanked; counts stay."""
    from bot.insights.retention import purge

    return str(purge(current_app.extensions["yjy"]))
