"""The RQ job queue over Redis, so any worker on any host can run background work.

Jobs are enqueued by their dotted path, not by function object: code that enqueues (the pipeline, the
booking handler, the broadcast service) does not import the jobs module, which runs in the worker's app
context. The paths are part of what is stored in Redis: a job scheduled before a deploy still names them.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import rq
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.worker import BaseWorker

LATE_REPLY_JOB = "bot.jobs.deliver_late_reply"
BOOKING_CONFIRMATION_JOB = "bot.jobs.send_booking_confirmation"
HANDOFF_RECORD_JOB = "bot.jobs.record_handoff_request"
BROADCAST_JOB = "bot.jobs.send_broadcast"
AFTER_PAYMENT_JOB = "bot.jobs.after_payment"
PAYMENTS_SWEEP_JOB = "bot.jobs.payments_sweep"
SEND_REFUNDS_JOB = "bot.jobs.send_refunds"
REMINDERS_JOB = "bot.jobs.send_booking_reminders"
CLOSE_CANCELLED_JOB = "bot.jobs.close_cancelled_order"
RATES_JOB = "bot.jobs.refresh_rates"
INSIGHTS_FLUSH_JOB = "bot.jobs.flush_insights"
INSIGHTS_PURGE_JOB = "bot.jobs.purge_insights"
BROADCAST_JOB_TIMEOUT = 3600  # a large broadcast sends batch by batch within the 60 calls a minute


# How often a worker's pubsub thread (stop and kill commands from `rq`) wakes up. RQ polls every 60 s, and
# since redis-py 8.2 stopping that thread waits for it: a worker took up to a minute to exit (a `--burst`
# run, a deploy's SIGTERM). One second costs one idle Redis read a second.
PUBSUB_POLL_SECONDS = 1.0
# RQ restarts a dead scheduler (scheduled jobs: late broadcasts, retries with backoff) only in its maintenance
# pass, every 10 minutes by default (config `jobs.maintenance_seconds`: 15), and an idle worker blocks in its
# dequeue for up to worker_ttl - 15 s before even checking. A Redis restart kills the scheduler: with these, it
# is back within about half a minute (tests/app/test_redis_restart.py).
WORKER_TTL_SECONDS = 35  # dequeue waits at most 20 s, so maintenance runs on time; heartbeats every 20 s


# Jobs every worker's maintenance pass queues, at most once per period across all workers and hosts (a Redis
# key per job, SET NX EX): the payments sweep finds lost notifications and expired holds even if the job
# scheduled for a hold was lost with a Redis that restarted without persistence.
PERIODIC: tuple[tuple[str, int], ...] = ((PAYMENTS_SWEEP_JOB, 60), (REMINDERS_JOB, 3600), (RATES_JOB, 600),
                                         ("bot.jobs.refresh_weather", 600), ("bot.jobs.refresh_air", 600),
                                         ("bot.jobs.refresh_crowds", 600),
                                         (INSIGHTS_FLUSH_JOB, 60), (INSIGHTS_PURGE_JOB, 86400))


class _QuickStop(BaseWorker):
    """Mixed into RQ's worker classes (both derive from BaseWorker: the fork-or-not choice stays theirs)."""

    periodic = True  # queue the PERIODIC jobs from the maintenance pass

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        if not self.periodic:
            return
        try:
            for queue in self.queues[:1]:
                for job, every in PERIODIC:
                    if self.connection.set(f"rq:periodic:{queue.name}:{job}", "1", nx=True, ex=every):
                        queue.enqueue(job, job_timeout=300, result_ttl=3600)
        except RedisError as exc:  # Redis restarting: the next pass queues them; the worker must not die of it
            logging.getLogger(__name__).warning("periodic jobs not queued: %s", type(exc).__name__)

    def subscribe(self) -> None:
        """RQ's subscription, with a pubsub thread that notices `stop` within PUBSUB_POLL_SECONDS."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ annotates it as None
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)


class Worker(_QuickStop, rq.Worker):
    """The worker `flask --app wsgi worker` runs: each job in a forked work horse, as RQ does."""


class SimpleWorker(_QuickStop, rq.SimpleWorker):
    """Jobs in the worker's own process (tests, and platforms without fork)."""


class BurstWorker(SimpleWorker):
    """For `work(burst=True)` (tests, in-process replays): no pubsub thread for stop and kill commands, which a
    burst never gets (stopping that thread costs up to a second per burst), and no periodic jobs: a burst runs
    what its caller queued."""

    periodic = False

    def subscribe(self) -> None:
        pass


def make_queue(redis_client: Any, name: str, run_inline: bool) -> Queue:
    """The queue; the embedded runner (no worker process) runs each job at once in the enqueuing thread."""
    return Queue(name, connection=redis_client, is_async=not run_inline)


def enqueue_late_reply(queue: Queue, openid: str, payload: dict[str, Any], delivery: str) -> None:
    queue.enqueue(LATE_REPLY_JOB, openid, payload, delivery,
                  retry=Retry(max=3, interval=[5, 20, 60]), job_timeout=30, result_ttl=3600)


def enqueue_broadcast(queue: Queue, broadcast_id: int, when: datetime | None = None) -> None:
    """Send a planned broadcast now, or at `when`; the job carries its time, so one moved later does nothing."""
    if when is None:
        queue.enqueue(BROADCAST_JOB, broadcast_id, job_timeout=BROADCAST_JOB_TIMEOUT)
    else:
        queue.enqueue_at(when, BROADCAST_JOB, broadcast_id, when.isoformat(), job_timeout=BROADCAST_JOB_TIMEOUT)


def enqueue_handoff_record(queue: Queue, request: dict[str, Any]) -> None:
    """A hand-off or complaint the database could not take now: written by a worker once it can (the record is
    idempotent per delivery, so a retried job writes it once). Retried for about half an hour."""
    queue.enqueue(HANDOFF_RECORD_JOB, request, retry=Retry(max=6, interval=[15, 30, 60, 120, 300, 900]),
                  job_timeout=30, result_ttl=86400)


def enqueue_booking_confirmation(queue: Queue, ref: str) -> None:
    queue.enqueue(BOOKING_CONFIRMATION_JOB, ref, retry=Retry(max=3, interval=[10, 60, 300]), job_timeout=30,
                  result_ttl=86400)


def enqueue_after_payment(queue: Queue, ref: str, outcome: str) -> None:
    """What follows a payment or a late one: the confirmation, or the refund and the message saying why."""
    queue.enqueue(AFTER_PAYMENT_JOB, ref, outcome, retry=Retry(max=3, interval=[10, 60, 300]), job_timeout=60,
                  result_ttl=86400)


def enqueue_payments_sweep(queue: Queue, when: datetime) -> None:
    """A sweep at `when` (the end of a seat hold): expires it unless paid, finds lost notifications."""
    queue.enqueue_at(when, PAYMENTS_SWEEP_JOB, job_timeout=300, result_ttl=3600)


def enqueue_refunds(queue: Queue) -> None:
    """Send the refunds requested (a cancellation, staff): the same out_refund_no on every retry."""
    queue.enqueue(SEND_REFUNDS_JOB, retry=Retry(max=5, interval=[30, 60, 300, 900, 3600]), job_timeout=120,
                  result_ttl=86400)


def enqueue_close_cancelled(queue: Queue, ref: str) -> None:
    """Close the WeChat Pay order of an unpaid booking the traveler cancelled; WeChat Pay Global closes no order
    in its first 5 minutes, hence the retries."""
    queue.enqueue(CLOSE_CANCELLED_JOB, ref, retry=Retry(max=5, interval=[60, 300, 600, 1800, 3600]),
                  job_timeout=60, result_ttl=86400)
