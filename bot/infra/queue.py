"""The RQ job queue over Redis, so any worker on any host can run background work.

Jobs are enqueued by their dotted path, not by function object: code that enqueues (the pipeline, the
booking handler, the broadcast service) does not import the jobs module, which runs in the worker's app
context. The paths are part of what is stored in Redis: a job scheduled before a deploy still names them.
"""
from __future__ import annotations

from typing import Any

from rq import Queue, Retry

LATE_REPLY_JOB = "bot.jobs.deliver_late_reply"
BOOKING_CONFIRMATION_JOB = "bot.jobs.send_booking_confirmation"
BROADCAST_JOB = "bot.jobs.send_broadcast"


def make_queue(redis_client: Any, name: str, run_inline: bool) -> Queue:
    """The queue; the embedded runner (no worker process) runs each job at once in the enqueuing thread."""
    return Queue(name, connection=redis_client, is_async=not run_inline)


def enqueue_late_reply(queue: Queue, openid: str, payload: dict[str, Any], delivery: str) -> None:
    queue.enqueue(LATE_REPLY_JOB, openid, payload, delivery,
                  retry=Retry(max=3, interval=[5, 20, 60]), job_timeout=30, result_ttl=3600)


def enqueue_booking_confirmation(queue: Queue, ref: str) -> None:
    queue.enqueue(BOOKING_CONFIRMATION_JOB, ref, retry=Retry(max=3, interval=[10, 60, 300]), job_timeout=30,
                  result_ttl=86400)
