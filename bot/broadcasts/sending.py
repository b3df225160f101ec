"""Sending a planned broadcast, batch by batch, so that it can be killed and resumed at any point.

Each batch is marked "attempted" (committed) before its call and "sent" after it. A batch resumed
after a crash between the two is sent again with the same `clientmsgid`: WeChat refuses the
duplicate (45065) and names the job it already started, which is recorded instead. Transient
failures (HTTP errors, timeouts, -1, 45066) are retried with backoff; quota and permission errors
stop the broadcast with that reason: the batch is marked failed, the rest stay pending, and the next send
retries the failed batch with the same `clientmsgid` (WeChat never sends it twice). A broadcast is sent only
once every batch was accepted, or skipped because the marketer gave up on it (`planning.skip_failed`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, cast

import redis
from sqlalchemy import CursorResult, update
from wechatpy.exceptions import WeChatClientException

from bot.broadcasts import planning as broadcasts
from bot.broadcasts.message import Compose, message_payload
from bot.infra import metrics
from bot.infra.db import Database
from bot.infra.db.models import Broadcast, BroadcastBatch, MassReceipt
from bot.infra.keys import Keys
from bot.wechat.gateway import WeChatGateway

log = logging.getLogger(__name__)

ALREADY_SENT = 45065  # same clientmsgid within 24 h: the response carries the earlier msg_id
TOO_FAST = 45066  # same clientmsgid retried within a minute
# Retrying cannot help: quotas, permissions, a bad message. The broadcast stops with the reason.
FINAL_ERRORS = {45009: "API daily quota reached", 45028: "no broadcast quota left this month",
                48001: "mass-send API not authorised for this account", 40007: "invalid media_id",
                40003: "invalid openid", 40130: "fewer than 2 openids"}
CALLS_PER_MINUTE = 60


@dataclass
class SendReport:
    broadcast_id: int
    status: str
    sent: list[int] = field(default_factory=list)  # batch seqs sent in this run
    error: str = ""


class MinuteRate:
    """At most `limit` calls per wall-clock minute across every process, counted in Redis."""

    def __init__(self, client: redis.Redis, key: str, limit: int = CALLS_PER_MINUTE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.r, self.key, self.limit, self.sleep = client, key, limit, sleep

    def wait(self) -> None:
        while True:
            minute = int(time.time() // 60)
            used = self.r.incr(f"{self.key}:{minute}")
            if used == 1:
                self.r.expire(f"{self.key}:{minute}", 120)
            if used <= self.limit:
                return
            self.sleep(max(0.05, (minute + 1) * 60 - time.time()))


def _target(broadcast: Broadcast, batch: BroadcastBatch) -> dict[str, Any]:
    """Who one batch goes to, as `WeChatGateway.send_mass` takes it."""
    if broadcast.mode == "all":
        return {"to_all": True}
    if broadcast.mode == "tag":
        return {"tag_id": broadcast.spec["audience"]["tag"]}
    return {"openids": batch.openids}


def send(db: Database, wechat: WeChatGateway, redis_client: redis.Redis, keys: Keys, broadcast_id: int, *,
         max_attempts: int = 4, sleep: Callable[[float], None] = time.sleep,
         progress: Callable[[BroadcastBatch], None] | None = None, compose: Compose = message_payload) -> SendReport:
    """Send every pending batch of the broadcast; safe to call again after any failure or kill.

    `compose` builds each batch's message part (a news broadcast's uploads happen there)."""
    with db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status in ("cancelled", "sent"):
            return SendReport(broadcast_id, broadcast.status)
        broadcast.status = "sending"
    rate = MinuteRate(redis_client, keys.mass_send_rate(), sleep=sleep)
    report = SendReport(broadcast_id, "sending")
    messages: dict[str, dict[str, Any]] = {}  # composed once per language and run
    for batch in broadcasts.pending(db, broadcast_id):
        with db.session() as s:  # re-read: a marketer may cancel while it sends
            if s.get(Broadcast, broadcast_id).status == "cancelled":  # type: ignore[union-attr]
                report.status = "cancelled"
                return report
        lang = batch.lang or broadcasts.DEFAULT_LANG
        error: str | None
        try:
            if lang not in messages:
                messages[lang] = compose(broadcast.spec, lang)
        except (WeChatClientException, ValueError) as exc:
            error = f"could not compose the message: {_describe(exc)}"
        else:
            error = _send_batch(db, wechat, rate, broadcast, batch, messages[lang], max_attempts, sleep)
            metrics.broadcast_batch(redis_client, keys, "failed" if error else "sent")
        if error:
            _finish(db, broadcast_id, "stopped", error)
            report.status, report.error = "stopped", error
            return report
        report.sent.append(batch.seq)
        if progress:
            progress(batch)
    if left := broadcasts.unfinished(db, broadcast_id):  # another run's batches in flight, or added since
        error = f"{left} batch(es) not sent yet; send again to resume"
        _finish(db, broadcast_id, "stopped", error)
        report.status, report.error = "stopped", error
        return report
    _finish(db, broadcast_id, "sent", None)
    report.status = "sent"
    return report


def preview(wechat: WeChatGateway, spec: dict[str, Any], openids: list[str],
            compose: Compose = message_payload) -> list[str]:
    """Send the message (in each of its languages) to each test openid through the preview API; the openids
    WeChat refused. A message that cannot be composed raises (WeChatClientException or ValueError)."""
    messages = [compose(spec, lang) for lang in broadcasts.spec_languages(spec)]
    refused = []
    for openid in openids:
        try:
            for message in messages:
                wechat.preview_mass(openid, message)
        except WeChatClientException as exc:
            log.warning("preview to %s refused: %s %s", openid, exc.errcode, exc.errmsg)
            refused.append(openid)
    return refused


def _describe(exc: Exception) -> str:
    if isinstance(exc, WeChatClientException):
        return f"WeChat said {exc.errcode} {exc.errmsg}" if exc.errcode is not None else "WeChat did not answer"
    return str(exc)


def _send_batch(db: Database, wechat: WeChatGateway, rate: MinuteRate, broadcast: Broadcast, batch: BroadcastBatch,
                message: dict[str, Any], max_attempts: int, sleep: Callable[[float], None]) -> str | None:
    """Send one batch; None when WeChat took it, else the reason the broadcast must stop."""
    target = _target(broadcast, batch)
    for attempt in range(1, max_attempts + 1):
        with db.session() as s:  # committed before the call: a resumed run knows it may have gone out
            s.execute(update(BroadcastBatch).where(BroadcastBatch.id == batch.id)
                      .values(attempts=BroadcastBatch.attempts + 1))
        rate.wait()
        try:
            result = wechat.send_mass(message, clientmsgid=batch.clientmsgid, **target)
        except WeChatClientException as exc:
            code = exc.errcode
            if code == ALREADY_SENT:
                result = _json(exc)
                log.info("broadcast %s batch %s was already sent (job %s)", broadcast.id, batch.seq,
                         result.get("msg_id"))
            elif code in FINAL_ERRORS:
                reason = f"{code} {FINAL_ERRORS[code] or exc.errmsg}"
                _mark(db, batch, "failed", error=reason)
                log.error("broadcast %s stopped at batch %s: %s", broadcast.id, batch.seq, reason)
                return reason
            else:  # HTTP error, timeout (errcode None), -1 system busy, 45066 too fast, anything unknown
                wait = 60.0 if code == TOO_FAST else min(2 ** attempt, 30)
                log.warning("broadcast %s batch %s attempt %d failed (%s %s), retrying in %.0f s", broadcast.id,
                            batch.seq, attempt, code, exc.errmsg, wait)
                if attempt < max_attempts:
                    sleep(wait)
                continue
        _mark(db, batch, "sent", msg_id=str(result.get("msg_id") or ""),
              msg_data_id=str(result.get("msg_data_id") or "") or None, month=broadcast.month)
        return None
    reason = f"batch {batch.seq} still failing after {max_attempts} attempts; resume to retry"
    _mark(db, batch, "pending", error=reason)
    return reason


def _json(exc: WeChatClientException) -> dict[str, Any]:
    try:
        return exc.response.json() if exc.response is not None else {}
    except ValueError:
        return {}


def _mark(db: Database, batch: BroadcastBatch, status: str, month: str | None = None, **values: Any) -> None:
    """Record the batch's outcome; a sent batch also counts towards its recipients' monthly limit,
    in the same transaction, so a resumed send never counts it twice."""
    if status == "sent":
        values["sent_at"] = datetime.now(UTC)
        values["error"] = None
    with db.session() as s:
        s.execute(update(BroadcastBatch).where(BroadcastBatch.id == batch.id).values(status=status, **values))
        if status == "sent" and month and batch.openids:
            stmt = db.insert(MassReceipt).values([{"openid": o, "month": month, "received": 1} for o in batch.openids])
            s.execute(stmt.on_conflict_do_update(index_elements=["openid", "month"],
                                                 set_={"received": MassReceipt.received + 1}))


def _finish(db: Database, broadcast_id: int, status: str, error: str | None) -> None:
    with db.session() as s:
        s.execute(update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status != "cancelled")
                  .values(status=status, error=error,
                          finished_at=datetime.now(UTC) if status == "sent" else None))


def record_job_finish(db: Database, msg_id: str, counts: dict[str, int]) -> bool:
    """MASSSENDJOBFINISH: WeChat's totals for the batch that started job `msg_id`."""
    with db.session() as s:
        done = cast("CursorResult[Any]", s.execute(update(BroadcastBatch).where(BroadcastBatch.msg_id == msg_id).values(
            total_count=counts.get("TotalCount"), sent_count=counts.get("SentCount"),
            error_count=counts.get("ErrorCount"), filter_count=counts.get("FilterCount"))))
    return done.rowcount > 0
