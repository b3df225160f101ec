"""Prometheus metrics: what the web process counts, what jobs count, and what a scrape reads (`GET /metrics`).

    metrics.claimed(claim)                          # the pipeline: a WeChat retry (dedup hit), Redis down (degraded)
    metrics.replied(msg.kind, route, body)          # ... a message answered (or deliberately not)
    metrics.late(msg.kind, route)                   # ... the reply deadline missed: "success" now, kf later
    metrics.reply_seconds(seconds)                  # the webhook: one POST's handling time
    metrics.late_reply(redis, keys, "sent")         # a job: counted in Redis, see below
    body = metrics.exposition(Figures(...))         # the scrape

Web-process counters cost microseconds and do no I/O. Under gunicorn (`bot/web/gunicorn_conf.py`)
PROMETHEUS_MULTIPROC_DIR is set before this module is imported: every worker writes its counters to its own
files there and a scrape, whichever worker answers it, sums them (prometheus_client's multiprocess mode).
Without it (dev runner, tests, CLI) they live in this process.

Jobs count in Redis instead (one HINCRBY): RQ runs each job in a forked work horse, a new process each time,
which in multiprocess mode would leave a new set of files per job; and a worker on another host, or a
`broadcast send --now` in a shell, could not reach the web workers' directory anyway. Redis is shared by all.

Figures (bookings by status, live-data age ...) are read from the database and Redis when scraped, at most
every FIGURES_SECONDS per process; a figure that cannot be read is reported in `yjy_scrape_errors`, never as
a failed scrape.

Label values are bounded: message kinds from a fixed set, routes from the routing table (names of code, checked
by shape), statuses written by code; anything else is "other". No openid or text is ever a label.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.infra.db.models import Booking, Broadcast, HandoffRequest, PaymentNotice, Refund

if TYPE_CHECKING:
    from bot.infra.db import Database
    from bot.infra.keys import Keys

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format generate_latest writes, which every Prometheus reads
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None  # fixed when this module is imported
if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, mode=0o700, exist_ok=True)  # a missing one would fail the first metric below
    if not getattr(values.ValueClass, "_multiprocess", False):  # prometheus_client came before the variable
        values.ValueClass = values.get_value_class()
disable_created_metrics()  # no `_created` series: multiprocess mode has none, and both modes read the same
FIGURES_SECONDS = 30.0
# The webhook's handling time. WeChat waits 5 s; past `webhook.reply_deadline_seconds` (4 s) the pipeline answers
# "success": the region from 3 s up shows how close answers come to it.
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 4.25, 4.5, 4.75, 5.0)

# Message types WeChat sends (MsgType); anything else is "other".
KINDS = frozenset({"text", "voice", "image", "video", "shortvideo", "location", "link", "file", "event",
                   "miniprogrampage", "unknown"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,79}$")  # a route name, a status written by code

REGISTRY = CollectorRegistry()  # this process's counters (without multiprocess mode)
MESSAGES = Counter("yjy_messages", "Messages handled (WeChat's retries not counted), by message type, route "
                   "(router.handler) and outcome: replied, no_reply (answered success on purpose), late (the "
                   "reply deadline missed: success now, the reply follows through the customer-service API), "
                   "conflict (the traveler's messages raced the saved state: asked to send again)",
                   ["kind", "route", "outcome"], registry=REGISTRY)
REPLY_SECONDS = Histogram("yjy_reply_seconds", "Time to handle one verified webhook POST (WeChat waits 5 s)",
                          buckets=REPLY_BUCKETS, registry=REGISTRY)
DEDUP_HITS = Counter("yjy_dedup_hits", "WeChat retries of a delivery already taken, by what they were answered: "
                     "cached (the first reply) or success (still running, or late)", ["reply"], registry=REGISTRY)
DEGRADED = Counter("yjy_degraded_answers", "Messages answered with Redis unreachable: no dedup, no conversation "
                   "state", registry=REGISTRY)
HANDLER_ERRORS = Counter("yjy_handler_errors", "Handlers that raised (the traveler got an apology), by route",
                         ["route"], registry=REGISTRY)
WEBHOOK_REJECTED = Counter("yjy_webhook_rejected", "Webhook requests refused: 403 signature, timestamp or a "
                           "forged body; 400 malformed; 413 too large", ["status"], registry=REGISTRY)
WEBHOOK_ERRORS = Counter("yjy_webhook_errors", "Webhook requests that failed outside the handlers (a bug), "
                         "answered success", registry=REGISTRY)
for _reply in ("cached", "success"):  # series that exist from the start: rate() and alerts need no first event
    DEDUP_HITS.labels(_reply)
for _status in ("400", "403", "413"):
    WEBHOOK_REJECTED.labels(_status)

# Counted in Redis by jobs: name -> the results it counts (the series always exist).
JOB_COUNTS: dict[str, tuple[str, ...]] = {
    "late_replies": ("sent", "failed", "unknown"),
    "broadcast_batches": ("sent", "failed"),
}
JOB_HELP = {
    "late_replies": "Late replies sent through the customer-service API by jobs: sent, failed (WeChat refused it: "
                    "final, or retried by RQ), unknown (timed out: WeChat may have sent it, not sent again)",
    "broadcast_batches": "Broadcast batches: sent (WeChat took it), failed (refused finally, or still failing "
                         "after the attempts: the broadcast stops)",
}


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Claimed(Protocol):
    first: bool
    cached_reply: str | None
    degraded: bool


def _kind(kind: str) -> str:
    return kind if kind in KINDS else "other"


def _label(value: Any) -> str:
    value = str(value)
    return value if _NAME.match(value) else "other"


def _route(route: Named | None) -> str:
    return "none" if route is None else _label(route.name)


# --- the web process: counters (no I/O) ----------------------------------------------------------------------------
def claimed(claim: Claimed) -> None:
    """A delivery claimed: a WeChat retry of one already taken, or one taken with Redis unreachable."""
    if not claim.first:
        DEDUP_HITS.labels("cached" if claim.cached_reply else "success").inc()
    elif claim.degraded:
        DEGRADED.inc()


def replied(kind: str, route: Named | None, body: str) -> None:
    """A message answered in time: `body` "success" means no reply on purpose."""
    MESSAGES.labels(_kind(kind), _route(route), "no_reply" if body == "success" else "replied").inc()


def late(kind: str, route: Named | None) -> None:
    """The reply deadline missed: WeChat got "success", the reply follows through the customer-service API."""
    MESSAGES.labels(_kind(kind), _route(route), "late").inc()


def conflict(kind: str, route: Named | None) -> None:
    """Answered "send it again": the traveler's messages kept racing the saved state."""
    MESSAGES.labels(_kind(kind), _route(route), "conflict").inc()


def handler_failed(route: Named | None) -> None:
    HANDLER_ERRORS.labels(_route(route)).inc()


def reply_seconds(seconds: float) -> None:
    REPLY_SECONDS.observe(seconds)


def webhook_rejected(status: int) -> None:
    WEBHOOK_REJECTED.labels(str(status) if status in (400, 403, 413) else "other").inc()


def webhook_failed() -> None:
    WEBHOOK_ERRORS.inc()


# --- jobs: counters in Redis -------------------------------------------------------------------------------------
def count_job(client: redis.Redis, keys: Keys, name: str, result: str) -> None:
    """Count one job outcome in Redis (shared by every worker and host). A Redis error loses the count, never
    the job."""
    if result not in JOB_COUNTS.get(name, ()):
        raise ValueError(f"{name}:{result} is not a job count (JOB_COUNTS)")
    try:
        client.hincrby(keys.job_counts(), f"{name}:{result}", 1)
    except redis.RedisError as exc:
        log.warning("metrics: %s:%s not counted, Redis error %s", name, result, type(exc).__name__)


def late_reply(client: redis.Redis, keys: Keys, result: str) -> None:
    """A late reply's send: sent | failed | unknown."""
    count_job(client, keys, "late_replies", result)


def broadcast_batch(client: redis.Redis, keys: Keys, result: str) -> None:
    """A broadcast batch's send: sent | failed."""
    count_job(client, keys, "broadcast_batches", result)


# --- the scrape --------------------------------------------------------------------------------------------------
class _Union(Collector):
    """Several collectors as one, for generate_latest."""

    def __init__(self, collectors: Iterable[Any]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*extra: Any) -> bytes:
    """The scrape's body (Prometheus text format, CONTENT_TYPE): the counters of every worker (multiprocess
    mode) or of this process, then `extra` collectors (the figures)."""
    counters = MultiProcessCollector(None, MULTIPROCESS_DIR) if MULTIPROCESS_DIR else REGISTRY
    return generate_latest(_Union([counters, *extra]))


Reader = Callable[[], Iterable[Metric]]


class Figures(Collector):
    """Scrape-time figures from the database and Redis (a Prometheus collector), read at most every `every`
    seconds: scrapes stay cheap however often they come, and a database that is down is asked once per period.

    `live` maps a live-data source to the Redis keys of its readings ({"data" or "table", "fetched_at"});
    the newest one's age is reported."""

    def __init__(self, db: Database, client: redis.Redis, keys: Keys, live: Mapping[str, list[str]],
                 every: float = FIGURES_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.r, self.keys, self.live = db, client, keys, dict(live)
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # concurrent scrapes: one reads, the others wait for it
            if self._read_at is None or self.clock() - self._read_at >= self.every:
                self._families = self.read()
                self._read_at = self.clock()
            return iter(self._families)

    def read(self) -> list[Metric]:
        """Every figure now; one that fails is left out and marked in `yjy_scrape_errors` (1)."""
        families: list[Metric] = []
        errors = GaugeMetricFamily("yjy_scrape_errors", "1 when a figure could not be read at the last refresh "
                                   "(database or Redis down, a failing query): its series are missing",
                                   labels=["figure"])
        in_db: list[tuple[str, Callable[[Session], Iterable[Metric]]]] = [
            ("bookings", self._bookings), ("refunds", self._refunds), ("payments", self._payments),
            ("broadcasts", self._broadcasts), ("inbox", self._inbox)]
        done = 0
        try:
            with self.db.session() as s:
                if s.get_bind().dialect.name == "postgresql":  # a stalled database fails the scrape's figures fast
                    s.execute(text("SET LOCAL statement_timeout = 2000"))
                for name, figure in in_db:
                    families.extend(list(figure(s)))  # all of a figure, or none of it
                    errors.add_metric([name], 0)
                    done += 1
        except Exception as exc:  # noqa: BLE001 - a scrape never fails; the error sample says what is missing
            log.warning("metrics: the %s figure not read: %s", in_db[min(done, len(in_db) - 1)][0],
                        type(exc).__name__)
            for name, _ in in_db[done:]:  # the transaction is gone: the ones after it are missing too
                errors.add_metric([name], 1)
        in_redis: list[tuple[str, Callable[[], Iterable[Metric]]]] = [("live", self._live_ages), ("jobs", self._jobs)]
        for name, read in in_redis:
            try:
                families.extend(list(read()))
                errors.add_metric([name], 0)
            except Exception as exc:  # noqa: BLE001 - as above
                log.warning("metrics: the %s figure not read: %s", name, type(exc).__name__)
                errors.add_metric([name], 1)
        return [*families, errors]

    # --- the database (one session, one transaction) ---
    def _bookings(self, s: Session) -> Iterator[Metric]:
        yield _by(s, "yjy_bookings", "Bookings (orders) by status", Booking.status, Booking)

    def _refunds(self, s: Session) -> Iterator[Metric]:
        yield _by(s, "yjy_refunds", "Refunds by status (requested, PROCESSING, SUCCESS, CLOSED, ABNORMAL)",
                  Refund.status, Refund)

    def _payments(self, s: Session) -> Iterator[Metric]:
        family = CounterMetricFamily("yjy_payment_notifications", "WeChat Pay notifications applied, by outcome "
                                     "(paid, already, late_paid, refund_* ...)", labels=["outcome"])
        for outcome, count in _counts(s, PaymentNotice.outcome, PaymentNotice):
            family.add_metric([outcome], count)
        yield family

    def _broadcasts(self, s: Session) -> Iterator[Metric]:
        yield _by(s, "yjy_broadcasts", "Broadcasts by status (planned, sending, sent, stopped, cancelled)",
                  Broadcast.status, Broadcast)

    def _inbox(self, s: Session) -> Iterator[Metric]:
        waiting = HandoffRequest.status.in_(("open", "assigned"))
        family = GaugeMetricFamily("yjy_inbox_open", "Hand-off requests and complaints waiting for a staff answer "
                                   "(open or assigned), by kind", labels=["kind"])
        for kind, count in s.execute(select(HandoffRequest.kind, func.count()).where(waiting)
                                     .group_by(HandoffRequest.kind)).all():
            family.add_metric([_label(kind)], count)
        yield family
        oldest = s.execute(select(func.min(HandoffRequest.created_at)).where(waiting)).scalar()
        age = GaugeMetricFamily("yjy_inbox_oldest_open_seconds", "How long the oldest waiting hand-off request has "
                                "waited (0: none waiting)")
        age.add_metric([], max(0.0, time.time() - _timestamp(oldest)) if oldest is not None else 0.0)
        yield age

    # --- Redis ---
    def _live_ages(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("yjy_live_data_age_seconds", "Age of the newest cached reading of each live "
                                   "source (missing: nothing cached, e.g. a source answering from its sample)",
                                   labels=["source"])
        now = time.time()
        for source, keys in self.live.items():
            times = [t for raw in (self.r.mget(keys) if keys else []) if (t := _fetched_at(raw)) is not None]
            if times:
                family.add_metric([source], max(0.0, now - max(times)))
        yield family

    def _jobs(self) -> Iterator[Metric]:
        raw = self.r.hgetall(self.keys.job_counts())
        counts = {_text(k): int(v) for k, v in raw.items()}
        for name, results in JOB_COUNTS.items():
            family = CounterMetricFamily(f"yjy_{name}", JOB_HELP[name], labels=["result"])
            for result in results:
                family.add_metric([result], counts.get(f"{name}:{result}", 0))
            yield family


def _counts(s: Session, column: Any, table: Any) -> list[tuple[str, int]]:
    rows = s.execute(select(column, func.count()).select_from(table).group_by(column)).all()
    merged: dict[str, int] = {}
    for value, count in rows:
        merged[_label(value)] = merged.get(_label(value), 0) + int(count)
    return sorted(merged.items())


def _by(s: Session, name: str, documentation: str, column: Any, table: Any) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status, count in _counts(s, column, table):
        family.add_metric([status], count)
    return family


def _timestamp(value: Any) -> float:
    """A timestamp column as Unix time; SQLite hands back naive datetimes, stored as UTC."""
    from datetime import UTC

    return float(value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp())


def _fetched_at(raw: bytes | str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(json.loads(raw)["fetched_at"])
    except (ValueError, KeyError, TypeError):
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
