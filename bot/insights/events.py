"""One answered message as an insight event: a compact JSON line, built on the webhook's thread and appended to
Redis by the round trip that saves the reply (`RedisStateStore.finish`), then read back by `flush`.

An event holds no openid, no digit and no e-mail address a traveler typed: the time, the message kind, the
route and intent that answered it, whether that counts as answered, and for an unanswered text its words (digits
and e-mail addresses masked, capped), its language and `sha256(secret + openid)[:16]`, enough to count distinct
travelers without knowing who they are.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.infra.clock import SEOUL
from bot.infra.text import mask_contacts
from bot.wechat.inbound import Incoming

# Routes whose reply is not an answer (read from handlers/: `Route.name` is "<router>.<function>"): the fallback,
# the low-confidence "你是想问…？" guess, and a request for a person or a complaint. A test checks that each is
# still a route of the shipped handlers, so a renamed handler cannot silently count as answered.
UNANSWERED_ROUTES = frozenset({
    "fallback.not_understood",
    "fallback.suggest",
    "handoff.handoff",
    "handoff.handoff_click",
    "handoff.handoff_question",
    "handoff.complaint",
    "handoff.complaint_detail",
})
# Sent by WeChat or by its kf system, not by a traveler: not counted.
NOT_COUNTED_EVENTS = frozenset({"masssendjobfinish", "templatesendjobfinish", "kf_create_session",
                                "kf_close_session", "kf_switch_session"})

MAX_TEXT = 500  # characters of an unanswered text kept (the column's size)
MAX_KIND, MAX_ROUTE, MAX_INTENT, MAX_LANG, HASH_CHARS = 24, 60, 40, 16, 16


class MalformedEvent(ValueError):
    """An event that is not one `encode` wrote (skipped by the flush, never blocking its batch)."""


@dataclass(frozen=True)
class Event:
    at: datetime  # Asia/Seoul
    kind: str  # text | voice | image | location | event:click | event:subscribe ...
    route: str  # the route that answered ("" for none)
    intent: str  # "" when no intent was understood
    answered: bool
    text: str = ""  # unanswered texts only, digits and e-mail addresses masked
    lang: str = ""
    traveler: str = ""  # the hashed openid

    @property
    def day(self) -> date:
        """Seoul's day of the message."""
        return self.at.date()


def kind_of(msg: Incoming) -> str:
    return f"event:{msg.event}"[:MAX_KIND] if msg.kind == "event" else msg.kind[:MAX_KIND]


def is_answered(route: str) -> bool:
    """Whether a reply by this route answers the traveler (no route at all does not)."""
    return bool(route) and route not in UNANSWERED_ROUTES


def traveler_hash(secret: str, openid: str) -> str:
    """Who asked, as a digest: the same traveler gives the same value, which names nobody without the secret."""
    return hashlib.sha256(f"{secret}{openid}".encode()).hexdigest()[:HASH_CHARS]


def for_message(msg: Incoming, *, route: str, intent: str, lang: str, secret: str, at: datetime,
                failed: bool = False) -> str | None:
    """The event of `msg` answered by `route` (a route name, "" for none; `failed`: its handler raised and the
    traveler got an apology), or None for what is not counted: an event WeChat sent on its own, or an event no
    handler answers (a menu link opened: nothing was asked)."""
    if msg.kind == "event" and (msg.event in NOT_COUNTED_EVENTS or not route):
        return None
    answered = is_answered(route) and not failed
    body: dict[str, Any] = {"t": int(at.timestamp()), "k": kind_of(msg), "r": route[:MAX_ROUTE],
                            "i": intent[:MAX_INTENT], "a": 1 if answered else 0}
    text = (msg.text or "").strip()
    if not answered and text:
        body.update(x=mask_contacts(text[:MAX_TEXT]), l=lang[:MAX_LANG], u=traveler_hash(secret, msg.openid))
    return encode(body)


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(raw: bytes | str) -> Event:
    """An event read back from Redis; MalformedEvent says what is wrong with it (never what it says)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("not JSON") from None
    if not isinstance(body, dict):
        raise MalformedEvent("not a JSON object")
    t = body.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 32503680000:
        raise MalformedEvent("no time")
    fields = {}
    for key, name, cap in (("k", "kind", MAX_KIND), ("r", "route", MAX_ROUTE), ("i", "intent", MAX_INTENT),
                           ("x", "text", MAX_TEXT), ("l", "lang", MAX_LANG), ("u", "traveler", HASH_CHARS)):
        value = body.get(key, "")
        if not isinstance(value, str):
            raise MalformedEvent(f"{name} is not a string")
        fields[name] = value[:cap]
    if not fields["kind"]:
        raise MalformedEvent("no message kind")
    answered = body.get("a")
    if answered not in (0, 1) or isinstance(answered, float):
        raise MalformedEvent("answered is not 0 or 1")
    return Event(at=datetime.fromtimestamp(t, SEOUL), answered=bool(answered), **fields)
