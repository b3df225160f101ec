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

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.bookings.coupons import Coupons
from bot.bookings.passports import mentions_passport
from bot.conversation.intents import IntentMatch, IntentMatcher
from bot.infra import yamlfile
from bot.infra.text import fold, normalize
from bot.travel.info import Topics
from bot.travel.money import MoneyParser
from bot.travel.places import Places
from bot.travel.products import Catalogue

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_RUN = re.compile(r"[a-z0-9][a-z0-9 '&.-]*[a-z0-9]|[a-z0-9]")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# Edit distance is for names of at least 3 characters, compared with a whole piece of the text of at
# least 3 (a name of 4 or more may also sit inside a longer piece), one edit per 4 characters (at least 1).
_FUZZY_MIN = 3
_FUZZY_INSIDE_MIN = 4
_ASKS_NUMBER = re.compile(r"电话|热线|号码|phone|number|hotline")
_PICK = re.compile(r"^(?:第|no\.?|#)?\s*(\d{1,2}|[一二两三四五六七八九十])\s*(?:个|号|条)?$")


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class GenericWords:
    """Words that name no single place (`content/generic_words.yaml`): areas such as 首尔 or 韩国 and generic
    words such as 市中心 are never taken for a place; they and the fillers ("怎么走", "的") split a sentence
    into the pieces where a mistyped name is looked for."""

    names: frozenset[str] = frozenset()  # areas + generic words, normalized (latin ones compact)
    fillers: frozenset[str] = frozenset()

    SECTIONS = ("areas", "generic", "fillers")

    @classmethod
    def from_file(cls, path: Path, places: Places | None = None) -> GenericWords:
        """Load and check the file; with `places`, a word that is also a place's name or alias is an error."""
        doc = yamlfile.load(path)
        data = doc.data if isinstance(doc.data, dict) else None
        if data is None:
            raise doc.error("", f"expected the mappings {', '.join(cls.SECTIONS)} of word lists")
        unknown = sorted(set(map(str, data)) - set(cls.SECTIONS))
        if unknown:
            raise doc.error(unknown[0], f"unknown section; expected {', '.join(cls.SECTIONS)}")
        owners: dict[str, str] = {}
        for place in places or ():
            for term in filter(None, [*place.name.values(), *place.aliases]):
                owners.setdefault(normalize(term), place.id)
        sections: dict[str, set[str]] = {}
        for section in cls.SECTIONS:
            words = data.get(section) or []
            if not isinstance(words, list):
                raise doc.error(section, "expected a list of words")
            found = sections.setdefault(section, set())
            for i, word in enumerate(words):
                if not isinstance(word, str) or not normalize(word):
                    raise doc.error(f"{section}.{i}", "expected a word (letters or characters)")
                key = normalize(word)
                if key in owners:
                    raise doc.error(f"{section}.{i}", f"{word!r} is a name of the place {owners[key]} "
                                                      "(content/attractions.yaml): it cannot also name no place")
                found.add(key if _CJK.search(key) else _compact(word))
        return cls(frozenset(sections["areas"] | sections["generic"]), frozenset(sections["fillers"]))


@dataclass(frozen=True)
class PlaceMatch:
    place_id: str
    score: float
    how: str  # exact | pinyin | fuzzy
    term: str


class PlaceIndex:
    """Every way of naming each place, in the forms the matchers compare."""

    def __init__(self, places: Places, generic: GenericWords | None = None) -> None:
        self.generic = generic or GenericWords()
        self.cjk: dict[str, str] = {}  # folded CJK term -> place id
        self.latin: dict[str, str] = {}  # compact latin term -> place id
        self.syllables: dict[tuple[str, ...], str] = {}  # pinyin of CJK terms -> place id
        self.categories_of = {place.id: place.categories for place in places}
        heads: dict[str, set[str]] = {}
        for place in places:
            terms = [place.name["zh-CN"], place.name["en"], place.name.get("ko", ""), *place.aliases]
            for term in filter(None, terms):
                folded = normalize(term)
                if _CJK.search(folded):
                    self.cjk.setdefault(folded, place.id)
                    syllables = tuple(lazy_pinyin(folded))
                    if len(syllables) >= 2:
                        self.syllables.setdefault(syllables, place.id)
                        self.latin.setdefault("".join(syllables), place.id)  # typed pinyin
                elif len(_compact(term)) >= 3:
                    self.latin.setdefault(_compact(term), place.id)
                    if " " in term.strip():
                        heads.setdefault(_compact(term.split()[0]), set()).add(place.id)
        # "Gyeongbokgung Palace" is also typed "gyeongbokgung", but a head word shared by several
        # places ("Myeongdong Cathedral", "Myeongdong Street Food") names none of them.
        for head, owners in heads.items():
            if len(head) >= 6 and len(owners) == 1:
                self.latin.setdefault(head, next(iter(owners)))
        self._cjk_terms = sorted(self.cjk, key=len, reverse=True)
        self._latin_terms = sorted(self.latin, key=len, reverse=True)
        self._fuzzy = [(term, len(term), max(1, len(term) // 4)) for term in self._cjk_terms if len(term) >= _FUZZY_MIN]
        # What splits a text into the pieces a typo is looked for in: anything not CJK, and the words that
        # name no place. Longest first, so "怎么走" goes whole.
        splitters = sorted((w for w in self.generic.names | self.generic.fillers if _CJK.search(w)),
                           key=len, reverse=True)
        self._splitter = re.compile("|".join([*map(re.escape, splitters), r"[^\u3400-\u9fff]+"]))

    @staticmethod
    def _near(piece: str, term: str, n: int, budget: int) -> bool:
        """`term` mistyped as the whole `piece`, or, for a longer name, inside it."""
        if abs(len(piece) - n) <= budget and Levenshtein.distance(piece, term, score_cutoff=budget) <= budget:
            return True
        if n < _FUZZY_INSIDE_MIN or len(piece) <= n:
            return False
        return any(Levenshtein.distance(piece[i:i + n], term, score_cutoff=budget) <= budget
                   for i in range(len(piece) - n + 1))

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in `text`, best first; exact names beat pinyin beats fuzzy."""
        norm = normalize(text)
        found: dict[str, PlaceMatch] = {}

        def add(match: PlaceMatch) -> None:
            if match.place_id not in found or found[match.place_id].score < match.score:
                found[match.place_id] = match

        rest = norm
        for term in self._cjk_terms:
            if len(term) >= 2 and term in rest:
                add(PlaceMatch(self.cjk[term], 1.0, "exact", term))
                rest = rest.replace(term, "|")  # "明洞" inside a longer match is not a second place
        words = [_compact(w) for w in re.findall(r"[a-z0-9]+", " ".join(_LATIN_RUN.findall(fold(text))))]
        words = [w for w in words if w]
        latin = "".join(words)
        # A latin term must start and end on word boundaries: "lida" is not in "holiday".
        starts, ends, pos = set(), set(), 0
        for word in words:
            starts.add(pos)
            pos += len(word)
            ends.add(pos)
        claimed = [False] * len(latin)
        for term in self._latin_terms:
            if len(term) < 4 and term != latin:
                continue
            start = latin.find(term)
            while start >= 0:
                end = start + len(term)
                if start in starts and end in ends and not any(claimed[start:end]):
                    add(PlaceMatch(self.latin[term], 1.0, "exact", term))
                    claimed[start:end] = [True] * len(term)
                start = latin.find(term, start + 1)
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        cjk_only = "".join(ch if _CJK.match(ch) else " " for ch in norm)
        syllables = tuple(lazy_pinyin(cjk_only.replace(" ", ""))) if cjk_only.strip() else ()
        chars = cjk_only.replace(" ", "")
        by_char = len(chars) == len(syllables)  # one syllable per character (almost always)
        for sounds, place_id in self.syllables.items():
            n = len(sounds)
            if any(syllables[i:i + n] == sounds and not (by_char and chars[i:i + n] in self.generic.names)
                   for i in range(len(syllables) - n + 1)):
                add(PlaceMatch(place_id, 0.9, "pinyin", "".join(sounds)))
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        pieces = [p for p in self._splitter.split(norm) if len(p) >= _FUZZY_MIN]
        for term, n, budget in self._fuzzy:
            if any(self._near(piece, term, n, budget) for piece in pieces):
                add(PlaceMatch(self.cjk[term], 0.75, "fuzzy", term))
        # Typos in latin names: compare whole words (and runs of up to three words) with whole terms,
        # so a typed head word ("myeongdong") does not fuzzily pick one of several longer names.
        runs = {"".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        for run in sorted(r for r in runs if len(r) >= 5 and r not in self.generic.names):
            best = process.extractOne(run, self._latin_terms, scorer=fuzz.ratio, score_cutoff=85)
            if best and len(best[0]) >= 5:
                add(PlaceMatch(self.latin[best[0]], round(best[1] / 100 * 0.85, 2), "fuzzy", best[0]))
        return sorted(found.values(), key=lambda m: -m.score)


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
