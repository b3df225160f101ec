"""Audiences of a broadcast: which subscribed followers a segment selects, as SQL over `followers`.

A segment is a mapping (from a broadcast file or an admin API body); every filter given must hold:

    audience:
      all: true                 # every subscribed follower (alone: WeChat's send-to-all)
      tag: 101                  # a WeChat tag id (alone: WeChat's send-by-tag)
      language: zh-CN           # or a list: [en, ko]
      channel: [kol_hallyu_01]  # came through the channel first, or scanned or followed through it last
      active_days: 30           # wrote to us in the last N days
      booked: [dmz_tour]        # have a booking of one of these products
      interests: [food, hallyu] # asked about one of these categories (content/categories.yaml)
      openids: [o1, o2]         # an explicit list (the CLI reads a CSV into this)

Unsubscribed followers are never selected, whatever the filters say.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Iterator

from sqlalchemy import Select, exists, func, or_, select

from bot.infra.db import Database
from bot.infra.db.models import Booking, Follower, FollowerInterest, MassReceipt

MONTHLY_LIMIT = 4  # broadcasts a service account's follower can receive per month (WeChat's rule)
KEYS = {"all", "tag", "language", "channel", "active_days", "booked", "interests", "openids"}


class SegmentError(ValueError):
    """A segment that cannot be used; `field` names the offending key (dotted)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Segment:
    all: bool = False
    tag: int | None = None
    language: tuple[str, ...] = ()  # any of these languages
    channel: tuple[str, ...] = ()
    active_days: int | None = None
    booked: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    openids: tuple[str, ...] = ()
    not_languages: tuple[str, ...] = ()  # internal: the rest of a broadcast's per-language split

    @property
    def mode(self) -> str:
        """Which WeChat API reaches exactly this audience: all, tag, or openid lists."""
        if self.all and self == Segment(all=True):
            return "all"
        if self.tag is not None and self == Segment(tag=self.tag):
            return "tag"
        return "openids"

    def query(self, now: datetime | None = None, full_month: str | None = None) -> Select:
        """SELECT openid of the followers in this segment, in a stable order.

        `full_month` ("2026-11"): leave out followers who already got `MONTHLY_LIMIT` broadcasts then.
        """
        stmt = select(Follower.openid).where(Follower.subscribed.is_(True))
        if full_month:
            stmt = stmt.where(~exists().where(MassReceipt.openid == Follower.openid, MassReceipt.month == full_month,
                                              MassReceipt.received >= MONTHLY_LIMIT))
        if self.language:
            stmt = stmt.where(Follower.language.in_(self.language))
        if self.not_languages:
            stmt = stmt.where(Follower.language.not_in(self.not_languages))
        if self.channel:
            # The followers a channel's report counts: those it brought first, and those it reached last.
            stmt = stmt.where(or_(Follower.first_channel.in_(self.channel), Follower.last_channel.in_(self.channel)))
        if self.active_days is not None:
            since = (now or datetime.now(UTC)) - timedelta(days=self.active_days)
            stmt = stmt.where(Follower.last_active_at >= since)
        if self.booked:
            stmt = stmt.where(exists().where(Booking.openid == Follower.openid,
                                             Booking.product_id.in_(self.booked)))
        if self.interests:
            stmt = stmt.where(exists().where(FollowerInterest.openid == Follower.openid,
                                             FollowerInterest.category.in_(self.interests)))
        if self.openids:
            stmt = stmt.where(Follower.openid.in_(self.openids))
        return stmt.order_by(Follower.openid)

    def openids_in(self, db: Database, now: datetime | None = None, full_month: str | None = None) -> Iterator[str]:
        """The audience, streamed (a million openids need not sit in a list twice)."""
        stmt = self.query(now, full_month)
        if self.tag is not None:
            # Tags are a JSON list on the follower; filter here, the same way on SQLite and PostgreSQL.
            with db.engine.connect() as conn:
                rows = conn.execute(stmt.add_columns(Follower.tags).execution_options(yield_per=10_000))
                for openid, tags in rows:
                    if self.tag in (tags or []):
                        yield openid
            return
        with db.engine.connect() as conn:
            for (openid,) in conn.execute(stmt.execution_options(yield_per=10_000)):
                yield openid

    def count(self, db: Database, now: datetime | None = None, full_month: str | None = None) -> int:
        if self.tag is not None:
            return sum(1 for _ in self.openids_in(db, now, full_month))
        with db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(self.query(now, full_month).subquery())) or 0)


def parse_segment(raw: Any, where: str = "audience") -> Segment:
    """A Segment from a mapping, or SegmentError naming the field that is wrong."""
    if not isinstance(raw, dict) or not raw:
        raise SegmentError(where, f"expected a mapping with some of {', '.join(sorted(KEYS))}")
    if unknown := set(raw) - KEYS:
        raise SegmentError(f"{where}.{sorted(unknown)[0]}",
                           f"unknown filter; expected some of {', '.join(sorted(KEYS))}")
    if "all" in raw and raw["all"] is not True:
        raise SegmentError(f"{where}.all", "only `all: true` makes sense")
    if raw.get("all") and len(raw) > 1:
        raise SegmentError(f"{where}.all", "`all: true` cannot be combined with other filters")

    def words(key: str, expected: str = "a list of non-empty strings") -> tuple[str, ...]:
        """A filter taking one value or a list of them."""
        value = raw.get(key) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise SegmentError(f"{where}.{key}", f"expected {expected}")
        return tuple(v.strip() for v in value)

    tag = raw.get("tag")
    if tag is not None and (not isinstance(tag, int) or isinstance(tag, bool) or tag < 0):
        raise SegmentError(f"{where}.tag", "expected a WeChat tag id (a whole number)")
    days = raw.get("active_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650):
        raise SegmentError(f"{where}.active_days", "expected a number of days, 1 to 3650")
    language = words("language", "a language code such as zh-CN or en, or a list of them")
    if "language" in raw and not language:
        raise SegmentError(f"{where}.language", "expected a language code such as zh-CN or en, or a list of them")
    segment = Segment(all=bool(raw.get("all")), tag=tag, language=language, channel=words("channel"),
                      active_days=days, booked=words("booked"), interests=words("interests"),
                      openids=words("openids"))
    if "openids" in raw and not segment.openids:
        raise SegmentError(f"{where}.openids", "the list is empty")
    return segment
