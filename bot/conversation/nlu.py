"""Understanding a traveler's text: which intent, which place, which category, which number.

How people really type: names, aliases and abbreviations (南山塔 / N首尔塔), English and Korean
romanization (Myeongdong, gyeongbokgung), pinyin (jingfugong), homophone typos from pinyin input
(经福宫), other small typos (rapidfuzz), traditional characters, full-width forms and emoji.
A city or a generic word is no place: "首尔哪里好玩" is not N Seoul Tower (`content/generic_words.yaml`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.bookings.coupons import Coupons
from bot.bookings.passports import mentions_passport
from bot.conversation.intents import IntentMatch, IntentMatcher
from bot.conversation.place_names import PlaceIndex
from bot.infra import yamlfile
from bot.infra.text import fold, normalize
from bot.travel.info import Topics
from bot.travel.money import MoneyParser
from bot.travel.products import Catalogue

_CJK = re.compile(r"[\u3400-\u9fff]")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ASKS_NUMBER = re.compile(r"电话|热线|号码|phone|number|hotline")
_PICK = re.compile(r"^(?:第|no\.?|#)?\s*(\d{1,2}|[一二两三四五六七八九十])\s*(?:个|号|条)?$")


@dataclass(frozen=True)
class Category:
    id: str
    label: dict[str, str]
    emoji: str
    words: tuple[str, ...]


class Categories:
    def __init__(self, items: list[Category]) -> None:
        self.items = {c.id: c for c in items}
        self._words = sorted(((w, c.id) for c in items for w in c.words), key=lambda p: -len(p[0]))

    @classmethod
    def from_file(cls, path: Path) -> Categories:
        doc = yamlfile.load(path)
        data = doc.data.get("categories") if isinstance(doc.data, dict) else None
        if not isinstance(data, dict):
            raise doc.error("categories", "expected a mapping 'categories:'")
        items = []
        for cid, spec in data.items():
            where = f"categories.{cid}"
            if not isinstance(spec, dict) or not isinstance(spec.get("label"), dict) or \
                    not all(spec["label"].get(lang) for lang in ("zh-CN", "en")):
                raise doc.error(where, "needs label: {zh-CN: .., en: ..}")
            words = spec.get("words") or []
            if not isinstance(words, list) or not words:
                raise doc.error(f"{where}.words", "expected a non-empty list of words")
            items.append(Category(str(cid), dict(spec["label"]), str(spec.get("emoji", "")),
                                  tuple(normalize(str(w)) for w in words)))
        return cls(items)

    def find(self, text: str) -> str | None:
        norm = normalize(text)
        for word, cid in self._words:
            if word and word in norm:
                return cid
        return None


# Loose on purpose: a mistyped reference ("YJ2345678") gets "not found", not "which one?".
_BOOKING_REF = re.compile(r"(?<![A-Z0-9])((?:YJ|GR)[A-Z0-9]{4,10})(?![A-Z0-9])")


def find_booking_ref(text: str) -> str | None:
    """A booking or group-request reference in the text ("yj7k4m2p" too), upper-cased."""
    m = _BOOKING_REF.search(fold(text).upper())
    return m.group(1) if m else None


# A message of only emoji: pictographs (So) with their joiners, skin tones, variation selectors, spaces
# and punctuation ("👍👍!", "❤️", "👨‍👩‍👧").
_EMOJI_COMPANIONS = frozenset({"So", "Sk", "Mn", "Me", "Cf", "Zs", "Po"})


def is_emoji_only(text: str) -> bool:
    """Whether the text is only emoji (and what goes with them): small talk, not a question."""
    cats = [unicodedata.category(ch) for ch in text.strip()]
    return "So" in cats and all(c in _EMOJI_COMPANIONS for c in cats)


def parse_pick(text: str) -> int | None:
    """"2", "第二个", "#3", "２" → the number a traveler picks from a list (1–99; the handler checks range)."""
    m = _PICK.match(fold(text).strip().rstrip("。.!！"))
    if not m:
        return None
    token = m.group(1)
    number = int(token) if token.isdigit() else _CN_DIGITS[token]
    return number if number >= 1 else None


@dataclass(frozen=True)
class Understanding(IntentMatch):
    """An intent plus what was found in the text (captures: place, places, category, focus, number)."""

    captures: dict[str, Any] = field(default_factory=dict)


class Understander:
    """Composes keyword intents with the places, categories and numbers found in the text."""

    COMPOSED = ("place", "browse", "pick", "money", "info", "product", "coupon", "emoji")  # produced here

    def __init__(self, intents: IntentMatcher, places: PlaceIndex, categories: Categories,
                 money: MoneyParser, topics: Topics, products: Catalogue, coupons: Coupons | None = None) -> None:
        self.intents = intents
        self.products = products
        self.coupons = coupons
        self.places = places
        self.categories = categories
        self.money = money
        self.topics = topics
        self.names = [*intents.names, *self.COMPOSED]

    def understand(self, text: str) -> Understanding | None:
        if is_emoji_only(text):  # "👍", "😀😀": small talk (handlers/smalltalk.py)
            return Understanding("emoji", 1.0, False)
        exact = self.intents.exact(text)
        if exact:
            return Understanding(exact.intent, 1.0, exact.is_global)
        coupon = self.coupons.by_word(text) if self.coupons else None
        if coupon is not None:  # a campaign word typed on its own
            return Understanding("coupon", 1.0, False, {"coupon": coupon.id})
        number = parse_pick(text)
        if number is not None:
            return Understanding("pick", 1.0, False, {"number": number})
        contained = self.intents.contained(text)
        if "cancel_booking" in contained:  # "取消订单 YJ7K4M2P"
            return Understanding("cancel_booking", 1.0, True, {"ref": find_booking_ref(text)})
        if "my_bookings" in contained:
            return Understanding("my_bookings", 1.0, True)
        for person in ("complaint", "handoff"):  # "我要投诉，导游迟到了" is a complaint, not the emergency card;
            if person in contained and not _ASKS_NUMBER.search(fold(text)):  # "投诉电话是多少" asks a number
                return Understanding(person, 1.0, True)
        if mentions_passport(text):  # "ZHANG WEI E12345678 1990-01-01" after booking the DMZ tour
            return Understanding("passport", 1.0, False)
        product = self.products.find(text)
        if "book" in contained or (product and "订" in fold(text)):  # "我想订DMZ", "订乱打秀"
            return Understanding("book", contained.get("book", 1.0), False,
                                 {"product": product.id if product else None})
        money = self.money.parse(text)
        if "tax_refund" in contained:  # "买了30万韩元能退多少税": the amount is the purchase
            query = money if money is not None and money.kind == "convert" else None
            return Understanding("tax_refund", contained["tax_refund"], False, {"query": query})
        if money is not None:
            return Understanding("money", 1.0, False, {"query": money})
        topic = self.topics.find(text)
        if topic is not None:
            return Understanding("info", 1.0, False, {"topic": topic})
        places = self.places.find(text)
        rest = text
        for match in places:
            rest = normalize(rest).replace(match.term, " ")
        category = self.categories.find(rest) if rest.strip() else None
        captures: dict[str, Any] = {}
        if places:
            captures.update(place=places[0].place_id, places=[m.place_id for m in places],
                            place_score=places[0].score, matched_by=places[0].how)
        if category:
            captures["category"] = category
        focus = next((f for f in ("hours", "directions", "price") if f in contained), None)
        if focus:
            captures["focus"] = focus
        if "nearby" in contained:
            return Understanding("nearby", contained["nearby"], False, captures)
        if places and category and category not in self.places.categories_of[places[0].place_id]:
            # "明洞 美食" / "myeongdong food": that kind of place around there
            return Understanding("nearby", places[0].score, False, captures)
        if places:
            return Understanding("place", places[0].score, False, captures)
        if product is not None:  # "DMZ", "DMZ多少钱": a bookable product that is not a place
            return Understanding("product", 1.0, False, {"product": product.id})
        if focus:  # "几点开门" with no place: about the place shown last
            return Understanding("place", contained[focus], False, captures)
        if category:
            return Understanding("browse", 0.9, False, captures)
        if "recommend" in contained:
            return Understanding("browse", contained["recommend"], False, captures)
        best = self.intents.match(text)
        if best and best.intent not in ("hours", "directions", "price"):
            return Understanding(best.intent, best.score, best.is_global, captures)
        return None
