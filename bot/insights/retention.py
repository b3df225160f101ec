"""Raw texts are kept `insights.keep_raw_days` (default 30), then deleted; the counts stay.

Deleted: unanswered messages' raw texts (`unanswered_messages` rows) and the record of applied flush batches;
blanked: what travelers wrote in hand-off requests and complaints that are closed (text and recent messages;
the row, its kind, dates and status stay), and what staff wrote to travelers through the inbox (the reply's
item, author, outcome and time stay). The per-day counts and the unanswered questions (one normalized
wording with its count) stay. Run daily by the worker (`bot.jobs.purge_insights`) and by
`flask --app wsgi insights purge`; in batches, so no statement holds a lock for long.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update

from bot.infra.clock import in_seoul
from bot.infra.db.models import HandoffRequest, InboxReply, InsightFlush, UnansweredMessage

log = logging.getLogger(__name__)

BATCH = 5000  # rows per statement


@dataclass
class Purged:
    cutoff: datetime  # older than this is gone
    messages: int  # raw unanswered texts deleted
    handoffs: int  # closed requests whose texts were blanked
    flushes: int  # records of applied flush batches deleted
    replies: int = 0  # staff replies whose texts were blanked

    def __str__(self) -> str:
        return (f"before {self.cutoff:%Y-%m-%d %H:%M} (Seoul): {self.messages} raw message(s) deleted, "
                f"{self.handoffs} closed hand-off text(s) blanked, {self.replies} staff reply text(s) blanked, "
                f"{self.flushes} flush record(s) deleted")


def purge(ext: Any, *, days: int | None = None, now: datetime | None = None) -> Purged:
    """Delete (or blank) what is older than `days` (default: the config's `insights.keep_raw_days`)."""
    keep = ext.config.insights.keep_raw_days if days is None else days
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"days must be a whole number of 1 or more, not {keep!r}")
    cutoff = in_seoul(now or ext.clock.now()) - timedelta(days=keep)  # SQLite compares Seoul wall times
    db = ext.db
    m, h, f = UnansweredMessage, HandoffRequest, InsightFlush
    messages = _in_batches(db, select(m.id).where(m.at < cutoff), lambda ids: delete(m).where(m.id.in_(ids)))
    said = or_(h.text != "", cast(h.recent, String).not_in(["[]", "null"]))
    handoffs = _in_batches(
        db, select(h.id).where(h.status == "closed", func.coalesce(h.closed_at, h.created_at) < cutoff, said),
        lambda ids: update(h).where(h.id.in_(ids)).values(text="", recent=[]))
    flushes = _in_batches(db, select(f.id).where(f.at < cutoff), lambda ids: delete(f).where(f.id.in_(ids)))
    r = InboxReply
    replies = _in_batches(db, select(r.id).where(r.at < cutoff, r.text != ""),
                          lambda ids: update(r).where(r.id.in_(ids)).values(text=""))
    done = Purged(cutoff, messages, handoffs, flushes, replies)
    log.info("insights retention (%d days): %s", keep, done)
    return done


def _in_batches(db: Any, pick: Any, change: Any) -> int:
    """Apply `change(ids)` to the rows `pick` selects, BATCH at a time, each batch its own transaction."""
    total = 0
    while True:
        with db.session() as s:
            ids = list(s.scalars(pick.limit(BATCH)))
            if ids:
                s.execute(change(ids))
        total += len(ids)
        if len(ids) < BATCH:
            return total
