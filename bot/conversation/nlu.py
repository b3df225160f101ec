"""Understanding a traveler's text: which intent, which place, which category, which number.

How people really type: names, aliases and abbreviations (南山塔 / N首尔塔), English and Korean
romanization (Myeongdong, gyeongbokgung), pinyin (jingfugong), homophone typos from pinyin input
(经福宫), other small typos (rapidfuzz), traditional characters, full-width forms and emoji.
A city or a generic word is no place: "首尔哪里好玩" is not N Seoul Tower (`content/generic_words.yaml`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.bookings.coupons import Coupons
from bot.bookings.passports import mentions_passport
from bot.conversation.homophones import SoundFixer
from bot.conversation.intents import IntentMatch, IntentMatcher
from bot.conversation.meanings import OFFERED, SURE, Meanings
from bot.conversation.place_names import PlaceIndex, PlaceMatch
from bot.infra import yamlfile
from bot.infra.text import WordList, fold, normalize
from bot.travel.collections import Collections
from bot.travel.info import Topics
from bot.travel.money import MoneyParser
from bot.travel.products import Catalogue

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# Asking for a number ("投诉电话是多少", "what is the complaint hotline"), not giving one ("我的电话是138...").
_ASKS_NUMBER = re.compile(r"(?:电话|热线|号码)(?:是|打)?(?:多少|几|什么)|(?:哪个|什么|多少)(?:电话|热线|号码)|"
                          r"(?:投诉|客服|求助)(?:电话|热线|号码)(?!.*\d)|"
                          r"(?:what|which)\b.{0,30}\b(?:phone|number|hotline)|(?:phone|number|hotline)\s*\?")
_PICK = re.compile(r"^(?:第|no\.?|#)?\s*(\d{1,2}|[一二两三四五六七八九十])\s*(?:个|号|条)?$")
# A pick inside a question: "第二个怎么去", "第2家几点开门", "the second one", "number 3".
_PICK_INSIDE = re.compile(r"第\s*(\d{1,2}|[一二两三四五六七八九十])\s*(?:个|家|条|项|处|号|站)|"
                          r"\b(?:the\s+)?(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\s+(?:one|place|item)\b|"
                          r"\b(?:number|no\.?|#)\s*(\d{1,2})\b")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
             "5th": 5}
# "从明洞到弘大", "明洞去弘大怎么走", "from myeongdong to hongdae": a way from one place to another.
_ROUTE_FROM = re.compile(r"from")
_ROUTE_TO = re.compile(r"到|去|至|往|to")
_WHERE = re.compile(r"哪里|哪儿|在哪|去哪|哪家|哪个地方|\bwhere\b")
_SAYS_COMPLAIN = re.compile(r"投诉|举报|complain")
_CANCEL = re.compile(r"取消|退掉|退订|不去了|cancel")
_ARROW = re.compile(r"->|→|=>|—>|➡️?")
_ROUTE_GAP = 6  # at most this many characters between the two names ("怎么去", "坐地铁到")


@dataclass(frozen=True)
class Category:
    id: str
    label: dict[str, str]
    emoji: str
    words: tuple[str, ...]


class Categories:
    def __init__(self, items: list[Category], raw: list[tuple[str, str]] | None = None) -> None:
        self.items = {c.id: c for c in items}
        self._words = WordList(raw if raw is not None else [(w, c.id) for c in items for w in c.words])

    @classmethod
    def from_file(cls, path: Path) -> Categories:
        doc = yamlfile.load(path)
        data = doc.data.get("categories") if isinstance(doc.data, dict) else None
        if not isinstance(data, dict):
            raise doc.error("categories", "expected a mapping 'categories:'")
        items: list[Category] = []
        raw: list[tuple[str, str]] = []
        for cid, spec in data.items():
            where = f"categories.{cid}"
            if not isinstance(spec, dict):
                raise doc.error(where, "needs label: {zh-CN: .., en: ..} and words")
            label = doc.texts(spec.get("label"), f"{where}.label")
            words = spec.get("words") or []
            if not isinstance(words, list) or not words:
                raise doc.error(f"{where}.words", "expected a non-empty list of words")
            items.append(Category(str(cid), label, str(spec.get("emoji", "")),
                                  tuple(normalize(str(w)) for w in words)))
            raw.extend((str(w), str(cid)) for w in words)
        return cls(items, raw)

    def find(self, text: str) -> str | None:
        found = self.match(text)
        return found[0] if found else None

    def match(self, text: str) -> tuple[str, str] | None:
        """(category, the word that named it), longest word first (latin words whole)."""
        return self._words.match(text)


# Loose on purpose: a mistyped reference ("YJ2345678") gets "not found", not "which one?".
_BOOKING_REF = re.compile(r"(?<![A-Z0-9])((?:YJ|GR)[A-Z0-9]{4,10})(?![A-Z0-9])")


def find_booking_ref(text: str) -> str | None:
    """A booking or group-request reference in the text ("yj7k4m2p" too), upper-cased."""
    m = _BOOKING_REF.search(fold(text).upper())
    return m.group(1) if m else None


# A message of only emoji: pictographs (So) with their joiners, skin tones, variation selectors, spaces
# and punctuation ("👍👍!", "❤️", "👨‍👩‍👧").
_EMOJI_COMPANIONS = frozenset({"So", "Sk", "Mn", "Me", "Cf", "Zs", "Po"})


# WeChat's own emoji arrive as codes in the text: "[微笑]", "[Smile]", "/::)", "/:strong".
_WECHAT_EMOJI = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]|/:[^\s/\[]{1,8}")


def without_wechat_emoji(text: str) -> str:
    """The text without WeChat emoji codes ("景福宫几点开门[微笑]" → "景福宫几点开门")."""
    return _WECHAT_EMOJI.sub(" ", text).strip() if ("[" in text or "/:" in text) else text


def is_emoji_only(text: str) -> bool:
    """Whether the text is only emoji (Unicode or WeChat codes, and what goes with them): small talk."""
    bare = without_wechat_emoji(text)
    if bare != text.strip() and not bare.strip(" !！~～.。"):
        return True
    cats = [unicodedata.category(ch) for ch in text.strip()]
    return "So" in cats and all(c in _EMOJI_COMPANIONS for c in cats)


def find_pick(text: str) -> int | None:
    """The item a question is about: "第二个怎么去" → 2, "the second one" → 2 (None when no pick is named)."""
    m = _PICK_INSIDE.search(fold(text))
    if not m:
        return None
    token = next(g for g in m.groups() if g)
    number = _ORDINALS.get(token) or (int(token) if token.isdigit() else _CN_DIGITS[token])
    return number if number >= 1 else None


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

    COMPOSED = ("place", "browse", "pick", "money", "info", "product", "coupon", "emoji", "collection", "route",
                "suggest")  # produced here

    def __init__(self, intents: IntentMatcher, places: PlaceIndex, categories: Categories,
                 money: MoneyParser, topics: Topics, products: Catalogue, coupons: Coupons | None = None,
                 collections: Collections | None = None, meanings: Meanings | None = None,
                 fixer: SoundFixer | None = None) -> None:
        self.intents = intents
        self.fixer = fixer or SoundFixer(())
        self.collections = collections or Collections([])
        self.meanings = meanings or Meanings([], [])
        self.products = products
        self.coupons = coupons
        self.places = places
        self.categories = categories
        self.money = money
        self.topics = topics
        self.names = [*intents.names, *self.COMPOSED]

    def understand(self, text: str) -> Understanding | None:
        """What the rules make of `text`; else, when it is very close to a question the bot answers
        (`content/meanings.yaml`), that question; else the closest ones to offer ("suggest"), or None."""
        if is_emoji_only(text):  # "👍", "[微笑]": small talk (handlers/smalltalk.py)
            return Understanding("emoji", 1.0, False)
        text = without_wechat_emoji(text) or text  # "景福宫几点开门[微笑]": the question
        fixed = self.fixer.fix(text)  # "韩江公园" -> "汉江公园"
        return (fixed != text and self.by_rules(fixed)) or self.by_rules(text) or self.nearest(text)

    def nearest(self, text: str) -> Understanding | None:
        """The question in `content/meanings.yaml` this text surely means, else the closest ones to offer."""
        closest = self.meanings.closest(text, OFFERED + 2)
        if closest and closest[0].score >= SURE:
            meant = self.by_rules(closest[0].meaning.say["zh-CN"])
            if meant is not None:
                return replace(meant, score=closest[0].score,
                               captures={**meant.captures, "meant": closest[0].example})
        offers = self.meanings.offers(text, closest)
        if offers:  # not understood: "你是想问…？" with the closest questions (or the most asked ones)
            return Understanding("suggest", closest[0].score if closest else 0.0, False, {"offers": offers})
        return None

    def by_rules(self, text: str) -> Understanding | None:
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
        # Looked up once each, when first needed: several rules below ask about the same text.
        seen: dict[str, Any] = {}

        def card_named() -> tuple[str, str] | None:
            if "card" not in seen:
                seen["card"] = self.topics.match(text)
            return seen["card"]

        def places_named() -> list[PlaceMatch]:
            if "places" not in seen:
                seen["places"] = self.places.find(text)
            return seen["places"]

        number = find_pick(text)
        if number is not None:  # "第二个怎么去": an item of the list shown last, with what is asked of it
            focus = next((f for f in ("hours", "directions", "price") if f in contained), None)
            return Understanding("pick", 1.0, False, {"number": number, **({"focus": focus} if focus else {})})
        # "我要投诉，导游迟到了" / "太坑了我要退款" is a complaint, before the emergency card or a cancellation;
        # "投诉电话是多少" asks a number.
        asks_number = bool(_ASKS_NUMBER.search(fold(text)))
        if "complaint" in contained and not asks_number and not self._card_first(text, card_named()):
            return Understanding("complaint", 1.0, True)
        if "cancel_booking" in contained:  # "取消订单 YJ7K4M2P"
            return Understanding("cancel_booking", 1.0, True, {"ref": find_booking_ref(text)})
        if "my_bookings" in contained:
            return Understanding("my_bookings", 1.0, True)
        if "handoff" in contained and not asks_number:
            return Understanding("handoff", 1.0, True)
        if mentions_passport(text):  # "ZHANG WEI E12345678 1990-01-01" after booking the DMZ tour
            return Understanding("passport", 1.0, False)
        named_product = self.products.match(text)
        product = named_product[0] if named_product else None
        if product and _CANCEL.search(fold(text)):  # "我想取消乱打秀那个": that booking
            return Understanding("cancel_booking", 1.0, True, {"ref": None, "product": product.id})
        if "products" in contained and product is None:  # "能订什么", "what can I book", "有什么一日游"
            return Understanding("products", 1.0, False)
        wants_booking = "book" in contained or (product and "订" in fold(text))  # "我想订DMZ", "订乱打秀"
        # "昌德宫后苑要预约吗" asks about the place, "KTX怎么买票" about trains: booking needs a product or nothing else
        if wants_booking and (product or not (places_named() or card_named())):
            return Understanding("book", contained.get("book", 1.0), False,
                                 {"product": product.id if product else None})
        money = self.money.parse(text)
        if "tax_refund" in contained:  # "买了30万韩元能退多少税": the amount is the purchase
            query = money if money is not None and money.kind == "convert" else None
            return Understanding("tax_refund", contained["tax_refund"], False, {"query": query})
        if money is not None and money.kind == "rate" and _WHERE.search(fold(text)):
            found = card_named()  # "哪里换韩币划算", "where can I exchange": where to, not the rate
            if found is not None:
                return Understanding("info", 1.0, False, {"topic": found[0]})
        if money is not None:
            return Understanding("money", 1.0, False, {"query": money})
        topic = card_named()
        kind = self.categories.match(text)
        # A much more specific category word wins: "皮肤管理医院" is a beauty clinic (皮肤管理), not the health card
        # (医院); "skin clinic" is not a "clinic" for the sick. "taxi at night" is still the taxi card.
        specific = kind is not None and topic is not None and (topic[1] in kind[1] or len(kind[1]) >= 2 * len(topic[1]))
        if topic is not None and not specific:
            card = self.topics.items[topic[0]]
            yields = card.yields_to_places and not any(w in normalize(text) for w in card.unless)
            if not (yields and any(m.how == "exact" for m in places_named())):  # "坐地铁去景福宫": the way there
                return Understanding("info", 1.0, False, {"topic": topic[0]})
        places = self._specific_first(places_named())
        route = self._route(text, places)
        if route is not None:
            return route
        if "coupons" in contained:  # "有优惠吗", "我的优惠券"
            return Understanding("coupons", 1.0, False)
        rest = fold(text)  # the text without the places it names, spacing kept for latin words
        for match in places:
            rest = re.sub(r"[\s'.-]*".join(map(re.escape, match.term)), " ", rest)
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
        collection = self.collections.find(rest) if not places else None
        if collection:  # "首尔有什么寺庙", "首尔周边", "带孩子去哪玩": one kind of place, more specific than a category
            return Understanding("collection", 1.0, False, {"collection": collection})
        if "nearby" in contained:
            return Understanding("nearby", contained["nearby"], False, captures)
        if places and category and not focus and category not in self.places.categories_of[places[0].place_id]:
            # "明洞 美食" / "myeongdong food": that kind of place around there
            return Understanding("nearby", places[0].score, False, captures)
        if named_product and places and places[0].term in named_product[1] and named_product[1] != places[0].term:
            # "景福宫韩服租赁多少钱": the product named after the palace, not the palace
            return Understanding("product", 1.0, False, {"product": named_product[0].id})
        if places and "crowd" in contained and not focus:  # "明洞人多吗": how crowded it is, not its card
            return Understanding("crowd", places[0].score, False, captures)
        weather = max(("weather", "air"), key=lambda i: contained.get(i, 0.0))
        if places and weather in contained and not focus:  # "明洞天气", "明洞空气怎么样": there, not its card
            return Understanding(weather, places[0].score, False, captures)
        if places:
            return Understanding("place", places[0].score, False, captures)
        if product is not None:  # "DMZ", "DMZ多少钱": a bookable product that is not a place
            return Understanding("product", 1.0, False, {"product": product.id})
        if focus and not (category and focus == "directions"):  # "几点开门": about the place shown last;
            # "最好吃的烤肉在哪" asks where that kind of place is: the list below
            return Understanding("place", contained[focus], False, captures)
        if category:
            return Understanding("browse", 0.9, False, captures)
        if "recommend" in contained:
            return Understanding("browse", contained["recommend"], False, captures)
        best = self.intents.best_of(contained)  # no exact word matched (that returned at the top)
        if best and best.intent not in ("hours", "directions", "price"):
            return Understanding(best.intent, best.score, best.is_global, captures)
        return None

    def _specific_first(self, places: list[PlaceMatch]) -> list[PlaceMatch]:
        """"olive young myeongdong": the place whose own name holds the other name found (the Olive Young store
        in Myeongdong), not Myeongdong."""
        if len(places) < 2 or places[0].score != places[1].score:
            return places
        first, second = places[0], places[1]
        if any(second.term in term for term in self.places.terms_of(first.place_id)):
            return places
        if any(first.term in term for term in self.places.terms_of(second.place_id)):
            return [second, first, *places[2:]]
        return places

    def _card_first(self, text: str, found: tuple[str, str] | None) -> bool:
        """A grievance a card answers better (`found`, the card the text names: "被偷了": the police; "司机多收钱":
        the taxi card), unless the traveler says they want to complain."""
        if found is None or not self.topics.items[found[0]].before_complaints:
            return False
        return not _SAYS_COMPLAIN.search(fold(text))

    def _route(self, text: str, places: list[PlaceMatch]) -> Understanding | None:
        """"从明洞到弘大怎么走", "myeongdong to hongdae", "how to get to hongdae from myeongdong": two places
        with a from/to word between them."""
        if len(places) < 2:
            return None
        compact = normalize(_ARROW.sub(" to ", text))  # CJK names and compact latin names are both found in it
        at = {m.place_id: compact.find(m.term) for m in places[:2]}
        if any(p < 0 for p in at.values()):
            return None
        first, second = sorted(places[:2], key=lambda m: at[m.place_id])
        between = compact[at[first.place_id] + len(first.term):at[second.place_id]]
        if len(between) > _ROUTE_GAP:
            return None
        if _ROUTE_FROM.search(between):  # "to hongdae from myeongdong"
            origin, destination = second, first
        elif _ROUTE_TO.search(between):
            origin, destination = first, second
        else:
            return None
        return Understanding("route", min(first.score, second.score), False,
                             {"origin": origin.place_id, "destination": destination.place_id})
