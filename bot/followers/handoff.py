"""Requests for a person (转人工) and complaints (投诉): recorded for staff, closed when a kf session ends.

Recording is idempotent per WeChat delivery (`source`: the message's dedup key), so a retried delivery
that reaches a handler again records nothing more. Log lines carry no digits of what travelers typed:
phone and passport numbers stay in the table.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select, update

from bot.infra.db import Database
from bot.infra.db.models import HandoffRequest
from bot.infra.text import mask_digits

log = logging.getLogger(__name__)

KINDS = ("handoff", "complaint")
MAX_TEXT = 1000  # characters of what they wrote
MAX_RECENT = 5  # earlier messages kept with a request
MAX_RECENT_TEXT = 200  # characters of each


@dataclass(frozen=True)
class Recorded:
    id: int
    created: bool  # False: this delivery was recorded before (a retry)


def record(db: Database, *, openid: str, kind: str, text: str, recent: Iterable[Any], lang: str,
           transferred: bool, source: str | None, now: datetime) -> Recorded:
    """Record one request (once per `source`) and return its row id."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    earlier = [str(t)[:MAX_RECENT_TEXT] for t in list(recent or [])[-MAX_RECENT:] if isinstance(t, str)]
    values: dict[str, Any] = dict(
        openid=openid, kind=kind, status="open", text=(text or "").strip()[:MAX_TEXT], recent=earlier, lang=lang,
        transferred=transferred, source=source[:160] if source else None, created_at=now)
    with db.session() as session:
        stmt = db.insert(HandoffRequest).values(**values)
        if source:
            stmt = stmt.on_conflict_do_nothing(index_elements=["source"])
        new_id = session.execute(stmt.returning(HandoffRequest.id)).scalar()
        created = new_id is not None
        if not created:
            new_id = session.scalar(select(HandoffRequest.id).where(HandoffRequest.source == values["source"]))
    log.info("%s request %s from %s%s%s: %r", kind, new_id, openid, " (transferred to kf)" if transferred else "",
             "" if created else " already recorded (retry)", mask_digits(values["text"][:60]))
    return Recorded(int(new_id or 0), created)


def add_detail(db: Database, request_id: int, openid: str, text: str) -> bool:
    """Append what the traveler wrote next ("我要投诉" first, then what happened) to their request.

    A compare-and-set on the text: two workers appending at once cannot lose either part."""
    detail = (text or "").strip()
    with db.session() as session:
        row = session.get(HandoffRequest, request_id)
        if row is None or row.openid != openid or not detail:
            return False
        combined = f"{row.text}\n{detail}".strip()[:MAX_TEXT]
        result = session.execute(update(HandoffRequest)
                                 .where(HandoffRequest.id == request_id, HandoffRequest.text == row.text)
                                 .values(text=combined, status="open", closed_at=None))
        done = bool(getattr(result, "rowcount", 0))
    log.info("%s request %s of %s: detail added%s: %r", row.kind, request_id, openid, "" if done else " (lost a race)",
             mask_digits(detail[:60]))
    return done


def not_transferred(db: Database, source: str) -> None:
    """The transfer reply of this delivery missed WeChat's deadline (only a passive reply transfers): the
    request waits for staff like any other."""
    with db.session() as session:
        session.execute(update(HandoffRequest).where(HandoffRequest.source == source[:160])
                        .values(transferred=False))


def close_open(db: Database, openid: str, now: datetime) -> int:
    """Close the traveler's open requests (their kf session ended); how many were closed."""
    with db.session() as session:
        result = session.execute(update(HandoffRequest)
                                 .where(HandoffRequest.openid == openid, HandoffRequest.status == "open")
                                 .values(status="closed", closed_at=now))
        closed = int(getattr(result, "rowcount", 0) or 0)
    log.info("kf session of %s closed: %d open request(s) closed", openid, closed)
    return closed


def open_requests(db: Database, openid: str | None = None) -> list[HandoffRequest]:
    """Open requests, oldest first (all travelers', or one's)."""
    query = select(HandoffRequest).where(HandoffRequest.status == "open").order_by(HandoffRequest.created_at,
                                                                                  HandoffRequest.id)
    if openid is not None:
        query = query.where(HandoffRequest.openid == openid)
    with db.session() as session:
        return list(session.scalars(query))
