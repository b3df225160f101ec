"""Conversation fixtures: YAML "stories" of user turns and checks on each reply.

    defaults: {clock: "2026-05-01T10:00:00+09:00", lang: zh-CN, rates: {CNY: 200.0}}
    fixtures:
      has_location: {loc: {lat: 37.5636, lng: 126.9827, label: 明洞}}
    conversations:
      - name: palace_hours
        fixture: has_location          # optional starting state
        clock: "2026-05-05T08:00:00+09:00"   # optional, overrides defaults (so may lang and rates)
        steps:
          - send: {text: 景福宫几点开门}
            expect: {type: news, title_contains: 景福宫, url_regex: "/p/attractions/gyeongbokgung"}

Turns (`send`): text, voice (recognition text), location {lat, lng, label}, event (subscribe with
scene, unsubscribe, LOCATION with lat/lng, location_select with key/lat/lng/label, VIEW with key ...),
click (menu key), image. Two turns happen outside the chat and need the in-process target: `pay: latest`
(the traveler pays their latest unpaid booking on its page: the embedded WeChat Pay takes it and notifies
the bot) and `refund: SUCCESS` (WeChat Pay finishes the traveler's refunds in progress, or CLOSED: fails
them); their reply is what the bot then sent the traveler through the customer-service API.
Checks (`expect`): type (text | news), equals (the whole text; a failure shows a diff), contains /
not_contains (string or list, on the text or on the news title + description), regex, title /
title_contains, url_regex, no_reply, state (a mapping of keys that must match, or null for "no
conversation state"). `rates` are KRW per unit of each currency, as of the clock. Whatever a turn
checks, a text reply cut to WeChat's 2048-byte limit fails it.
Errors in a fixture file name the file and line. `bot.testing.replay` plays them.
"""
from __future__ import annotations

import difflib
import itertools
import re
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.devtools import sender as build
from bot.infra import yamlfile
from bot.infra.yamlfile import Located
from bot.wechat.protocol import parse_xml
from bot.wechat.replies import MAX_TEXT_BYTES, TRIMMED_MARK

OUTSIDE_CHAT = {"pay", "refund"}  # not WeChat messages: the in-process target plays them
SEND_KINDS = {"text", "voice", "location", "event", "click", "image", *OUTSIDE_CHAT}
EXPECT_KEYS = {"type", "equals", "contains", "not_contains", "regex", "title", "title_contains", "url_regex",
               "no_reply", "state"}
_ids = itertools.count(int(time.time()) * 1000)


@dataclass
class Step:
    send: dict[str, Any]
    expect: dict[str, Any]
    line: int  # of the turn
    expect_line: int = 0  # of its checks: where a failed check points


@dataclass
class Conversation:
    name: str
    file: str
    line: int
    steps: list[Step]
    clock: datetime | None = None
    state: dict[str, Any] | None = None
    lang: str | None = None
    rates: dict[str, Decimal] | None = None  # KRW per unit

    @property
    def id(self) -> str:
        return f"{Path(self.file).name}::{self.name}"


def _clock(doc: Located, value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise doc.error(path, f"clock must be an ISO time with offset, got {value!r}") from None
    if parsed.tzinfo is None:
        raise doc.error(path, "clock needs a UTC offset, e.g. +09:00")
    return parsed


def _rates(doc: Located, value: Any, path: str) -> dict[str, Decimal] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise doc.error(path, "rates map currency codes to KRW per unit, e.g. {CNY: 202.41}")
    rates = {}
    for code, rate in value.items():
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code):
            raise doc.error(path, f"{code!r} is not a currency code")
        try:
            number = Decimal(str(rate))
        except ArithmeticError:
            number = Decimal(0)
        if isinstance(rate, bool) or not number.is_finite() or number <= 0:
            raise doc.error(f"{path}.{code}", f"expected KRW per {code.upper()} as a positive number, got {rate!r}")
        rates[code.upper()] = number
    return rates


def load(path: Path) -> list[Conversation]:
    doc = yamlfile.load(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
        raise doc.error("conversations", "expected a list 'conversations:'")
    defaults = data.get("defaults") or {}
    fixtures = data.get("fixtures") or {}
    if not isinstance(defaults, dict) or not isinstance(fixtures, dict):
        raise doc.error("defaults", "defaults and fixtures must be mappings")
    default_clock = _clock(doc, defaults.get("clock"), "defaults.clock")
    default_rates = _rates(doc, defaults.get("rates"), "defaults.rates")
    out, names = [], set()
    for i, conv in enumerate(data["conversations"]):
        p = f"conversations.{i}"
        if not isinstance(conv, dict) or not isinstance(conv.get("name"), str):
            raise doc.error(p, "each conversation needs a name")
        if conv["name"] in names:
            raise doc.error(f"{p}.name", f"duplicate conversation name {conv['name']!r}")
        names.add(conv["name"])
        fixture = conv.get("fixture")
        if fixture is not None and fixture not in fixtures:
            raise doc.error(f"{p}.fixture", f"unknown fixture {fixture!r}; defined: {sorted(fixtures)}")
        steps_raw = conv.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise doc.error(f"{p}.steps", "expected a non-empty list of steps")
        steps = []
        for j, step in enumerate(steps_raw):
            sp = f"{p}.steps.{j}"
            if not isinstance(step, dict) or not isinstance(step.get("send"), dict):
                raise doc.error(sp, "each step needs send: {...}")
            kinds = set(step["send"]) & SEND_KINDS
            if len(kinds) != 1:
                raise doc.error(f"{sp}.send", f"send exactly one of {sorted(SEND_KINDS)}, got {sorted(step['send'])}")
            kind = next(iter(kinds))
            if kind == "pay" and step["send"]["pay"] != "latest":
                raise doc.error(f"{sp}.send.pay", "pay: latest (the traveler's latest unpaid booking)")
            if kind == "refund" and step["send"]["refund"] not in ("SUCCESS", "CLOSED"):
                raise doc.error(f"{sp}.send.refund", "refund: SUCCESS or CLOSED (how WeChat Pay ends the refunds)")
            try:
                if kind not in OUTSIDE_CHAT:
                    message_for(step["send"], "oValidateOnly")
            except (KeyError, TypeError, ValueError) as exc:
                raise doc.error(f"{sp}.send", f"incomplete {next(iter(kinds))} turn: missing or bad {exc}") from None
            expect = step.get("expect") or {}
            if not isinstance(expect, dict):
                raise doc.error(f"{sp}.expect", "expected a mapping of checks, e.g. {type: text, contains: 景福宫}")
            if set(expect) - EXPECT_KEYS:
                raise doc.error(f"{sp}.expect", f"unknown check(s) {sorted(set(expect) - EXPECT_KEYS)}; "
                                                f"known: {sorted(EXPECT_KEYS)}")
            if expect.get("type") not in (None, "text", "news"):
                raise doc.error(f"{sp}.expect.type", "type is text or news")
            if "state" in expect and not isinstance(expect["state"], (dict, type(None))):
                raise doc.error(f"{sp}.expect.state", "expected a mapping of state keys, or null for no state")
            for key in ("regex", "url_regex"):
                if key in expect:
                    try:
                        re.compile(str(expect[key]))
                    except re.error as exc:
                        raise doc.error(f"{sp}.expect.{key}", f"bad regular expression: {exc}") from None
            steps.append(Step(step["send"], expect, doc.line(sp) or 0, doc.line(f"{sp}.expect") or doc.line(sp) or 0))
        state = dict(fixtures[fixture]) if fixture else None
        if "state" in conv:  # a recorded fixture carries its starting state inline
            if not isinstance(conv["state"], dict):
                raise doc.error(f"{p}.state", "expected a mapping")
            state = {**(state or {}), **conv["state"]}
        out.append(Conversation(conv["name"], str(path), doc.line(p) or 0, steps,
                                _clock(doc, conv.get("clock"), f"{p}.clock") or default_clock, state,
                                conv.get("lang") or defaults.get("lang"),
                                _rates(doc, conv.get("rates"), f"{p}.rates") if "rates" in conv else default_rates))
    return out


def message_for(send: dict[str, Any], openid: str) -> str:
    """The XML WeChat would POST for one `send:` turn."""
    if "text" in send:
        return build.text(openid, str(send["text"]), msg_id=next(_ids))
    if "voice" in send:
        return build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "voice",
                                  "MediaId": "media", "Format": "amr", "Recognition": str(send["voice"]),
                                  "MsgId": next(_ids)})
    if "location" in send:
        loc = send["location"]
        return build.location(openid, float(loc["lat"]), float(loc.get("lng", loc.get("lon"))),
                              str(loc.get("label", "")), msg_id=next(_ids))
    if "click" in send:
        return build.event(openid, "CLICK", str(send["click"]), create_time=int(time.time()) + next(_ids) % 1000)
    if "image" in send:
        return build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "image",
                                  "PicUrl": str(send["image"]), "MediaId": "media", "MsgId": next(_ids)})
    event = str(send["event"])
    extra: dict[str, Any] = {}
    key = send.get("key")
    if event.lower() == "subscribe":
        key = f"qrscene_{send['scene']}" if send.get("scene") else ""
    if event.upper() == "LOCATION":
        extra = {"Latitude": send["lat"], "Longitude": send["lng"], "Precision": 30}
    if event.lower() == "location_select":  # the menu's location picker
        extra = {"SendLocationInfo": {"Location_X": float(send["lat"]), "Location_Y": float(send["lng"]), "Scale": 15,
                                      "Label": str(send.get("label", "")), "Poiname": str(send.get("label", ""))}}
    # Events dedup on sender + time + event + key: a distinct time per turn keeps turns distinct.
    return build.event(openid, event, key, create_time=int(time.time()) + next(_ids) % 1000, **extra)


@dataclass
class Reply:
    kind: str  # text | news | none
    text: str = ""
    title: str = ""
    url: str = ""
    raw: str = ""

    @classmethod
    def parse(cls, body: str) -> Reply:
        if body in ("success", ""):
            return cls("none", raw=body)
        data = parse_xml(body.encode("utf-8"))
        if data.get("MsgType") == "news":
            item = data["Articles"]["item"]
            item = item[0] if isinstance(item, list) else item
            return cls("news", f"{item.get('Title', '')}\n{item.get('Description', '')}", item.get("Title", ""),
                       item.get("Url", ""), body)
        return cls(str(data.get("MsgType")), str(data.get("Content", "")), raw=body)


# What every conversation state carries beside a flow or context: "state: null" ignores these.
HOUSEKEEPING = ("rev", "lang", "lang_chosen", "seen", "recent", "money")


def check(expect: dict[str, Any], reply: Reply, state: dict[str, Any] | None) -> list[str]:
    """What does not hold, as readable lines (empty when everything holds)."""
    problems = []
    if reply.kind == "text" and reply.text.endswith(TRIMMED_MARK):  # every turn, checked or not
        problems.append(f"the reply was cut to WeChat's {MAX_TEXT_BYTES}-byte limit for a text: shorten its template")
    as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
    if expect.get("no_reply") and reply.kind != "none":
        problems.append(f"expected no reply (success), got {reply.kind}: {reply.text[:120]!r}")
    if "type" in expect and reply.kind != expect["type"]:
        problems.append(f"expected a {expect['type']} reply, got {reply.kind}: {reply.text[:200]!r}")
    for needle in as_list(expect.get("contains", [])):
        if str(needle) not in reply.text:
            problems.append(f"expected the reply to contain {needle!r}\n  reply was: {reply.text!r}")
    for needle in as_list(expect.get("not_contains", [])):
        if str(needle) in reply.text:
            problems.append(f"expected the reply NOT to contain {needle!r}\n  reply was: {reply.text!r}")
    if "regex" in expect and not re.search(str(expect["regex"]), reply.text):
        problems.append(f"expected the reply to match /{expect['regex']}/\n  reply was: {reply.text!r}")
    if "equals" in expect and reply.text != str(expect["equals"]):
        problems.append("expected the reply to be exactly (diff):\n" + unified_diff(str(expect["equals"]), reply.text))
    if "title" in expect and reply.title != str(expect["title"]):
        problems.append(f"expected the news title {expect['title']!r}, got {reply.title!r}")
    if "title_contains" in expect and str(expect["title_contains"]) not in reply.title:
        problems.append(f"expected the news title to contain {expect['title_contains']!r}, got {reply.title!r}")
    if "url_regex" in expect and not re.search(str(expect["url_regex"]), reply.url):
        problems.append(f"expected the news URL to match /{expect['url_regex']}/, got {reply.url!r}")
    if "state" in expect:
        wanted = expect["state"]
        if wanted is None:
            if state and any(k for k in state if k not in HOUSEKEEPING):
                problems.append(f"expected no conversation state, got {state}")
        else:
            for key, value in wanted.items():
                actual = (state or {}).get(key)
                if actual != value:
                    problems.append(f"expected state[{key!r}] == {value!r}, got {actual!r}")
    return problems


def unified_diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected", "reply",
                                          lineterm="", n=2))
