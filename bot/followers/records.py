"""Keep the followers table current from what WeChat tells us (subscribe, unsubscribe, any message)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.infra.db import Database, insert_for
from bot.infra.db.models import Follower, FollowerInterest
from bot.wechat.inbound import Incoming


def _upsert(db: Database, openid: str, insert_values: dict, update_values: dict) -> None:
    stmt = db.insert(Follower).values(openid=openid, **insert_values)
    stmt = stmt.on_conflict_do_update(index_elements=[Follower.openid], set_=update_values)
    with db.session() as session:
        session.execute(stmt)


def record(db: Database, msg: Incoming, now: datetime | None = None) -> None:
    """Apply one message or event to the follower record (idempotent: retries change nothing more)."""
    now = now or datetime.fromtimestamp(msg.create_time or datetime.now().timestamp(), UTC)
    base = {"created_at": now, "language": "zh-CN", "tags": [], "last_active_at": now}
    if msg.event == "subscribe":
        changes = {"subscribed": True, "subscribed_at": now, "last_active_at": now}
        if msg.scene:
            changes["qrscene"] = msg.scene[:64]
        _upsert(db, msg.openid, {**base, **changes}, changes)
    elif msg.event == "unsubscribe":
        changes = {"subscribed": False, "unsubscribed_at": now}
        _upsert(db, msg.openid, {**base, **changes, "last_active_at": None}, changes)
    else:
        # Someone who messages us follows us (WeChat only delivers followers' messages), even if we
        # missed their subscribe event.
        _upsert(db, msg.openid, {**base, "subscribed": True}, {"last_active_at": now, "subscribed": True})


def set_language(db: Database, openid: str, language: str) -> None:
    with db.session() as session:
        session.execute(update(Follower).where(Follower.openid == openid).values(language=language))


def language(db: Database, openid: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(Follower.language).where(Follower.openid == openid))


def get(db: Database, openid: str) -> Follower | None:
    with db.session() as session:
        return session.get(Follower, openid)


def note_interests(db: Database, asked: list[tuple[str, str, datetime]]) -> None:
    """Remember that followers asked about categories: (openid, category, when) rows, many followers in one
    statement (the pipeline batches them); the first ask of each is kept, later ones change nothing."""
    if asked:
        with db.session() as session:
            _insert_interests(session, [{"openid": openid, "category": category, "first_at": when}
                                        for openid, category, when in asked])


def add_interests(session: Session, openid: str, categories: Iterable[str], now: datetime | None = None) -> None:
    """Record categories as the follower's interests inside the caller's transaction (a booking's)."""
    rows = [{"openid": openid, "category": c, "first_at": now or datetime.now(UTC)} for c in categories]
    if rows:
        _insert_interests(session, rows)


def _insert_interests(session: Session, rows: list[dict[str, Any]]) -> None:
    """Interest rows in one statement; a follower's first ask of a category stays, later ones change nothing."""
    insert = insert_for(session.get_bind().dialect.name)
    session.execute(insert(FollowerInterest).values(rows)
                    .on_conflict_do_nothing(index_elements=["openid", "category"]))
