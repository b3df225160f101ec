"""News broadcasts (mpnews) composed from `content/`: attraction, product and campaign articles.

A broadcast file names what to show; the words and layout come from `content/templates/<lang>/<kind>.article.j2`:

    news:                        # 1 to 8 articles, in this order
      - attraction: gyeongbokgung
      - product: nanta_show
      - campaign: winter_2026    # a coupon from coupons.yaml
        thumb: winter.jpg        # optional; else images/<id>.jpg if there is one, else images/default.jpg
    languages: [zh-CN, en]       # optional: followers get the articles in their language (zh-CN for the rest)

WeChat sends only news it holds: every article needs a thumbnail uploaded as permanent material, and the
articles are uploaded with media/uploadnews for a media_id WeChat keeps 3 days. So articles are composed when a
broadcast is sent or previewed, not when it is planned: a send scheduled for next week uploads next week, with
next week's content. A thumbnail is uploaded once, remembered by the hash of its bytes (table wechat_media); the
articles' media_id is reused for a day for the very same articles (Redis), so a preview and the send, or a
resumed send, upload nothing again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import delete, select
from wechatpy.exceptions import WeChatClientException

from bot.broadcasts.message import message_payload
from bot.infra.db import Database
from bot.infra.db.models import WeChatMedia
from bot.infra.keys import Keys
from bot.wechat.gateway import WeChatGateway

log = logging.getLogger(__name__)

KINDS = ("attraction", "product", "campaign")
MAX_ARTICLES = 8  # WeChat's limit for one news message
THUMB_MAX_BYTES = 64 * 1024  # WeChat's limit for a thumb
IMAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\.jpe?g$")  # a plain file name: nothing outside content/images/
INVALID_MEDIA_ID = 40007
MEDIA_ID_TTL = 24 * 3600  # well inside the 3 days WeChat keeps uploaded news


class ComposeError(ValueError):
    """A news article that cannot be built (unknown id, a bad or missing thumbnail)."""


def thumb_path(content_dir: Path, item: dict[str, str]) -> Path:
    """The JPEG an article shows: its `thumb`, else `images/<id>.jpg` when there is one, else the default."""
    images = content_dir / "images"
    if item.get("thumb"):
        return images / item["thumb"]
    kind = next(k for k in KINDS if k in item)
    own = images / f"{item[kind]}.jpg"
    return own if own.is_file() else images / "default.jpg"


def read_thumb(path: Path) -> bytes:
    """The thumbnail's bytes, checked the way WeChat checks them (a JPEG of at most 64 KB)."""
    try:
        data = path.read_bytes()
    except OSError:
        raise ComposeError(f"thumbnail {path.name} not found in {path.parent}") from None
    if not data.startswith(b"\xff\xd8\xff"):
        raise ComposeError(f"thumbnail {path.name} is not a JPEG file")
    if len(data) > THUMB_MAX_BYTES:
        raise ComposeError(f"thumbnail {path.name} is {len(data) // 1024} KB; WeChat takes at most 64 KB")
    return data


def check(items: list[dict[str, str]], content: Any) -> tuple[int, str] | None:
    """(index, message) of the first article whose id or thumbnail is wrong, else None."""
    for i, item in enumerate(items):
        kind = next(k for k in KINDS if k in item)
        if _subject(content, kind, item[kind]) is None:
            return i, f"no {kind} {item[kind]!r} in content/"
        try:
            read_thumb(thumb_path(content.dir, item))
        except ComposeError as exc:
            return i, str(exc)
    return None


def _digest(articles: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(articles, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _subject(content: Any, kind: str, item_id: str) -> Any:
    source = {"attraction": content.places, "product": content.products}.get(kind)
    return source.get(item_id) if source is not None else content.coupons.items.get(item_id)


class NewsComposer:
    """The message part of mass-send and preview bodies; uploads what a news broadcast needs first.

    `content` and `cards` are the app's content and card renderer (`bot.conversation`); `base_url` the public
    base URL product pages hang under. Built by the broadcast service, which owns it.
    """

    def __init__(self, db: Database, wechat: WeChatGateway, redis_client: redis.Redis, keys: Keys, content: Any,
                 cards: Any, base_url: str) -> None:
        self.db, self.wechat, self.redis, self.keys = db, wechat, redis_client, keys
        self.content, self.cards, self.base_url = content, cards, base_url

    def payload(self, spec: dict[str, Any], lang: str) -> dict[str, Any]:
        if "news" not in spec:
            return message_payload(spec, lang)
        return {"msgtype": "mpnews", "mpnews": {"media_id": self.media_id(spec["news"], lang)},
                "send_ignore_reprint": 0}

    def articles(self, items: list[dict[str, str]], lang: str) -> list[dict[str, Any]]:
        """The articles as WeChat takes them, in `lang`; thumbnails uploaded if new."""
        return [{**self.article(item, lang), "thumb_media_id": self.thumb_media_id(thumb_path(self.content.dir, item)),
                 "show_cover_pic": 0, "need_open_comment": 0}
                for item in items]

    def media_id(self, items: list[dict[str, str]], lang: str) -> str:
        articles = self.articles(items, lang)
        cached = self.redis.get(self.keys.news_media(_digest(articles)))
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
        try:
            media_id = self.wechat.upload_news(articles)
        except WeChatClientException as exc:
            if exc.errcode != INVALID_MEDIA_ID:
                raise
            # A thumbnail we remember was deleted on WeChat's side (say, in the MP admin): forget, upload again.
            log.warning("WeChat no longer has a remembered thumbnail; uploading the thumbnails again")
            with self.db.session() as s:
                s.execute(delete(WeChatMedia).where(WeChatMedia.media_id.in_({a["thumb_media_id"] for a in articles})))
            articles = self.articles(items, lang)
            media_id = self.wechat.upload_news(articles)
        self.redis.set(self.keys.news_media(_digest(articles)), media_id, ex=MEDIA_ID_TTL)
        log.info("uploaded %d news articles (%s) as %s", len(articles), lang, media_id)
        return media_id

    def thumb_media_id(self, path: Path) -> str:
        """WeChat's media_id of the thumbnail, uploaded as permanent material the first time it is used."""
        data = read_thumb(path)
        sha = hashlib.sha256(data).hexdigest()
        with self.db.session() as s:
            known = s.scalar(select(WeChatMedia.media_id).where(WeChatMedia.sha256 == sha))
        if known:
            return known
        media_id = self.wechat.add_thumb(path.name, data)
        with self.db.session() as s:
            # Two senders may upload the same new image at once: both media ids work, the first is kept.
            if s.get(WeChatMedia, sha) is None:
                s.add(WeChatMedia(sha256=sha, kind="thumb", media_id=media_id, name=path.name[:200],
                                  uploaded_at=datetime.now(UTC)))
        log.info("uploaded thumbnail %s as %s", path.name, media_id)
        return media_id

    def article(self, item: dict[str, str], lang: str) -> dict[str, str]:
        """One article as WeChat takes it, without its thumbnail (a preview shows it from content/images/)."""
        content, cards, base = self.content, self.cards, self.base_url
        kind = next(k for k in KINDS if k in item)
        subject = _subject(content, kind, item[kind])
        if subject is None:  # the content changed since the broadcast was planned
            raise ComposeError(f"no {kind} {item[kind]!r} in content/ any more")
        if kind == "attraction":
            article = cards.article("attraction", lang, place=subject, url=cards.page_url(subject, lang))
        elif kind == "product":
            article = cards.article("product", lang, product=subject, url=f"{base}/p/products/{subject.id}")
        else:
            products = [content.products.get(pid) for pid in sorted(subject.products)]
            url = f"{base}/p/products/{products[0].id}" if len(products) == 1 else ""
            article = cards.article("campaign", lang, coupon=subject, products=[p for p in products if p], url=url)
        return {"title": article["title"][:64], "digest": article["digest"][:120], "content": article["content"],
                "content_source_url": article["url"], "author": cards.ui[cards.lang(lang)].get("brand", "")}
