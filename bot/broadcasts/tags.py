"""Give a segment's followers a WeChat tag, so a send-by-tag reaches exactly the same people.

WeChat tags at most 50 openids per `tags/members/batchtagging` call; the followers' own `tags`
column gets the tag id too, so `audience: {tag: N}` selects them here as well.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy import select

from bot.broadcasts.segments import Segment
from bot.infra.db import Database
from bot.infra.db.models import Follower
from bot.wechat.gateway import WeChatGateway

PER_CALL = 50


def tag_id_for(wechat: WeChatGateway, name: str) -> int:
    """The id of the WeChat tag called `name`, created if it does not exist yet."""
    for tag in wechat.get_tags():
        if tag.get("name") == name:
            return int(tag["id"])
    return wechat.create_tag(name)


def sync(db: Database, wechat: WeChatGateway, segment: Segment, name: str, now: datetime | None = None,
         progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Tag every follower of `segment` with tag `name` on WeChat and here; (tag id, followers tagged)."""
    tag_id = tag_id_for(wechat, name)
    chunk: list[str] = []
    done = 0

    def flush() -> None:
        nonlocal done
        wechat.tag_members(tag_id, chunk)
        with db.session() as s:
            for follower in s.scalars(select(Follower).where(Follower.openid.in_(chunk))):
                current = list(follower.tags or [])
                if tag_id not in current:
                    current.append(tag_id)
                    follower.tags = current  # a new list: SQLAlchemy sees the JSON column change
        done += len(chunk)
        if progress:
            progress(len(chunk))
        chunk.clear()

    for openid in list(segment.openids_in(db, now)):
        chunk.append(openid)
        if len(chunk) == PER_CALL:
            flush()
    if chunk:
        flush()
    return tag_id, done
