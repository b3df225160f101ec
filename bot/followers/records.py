"""Keep the followers table current from what WeChat tells us (subscribe, unsubscribe, any message)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.infra.db import Database, insert_for
from bot.infra.db.models import ChannelScan, Follower, FollowerInterest
from bot.wechat.inbound import Incoming


def _upsert(db: Database, openid: str, insert_values: dict, update_values: dict,
            channel: tuple[str, str, datetime, str] | None = None) -> None:
    """Insert or update the follower; `channel` (scene, event, when, delivery key): a follow or scan through a
    channel's QR code, recorded once per delivery, the follower's first channel kept, the last one updated."""
    stmt = db.insert(Follower).values(openid=openid, **insert_values)
    if channel:
        update_values = {**update_values, "last_channel": channel[0],
                         "first_channel": func.coalesce(Follower.first_channel, stmt.excluded.first_channel)}
    stmt = stmt.on_conflict_do_update(index_elements=[Follower.openid], set_=update_values)
    with db.session() as session:
        session.execute(stmt)
        if channel:
            scene, event, at, source = channel
            session.execute(db.insert(ChannelScan)
                            .values(channel=scene, openid=openid, event=event, at=at, source=source[:160])
                            .on_conflict_do_nothing(index_elements=[ChannelScan.source]))


def record(db: Database, msg: Incoming, now: datetime | None = None) -> None:
    """Apply one message or event to the follower record (idempotent: retries change nothing more)."""
    now = now or datetime.fromtimestamp(msg.create_time or datetime.now().timestamp(), UTC)
    base = {"created_at": now, "language": "zh-CN", "tags": [], "last_active_at": now}
    if msg.event == "subscribe":
        changes = {"subscribed": True, "subscribed_at": now, "last_active_at": now}
        scene = msg.scene[:64]
        if scene:
            changes["qrscene"] = scene
            channel = (scene, "subscribe", now, msg.dedup_key)
            _upsert(db, msg.openid, {**base, **changes, "first_channel": scene, "last_channel": scene}, changes,
                    channel)
        else:
            _upsert(db, msg.openid, {**base, **changes}, changes)
    elif msg.event == "unsubscribe":
        changes = {"subscribed": False, "unsubscribed_at": now}
        _upsert(db, msg.openid, {**base, **changes, "last_active_at": None}, changes)
    else:
        # Someone who messages us follows us (WeChat only delivers followers' messages), even if we
        # missed their subscribe event.
        _upsert(db, msg.openid, {**base, "subscribed": True}, {"last_active_at": now, "subscribed": True})


def note_scan(db: Database, msg: Incoming, now: datetime | None = None) -> None:
    """A follower scanned a channel's QR code (WeChat's SCAN event): one channel_scans row per delivery, their
    last channel updated (their first one kept), their activity noted. Their `qrscene` stays: only a follow sets
    it."""
    scene = msg.scene[:64]
    if msg.event != "scan" or not scene:
        return
    now = now or datetime.fromtimestamp(msg.create_time or datetime.now().timestamp(), UTC)
    base = {"created_at": now, "language": "zh-CN", "tags": [], "last_active_at": now, "subscribed": True,
            "first_channel": scene, "last_channel": scene}
    _upsert(db, msg.openid, base, {"last_active_at": now}, (scene, "scan", now, msg.dedup_key))


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
