"""The events the webhook appended to Redis, into the database exactly once.

1. The list is renamed to a key of its own (`…:insights:flushing:<batch id>`) and the batch id noted in a set,
   in one atomic step (Lua), so the webhook goes on appending to a fresh list and no event is read twice or lost
   between reading and deleting.
2. The batch is aggregated here and applied in ONE transaction that first inserts `InsightFlush(id=<batch id>)`:
   a batch applied before (a flush that crashed after its commit, two flushes picking up the same leftover)
   inserts nothing and adds nothing.
3. Only then is the batch's key deleted (and its id taken out of the set). A batch that failed to apply stays in
   Redis: the next flush, of any worker, finds it in the set and applies it.

A malformed event is counted, logged once per batch and skipped; it never holds up the rest of its batch.
"""
from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import case, select

from bot.infra.clock import in_seoul
from bot.infra.db import Database
from bot.infra.db.models import InsightDay, InsightFlush, UnansweredMessage, UnansweredQuestion
from bot.insights import events
from bot.insights.questions import normalize

log = logging.getLogger(__name__)

# Rename the pending list to a new batch's key, if there is one (RENAME fails on a missing key), and note the
# batch; answer every batch not applied yet (a crashed flush's too). KEYS: events, new batch, batch ids.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('SADD', KEYS[3], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[3])
"""
READ_CHUNK = 10_000  # events read from a batch per LRANGE
ROWS_PER_STATEMENT = 500  # rows of one multi-row INSERT (well under SQLite's bound-parameter limit)
MAX_SAMPLE = 200  # characters of a question's sample wording (the column's size)


@dataclass
class FlushReport:
    batches: int = 0  # applied now
    events: int = 0  # events in them
    malformed: int = 0  # skipped
    already: int = 0  # batches found applied before (their key is deleted now)
    failed: list[str] = field(default_factory=list)  # batch ids left in Redis for the next flush

    def __str__(self) -> str:
        text = f"{self.batches} batch(es), {self.events} event(s) flushed"
        if self.malformed:
            text += f", {self.malformed} malformed skipped"
        if self.already:
            text += f", {self.already} applied before"
        if self.failed:
            text += f", {len(self.failed)} failed (kept for the next flush)"
        return text


@dataclass
class Applied:
    new: bool  # False: this batch id was applied before, nothing added
    events: int = 0
    malformed: int = 0


def flush(ext: Any, *, now: datetime | None = None) -> FlushReport:
    """Move every pending event (and every batch a crashed flush left) into the database. Redis errors raise
    (`redis.RedisError`); a batch the database refuses is logged and left for the next flush."""
    r, keys, db = ext.redis, ext.keys, ext.db
    now = in_seoul(now or ext.clock.now())
    new = uuid.uuid4().hex
    pending = sorted(_text(b) for b in r.eval(_TAKE, 3, keys.insight_events(), keys.insight_flushing(new),
                                                keys.insight_batches(), new))
    report = FlushReport()
    for batch_id in pending:
        key = keys.insight_flushing(batch_id)
        raw = _read(r, key)  # empty: another flush applied and deleted it meanwhile
        if raw:
            try:
                applied = apply(db, batch_id, raw, now=now)
            except Exception:  # noqa: BLE001 - the batch stays in Redis; the next flush tries it again
                log.exception("insights: batch %s (%d events) not applied; kept for the next flush", batch_id,
                              len(raw))
                report.failed.append(batch_id)
                continue
            if applied.new:
                report.batches += 1
                report.events += applied.events
                report.malformed += applied.malformed
            else:
                report.already += 1
        done = r.pipeline(transaction=True)
        done.delete(key)
        done.srem(keys.insight_batches(), batch_id)
        done.execute()
    if report.batches or report.already or report.failed:
        log.info("insights flush: %s", report)
    return report


def apply(db: Database, batch_id: str, raw: Iterable[bytes | str], *, now: datetime) -> Applied:
    """Add one batch of raw events to the tables, in one transaction, unless this batch id was applied before."""
    days: Counter[tuple[Any, ...]] = Counter()
    questions: dict[tuple[str, str], _Question] = {}
    count = malformed = 0
    first_problem = ""
    for item in raw:
        count += 1
        try:
            event = events.decode(item)
        except events.MalformedEvent as exc:
            malformed += 1
            first_problem = first_problem or str(exc)
            continue
        days[(event.day, event.kind, event.route, event.intent, event.answered)] += 1
        if not event.answered and event.text:
            norm = normalize(event.text)
            if norm:
                questions.setdefault((norm, event.route), _Question(event.text[:MAX_SAMPLE])).add(event)
    if malformed:
        log.warning("insights: %d malformed event(s) skipped in batch %s (%s)", malformed, batch_id, first_problem)
    with db.session() as s:
        flush_row = (db.insert(InsightFlush).values(id=batch_id, at=now, events=count - malformed)
                     .on_conflict_do_nothing(index_elements=["id"]).returning(InsightFlush.id))
        if s.execute(flush_row).scalar() is None:
            log.info("insights: batch %s was applied before: nothing added", batch_id)
            return Applied(False)
        _add_days(db, s, days)
        _add_questions(db, s, questions)
    return Applied(True, count - malformed, malformed)


@dataclass
class _Question:
    sample: str
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    messages: list[events.Event] = field(default_factory=list)

    def add(self, event: events.Event) -> None:
        self.count += 1
        self.first = min(self.first or event.at, event.at)
        self.last = max(self.last or event.at, event.at)
        self.messages.append(event)


def _add_days(db: Database, s: Any, days: Counter[tuple[Any, ...]]) -> None:
    rows = [dict(day=day, kind=kind, route=route, intent=intent, answered=answered, count=n)
            for (day, kind, route, intent, answered), n in days.items()]
    for chunk in _chunks(rows):
        stmt = db.insert(InsightDay).values(chunk)
        s.execute(stmt.on_conflict_do_update(index_elements=["day", "kind", "route", "intent", "answered"],
                                             set_={"count": InsightDay.count + stmt.excluded.count}))


def _add_questions(db: Database, s: Any, questions: dict[tuple[str, str], _Question]) -> None:
    """Upsert each (norm, route): count added, first and last seen widened, the first sample kept; then the raw
    messages under their question's id."""
    q = UnansweredQuestion
    ids: dict[tuple[str, str], int] = {}
    rows = [dict(norm=norm, route=route, sample=found.sample, count=found.count, first_seen=found.first,
                 last_seen=found.last) for (norm, route), found in questions.items()]
    for chunk in _chunks(rows):
        stmt = db.insert(q).values(chunk)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(index_elements=["norm", "route"], set_={
            "count": q.count + new.count,
            "first_seen": case((new.first_seen < q.first_seen, new.first_seen), else_=q.first_seen),
            "last_seen": case((new.last_seen > q.last_seen, new.last_seen), else_=q.last_seen),
        })
        for row in s.execute(stmt.returning(q.id, q.norm, q.route)):
            ids[(row.norm, row.route)] = row.id
    missing = set(questions) - set(ids)
    if missing:  # not expected (RETURNING gives every row): read them rather than lose their messages
        for row in s.execute(select(q.id, q.norm, q.route).where(q.norm.in_({n for n, _ in missing}))):
            ids.setdefault((row.norm, row.route), row.id)
    messages = [dict(question_id=ids[key], openid_hash=e.traveler, text=e.text, lang=e.lang or "", at=e.at)
                for key, found in questions.items() for e in found.messages]
    for chunk in _chunks(messages):
        s.execute(db.insert(UnansweredMessage), chunk)


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start:start + ROWS_PER_STATEMENT]


def _read(r: Any, key: str) -> list[bytes]:
    """A batch's events, READ_CHUNK per call (a batch of a day without a worker can hold 200,000)."""
    out: list[bytes] = []
    while True:
        part = r.lrange(key, len(out), len(out) + READ_CHUNK - 1)
        out.extend(part)
        if len(part) < READ_CHUNK:
            return out


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key
