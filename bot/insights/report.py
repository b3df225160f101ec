"""What the CLI, the admin API and the console show: unanswered questions grouped, messages and the share
answered per day, intents. Days are Seoul days; a period of `days` ends today (included).

Each report first flushes the events still in Redis (quietly doing without them when Redis is down), so what it
shows is current even where no worker runs the periodic flush (the embedded development runner).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import case, func, select

from bot.infra.clock import SEOUL, in_seoul
from bot.infra.db.models import InsightDay, UnansweredMessage, UnansweredQuestion
from bot.insights import flush as flushing
from bot.insights.questions import cluster

log = logging.getLogger(__name__)

MAX_DAYS = 365


@dataclass
class QuestionGroup:
    """One question in its several wordings. `count`, `travelers`, `routes` and `variants` count the period's
    messages whose raw text is still kept (`insights.keep_raw_days`); `first_seen` is when any of its wordings
    was first asked at all (a new question or an old one), `last_seen` the last time in the period."""

    title: str  # the most frequent wording (digits masked)
    count: int
    travelers: int  # distinct (hashed) openids
    routes: dict[str, int]  # how they were answered: fallback.not_understood, fallback.suggest, handoff...
    variants: list[tuple[str, int]]  # the other wordings, most frequent first
    first_seen: datetime
    last_seen: datetime


@dataclass
class DayFigures:
    day: date
    messages: int
    answered: int

    @property
    def share(self) -> float:
        """Answered / messages, 0.0 on a day without messages."""
        return self.answered / self.messages if self.messages else 0.0


def unanswered(ext: Any, *, days: int = 7, now: datetime | None = None, limit: int = 50) -> list[QuestionGroup]:
    """The period's unanswered questions, the same question in different words together, most asked first."""
    first, end = _period(ext, days, now)
    m, q = UnansweredMessage, UnansweredQuestion
    query = (select(q.id, q.norm, q.route, q.sample, q.first_seen, m.openid_hash, func.count(), func.max(m.at))
             .join(m, m.question_id == q.id).where(m.at >= first, m.at < end)
             .group_by(q.id, q.norm, q.route, q.sample, q.first_seen, m.openid_hash))
    wordings: dict[str, _Wording] = {}
    with ext.db.session() as s:
        for _, norm, route, sample, first_seen, who, n, last in s.execute(query):
            first_seen, last = in_seoul(first_seen), in_seoul(last)
            wordings.setdefault(norm, _Wording(first_seen, last)).add(route, sample, who, n, first_seen, last)
    ordered = sorted(wordings.items(), key=lambda item: (-item[1].count, -item[1].last.timestamp(), item[0]))
    groups = []
    for members in cluster([w.sample for _, w in ordered]):
        found = [ordered[i][1] for i in members]
        routes: Counter[str] = Counter()
        for w in found:
            routes.update(w.routes)
        groups.append(QuestionGroup(
            title=found[0].sample, count=sum(w.count for w in found),
            travelers=len(set().union(*(w.travelers for w in found))), routes=dict(routes.most_common()),
            variants=[(w.sample, w.count) for w in found[1:]], first_seen=min(w.first for w in found),
            last_seen=max(w.last for w in found)))
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp()))
    return groups[:max(0, limit)]


def daily(ext: Any, *, days: int = 14, now: datetime | None = None) -> list[DayFigures]:
    """Messages and how many were answered, for every day of the period (zeros included), oldest first."""
    first_day, today = _days(ext, days, now)
    d = InsightDay
    query = (select(d.day, func.sum(d.count), func.sum(case((d.answered, d.count), else_=0)))
             .where(d.day >= first_day, d.day <= today).group_by(d.day))
    with ext.db.session() as s:
        found = {day: (int(total or 0), int(answered or 0)) for day, total, answered in s.execute(query)}
    return [DayFigures(day, *found.get(day, (0, 0))) for day in _each_day(first_day, today)]


def ranked(by_day: dict[date, dict[str, int]]) -> list[tuple[str, int]]:
    """The period's totals per intent out of `intents_by_day`, most frequent first (then by name)."""
    totals: Counter[str] = Counter()
    for counts in by_day.values():
        totals.update(counts)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def intents_by_day(ext: Any, *, days: int = 7, now: datetime | None = None) -> dict[date, dict[str, int]]:
    """Every day of the period (oldest first) with its messages per intent, most frequent first."""
    first_day, today = _days(ext, days, now)
    d = InsightDay
    query = (select(d.day, d.intent, func.sum(d.count)).where(d.day >= first_day, d.day <= today, d.intent != "")
             .group_by(d.day, d.intent))
    per_day: dict[date, Counter[str]] = {day: Counter() for day in _each_day(first_day, today)}
    with ext.db.session() as s:
        for day, intent, n in s.execute(query):
            per_day[day][intent] += int(n)
    return {day: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for day, c in per_day.items()}


def current(ext: Any) -> None:
    """Flush what Redis holds before reading; without Redis the reports show what the database has."""
    try:
        flushing.flush(ext)
    except RedisError as exc:
        log.warning("insights: pending events not flushed (Redis: %s); reports show what the database has",
                    type(exc).__name__)


@dataclass
class _Wording:
    """One normalized wording in the period, over the routes that answered it."""

    first: datetime  # first asked at all (any route)
    last: datetime  # last asked in the period
    count: int = 0
    sample: str = ""  # as written, from the route that answered it most often
    best: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    travelers: set[str] = field(default_factory=set)

    def add(self, route: str, sample: str, who: str, n: int, first: datetime, last: datetime) -> None:
        self.count += n
        self.routes[route] += n
        if self.routes[route] > self.best:
            self.best, self.sample = self.routes[route], sample
        self.travelers.add(who)
        self.first, self.last = min(self.first, first), max(self.last, last)


def _days(ext: Any, days: int, now: datetime | None) -> tuple[date, date]:
    """The period's first and last (today's) Seoul day, after flushing what is pending."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    current(ext)
    today = in_seoul(now or ext.clock.now()).date()
    return today - timedelta(days=days - 1), today


def _period(ext: Any, days: int, now: datetime | None) -> tuple[datetime, datetime]:
    """From the first day's midnight to the next midnight after today, Seoul time."""
    first_day, today = _days(ext, days, now)
    return (datetime.combine(first_day, time(0), SEOUL),
            datetime.combine(today + timedelta(days=1), time(0), SEOUL))


def _each_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
