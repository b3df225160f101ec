"""Background work on an RQ queue over Redis, so any worker on any host can run it.

`flask --app wsgi worker` runs a worker inside the app context the jobs need. The embedded
development runner has no worker process: its queue runs each job at once in the enqueuing thread.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from flask import current_app
from rq import Queue, Retry
from wechatpy.exceptions import WeChatClientException

from bot.infra.clock import SEOUL

log = logging.getLogger(__name__)

# Final customer-service errors: outside the 48 h window / unsubscribed, and over the message count.
KF_FINAL_ERRORS = {45015, 45047}
# Template messages: unsubscribed / refused by the user, invalid template id, over the daily quota.
TEMPLATE_FINAL_ERRORS = {43004, 43101, 40037, 45009}


def make_queue(redis_client: Any, name: str, run_inline: bool) -> Queue:
    return Queue(name, connection=redis_client, is_async=not run_inline)


def enqueue_late_reply(queue: Queue, openid: str, payload: dict[str, Any], delivery: str) -> None:
    queue.enqueue(deliver_late_reply, openid, payload, delivery,
                  retry=Retry(max=3, interval=[5, 20, 60]), job_timeout=30, result_ttl=3600)


def deliver_late_reply(openid: str, payload: dict[str, Any], delivery: str) -> str:
    """Send a reply that missed the passive window through the customer-service API.

    Quota errors are final (logged, not retried: retrying cannot succeed and would burn the next
    message's quota); anything else raises so RQ retries it with backoff.
    """
    api = current_app.extensions["yjy"].api
    try:
        api.send_custom(payload)
    except WeChatClientException as exc:
        if exc.errcode in KF_FINAL_ERRORS:
            log.warning("late reply for %s not delivered, final error %s: %s", delivery, exc.errcode, exc.errmsg)
            return f"dropped:{exc.errcode}"
        log.warning("late reply for %s failed (%s), will retry", delivery, exc.errcode)
        raise
    log.info("late reply for %s delivered via customer-service API", delivery)
    return "sent"


def enqueue_booking_confirmation(queue: Queue, ref: str) -> None:
    queue.enqueue(send_booking_confirmation, ref, retry=Retry(max=3, interval=[10, 60, 300]), job_timeout=30,
                  result_ttl=86400)


def send_booking_confirmation(ref: str) -> str:
    """The booking confirmation as a WeChat template message (template id from config)."""
    from bot.bookings import orders as bookings, links

    ext = current_app.extensions["yjy"]
    booking = bookings.get(ext.db, ref)
    if booking is None:
        log.error("confirmation for unknown booking %s", ref)
        return "unknown"
    data = ext.cards.template_data("booking_confirmation", booking.lang, booking=booking)
    try:
        ext.api.message.send_template(booking.openid, ext.config.bookings.template_id, data,
                                      url=links.booking_url(ext.config, booking.ref, booking.openid))
    except WeChatClientException as exc:
        if exc.errcode in TEMPLATE_FINAL_ERRORS:
            log.warning("confirmation for %s not sent, final error %s: %s", ref, exc.errcode, exc.errmsg)
            return f"dropped:{exc.errcode}"
        raise
    log.info("confirmation for %s sent as a template message", ref)
    return "sent"


def send_broadcast(broadcast_id: int, scheduled_for: str | None = None) -> str:
    """Send (or resume) a planned broadcast on a worker; its batches make a re-run safe.

    A scheduled job whose time is no longer the broadcast's was replaced by a later `send`: it does nothing.
    """
    from bot.broadcasts import sending as broadcast_send
    from bot.broadcasts.news import NewsComposer
    from bot.infra.db.models import Broadcast

    ext = current_app.extensions["yjy"]
    if scheduled_for is not None:
        with ext.db.session() as s:
            broadcast = s.get(Broadcast, broadcast_id)
            current = broadcast.scheduled_at if broadcast else None
        if current is None or _as_utc(current) != _as_utc(datetime.fromisoformat(scheduled_for)):
            return f"skipped: broadcast {broadcast_id} was rescheduled or sent since this job was queued"
    report = broadcast_send.send(ext.db, ext.api, ext.redis, ext.keys, broadcast_id,
                                 compose=NewsComposer(ext.services).payload)
    return f"{report.status}: {len(report.sent)} batches sent{f' ({report.error})' if report.error else ''}"


def _as_utc(when: datetime) -> datetime:
    return (when if when.tzinfo else when.replace(tzinfo=SEOUL)).astimezone(timezone.utc)  # SQLite: Seoul wall time
