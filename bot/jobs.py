"""Background work on an RQ queue over Redis, so any worker on any host can run it.

`flask --app wsgi worker` runs a worker inside the app context the jobs need. The embedded
development runner has no worker process: its queue runs each job at once in the enqueuing thread.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from rq import Queue, Retry
from wechatpy.exceptions import WeChatClientException

log = logging.getLogger(__name__)

# Final customer-service errors: outside the 48 h window / unsubscribed, and over the message count.
KF_FINAL_ERRORS = {45015, 45047}


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
