"""Channels (an influencer, a campaign, a hotel desk): a permanent QR code per channel, made through WeChat's API,
and what each brought in a period.

Attribution: a follower's `first_channel` is the channel they first came through (kept forever), `last_channel`
the latest they followed or scanned through; every follow or scan through a code is a `channel_scans` row
(see `records`). The report counts, per channel and period (Seoul days, both ends included):

- scans: follows and scans through its code; follows: followers who followed through it (re-follows included);
- unfollows: followers whose first or last channel it is and who unfollowed in the period;
- active: followers whose first or last channel it is, active in the period;
- bookings (paid, redeemed, confirmed on site) made in the period by followers it brought first, and the paid
  revenue (paid and redeemed, after coupons); coupon claims in the period by those followers, and the claims used.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO
from urllib.parse import quote

from sqlalchemy import and_, func, select, union
from sqlalchemy.exc import IntegrityError

from bot.infra.clock import SEOUL
from bot.infra.db import Database
from bot.infra.db.models import Booking, Channel, ChannelScan, CouponClaim, Follower
from bot.infra.text import inert

SCENE = re.compile(r"[A-Za-z0-9_-]{1,64}")
SHOW_QRCODE = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
REPORT_MAX_DAYS = 366  # a report period at most a year long (the API and the console refuse longer ones)
BOOKED = ("paid", "redeemed", "confirmed")
PAID = ("paid", "redeemed")


class ChannelError(ValueError):
    """A channel that cannot be made (its id is no valid scene string), or a period that is none; `field` names
    what is wrong: id, name or to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Created:
    channel: Channel
    new: bool  # False: it existed already, WeChat was not asked


def create(db: Database, gateway: Any, channel_id: str, name: str, now: datetime) -> Created:
    """The channel `channel_id` with its permanent QR code; one already stored is returned as it is (no API call).
    `gateway`: a `bot.wechat.gateway.WeChatGateway`; its errors (WeChatClientException) reach the caller."""
    if not SCENE.fullmatch(channel_id):
        raise ChannelError(f"{channel_id!r}: a channel id is 1-64 letters, digits, _ or - (the QR code's scene)", "id")
    name = name.strip() or channel_id
    if len(name) > 120:
        raise ChannelError("a channel name has at most 120 characters", "name")
    if found := get(db, channel_id):
        return Created(found, new=False)
    answer = gateway.create_permanent_qrcode(channel_id)
    ticket, url = str(answer["ticket"]), str(answer.get("url") or "")
    row = Channel(id=channel_id, name=name, ticket=ticket, url=url, image_url=SHOW_QRCODE + quote(ticket, safe=""),
                  created_at=now.astimezone(UTC))
    try:
        with db.session() as session:
            session.add(row)
            session.flush()
            session.expunge(row)
    except IntegrityError:  # made at the same time by another command: the same permanent code, keep theirs
        if found := get(db, channel_id):
            return Created(found, new=False)
        raise
    return Created(row, new=True)


def get(db: Database, channel_id: str) -> Channel | None:
    with db.session() as session:
        row = session.get(Channel, channel_id)
        if row is not None:
            session.expunge(row)
        return row


def all_channels(db: Database) -> list[Channel]:
    with db.session() as session:
        rows = list(session.scalars(select(Channel).order_by(Channel.created_at, Channel.id)))
        session.expunge_all()
        return rows


@dataclass
class Line:
    channel: str
    name: str
    scans: int = 0
    follows: int = 0
    unfollows: int = 0
    active: int = 0
    bookings: int = 0
    revenue_krw: int = 0
    coupon_claims: int = 0
    coupons_used: int = 0

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("channel", "name")}


CSV_COLUMNS = ("scans", "follows", "unfollows", "active", "bookings", "revenue_krw", "coupon_claims", "coupons_used")


def write_csv(lines: list[Line], out: TextIO) -> None:
    """The report as CSV; a cell a spreadsheet would run as a formula (a name like "=HYPERLINK(...)") stays text."""
    writer = csv.writer(out)
    writer.writerow(["channel", "name", *CSV_COLUMNS])
    for line in lines:
        writer.writerow([inert(line.channel), inert(line.name), *(getattr(line, key) for key in CSV_COLUMNS)])


def period(first: date, last: date) -> tuple[datetime, datetime]:
    """Seoul days `first` to `last`, both included, as [start, end) in UTC (as times are stored: SQLite keeps
    no offset)."""
    if last < first:
        raise ChannelError(f"the period ends ({last}) before it starts ({first})", "to")
    return (datetime.combine(first, time(), SEOUL).astimezone(UTC),
            datetime.combine(last + timedelta(days=1), time(), SEOUL).astimezone(UTC))


def report(db: Database, first: date, last: date) -> list[Line]:
    """One line per channel: every stored channel, and any other scene with something in the period."""
    start, end = period(first, last)
    lines: dict[str, Line] = {c.id: Line(c.id, c.name) for c in all_channels(db)}

    def put(column: str, values: Any) -> None:
        for channel, value in values:
            if channel is not None:
                line = lines.setdefault(channel, Line(channel, ""))
                setattr(line, column, int(value or 0))

    in_period = and_(ChannelScan.at >= start, ChannelScan.at < end)
    # A follower counts once for a channel that is their first, their last, or both.
    touched = union(select(Follower.first_channel.label("channel"), Follower.openid.label("openid"),
                           Follower.unsubscribed_at.label("gone"), Follower.last_active_at.label("seen")),
                    select(Follower.last_channel, Follower.openid, Follower.unsubscribed_at,
                           Follower.last_active_at)).subquery()
    brought = select(Follower.openid).where(Follower.first_channel.is_not(None))
    with db.session() as s:
        put("scans", s.execute(select(ChannelScan.channel, func.count()).where(in_period)
                               .group_by(ChannelScan.channel)))
        put("follows", s.execute(select(ChannelScan.channel, func.count(ChannelScan.openid.distinct()))
                                 .where(in_period, ChannelScan.event == "subscribe").group_by(ChannelScan.channel)))
        put("unfollows", s.execute(select(touched.c.channel, func.count())
                                   .where(touched.c.gone >= start, touched.c.gone < end)
                                   .group_by(touched.c.channel)))
        put("active", s.execute(select(touched.c.channel, func.count())
                                .where(touched.c.seen >= start, touched.c.seen < end).group_by(touched.c.channel)))
        bookings = (select(Follower.first_channel, func.count(),
                           func.sum(Booking.price_krw - Booking.discount_krw).filter(Booking.status.in_(PAID)))
                    .join(Follower, Follower.openid == Booking.openid)
                    .where(Booking.openid.in_(brought), Booking.status.in_(BOOKED),
                           Booking.created_at >= start, Booking.created_at < end)
                    .group_by(Follower.first_channel))
        rows = s.execute(bookings).all()
        put("bookings", [(r[0], r[1]) for r in rows])
        put("revenue_krw", [(r[0], r[2]) for r in rows])
        claims = (select(Follower.first_channel, func.count(), func.count(CouponClaim.used_ref))
                  .join(Follower, Follower.openid == CouponClaim.openid)
                  .where(Follower.first_channel.is_not(None), CouponClaim.claimed_at >= start,
                         CouponClaim.claimed_at < end)
                  .group_by(Follower.first_channel))
        rows = s.execute(claims).all()
        put("coupon_claims", [(r[0], r[1]) for r in rows])
        put("coupons_used", [(r[0], r[2]) for r in rows])
    stored = {c for c, line in lines.items() if line.name}
    return [line for c, line in sorted(lines.items())
            if c in stored or any(line.counts().values())]


