"""Give a segment's followers a WeChat tag, so a send-by-tag reaches exactly the same people.

WeChat tags at most 50 openids per `tags/members/batchtagging` call; the followers' own `tags`
column gets the tag id too, so `audience: {tag: N}` selects them here as well.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from bot.infra.db import Database
from bot.infra.db.models import Follower
from bot.broadcasts.segments import Segment

PER_CALL = 50


def tag_id_for(api: Any, name: str) -> int:
    """The id of the WeChat tag called `name`, created if it does not exist yet."""
    existing = api.post("tags/get").get("tags") or []
    for tag in existing:
        if tag.get("name") == name:
            return int(tag["id"])
    return int(api.post("tags/create", data={"tag": {"name": name}})["tag"]["id"])


def sync(db: Database, api: Any, segment: Segment, name: str, now: datetime | None = None,
         progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Tag every follower of `segment` with tag `name` on WeChat and here; (tag id, followers tagged)."""
    tag_id = tag_id_for(api, name)
    chunk: list[str] = []
    done = 0

    def flush() -> None:
        nonlocal done
        api.post("tags/members/batchtagging", data={"openid_list": chunk, "tagid": tag_id})
        with db.session() as s:
            for follower in s.scalars(select(Follower).where(Follower.openid.in_(chunk))):
                if tag_id not in (follower.tags or []):
                    follower.tags = [*(follower.tags or []), tag_id]
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
