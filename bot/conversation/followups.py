"""Follow-ups: a message read against what the conversation already showed.

"1" after "你是想问…？" is the first question offered; "那500呢" or "人民币呢" after a conversion is another
amount or currency for it. The words that mark such a follow-up ("那", "呢", "what about") are in
`content/followups.yaml`; place follow-ups ("门票呢", "第二个怎么去") need no state here: the handlers
resolve them against the place or list shown last.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.bookings.draft import LAST_PRODUCT_KEY
from bot.conversation.meanings import OFFER
from bot.conversation.nlu import Understander, Understanding
from bot.infra import yamlfile
from bot.infra.text import fold, normalize
from bot.travel.money import MoneyQuery, parse_amount

LONG_QUESTION = 8  # characters: a question this long says more than "门票呢"
MONEY_KEY = "money"  # the last conversion: {"amount", "source", "targets"}


@dataclass(frozen=True)
class FollowupWords:
    """Words around a bare amount or currency that only say "and this one?" ("那500呢", "what about 500")."""

    fillers: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, path: Path) -> FollowupWords:
        if not path.exists():
            return cls()
        doc = yamlfile.load(path)
        words = doc.data.get("fillers") if isinstance(doc.data, dict) else None
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise doc.error("fillers", "expected a list of words")
        return cls(tuple(sorted((fold(w).strip() for w in words), key=len, reverse=True)))

    def strip(self, text: str) -> str:
        """The text without its follow-up words and punctuation: "那500呢？" → "500"."""
        rest = fold(text)
        for word in self.fillers:
            pattern = re.escape(word) if not word.isascii() else rf"\b{re.escape(word)}\b"
            rest = re.sub(pattern, " ", rest)
        return re.sub(r"[\s?？!！。.,，~～]+", " ", rest).strip()


def remember_money(state: dict[str, Any], query: MoneyQuery) -> None:
    if query.kind == "convert" and query.amount is not None and query.source:
        state[MONEY_KEY] = {"amount": str(query.amount), "source": query.source, "targets": list(query.targets)}


def resolve(match: Understanding | None, text: str, state: dict[str, Any], understander: Understander,
            words: FollowupWords) -> Understanding | None:
    """`match` read against the conversation: a pick of an offered question or of a product, or another
    amount or currency for the last conversion."""
    listing = state.get("list") or {}
    if match is not None and match.intent == "pick" and listing.get("kind") == "suggest":
        offers = listing.get("offers") or []
        number = int(match.captures["number"])
        if 1 <= number <= len(offers) and offers[number - 1] < len(understander.meanings.items):
            meant = understander.by_rules(understander.meanings.items[offers[number - 1]].say["zh-CN"])
            return meant or match
    if match is not None and match.intent == "pick" and listing.get("kind") == "cancel":
        refs = listing.get("ids") or []  # "2" after "which one to cancel?"
        number = int(match.captures["number"])
        if 1 <= number <= len(refs):
            return Understanding("cancel_booking", 1.0, False, {"ref": refs[number - 1]})
    if match is not None and match.intent == "pick" and listing.get("kind") == "products":
        ids = listing.get("ids") or []
        number = int(match.captures["number"])
        if 1 <= number <= len(ids) and understander.products.get(ids[number - 1]) is not None:
            return Understanding("product", 1.0, False, {"product": ids[number - 1]})
    if match is not None and match.intent in ("place", "ask_price") and not match.captures.get("place"):
        if not state.get("last_place"):  # "地铁几点停运", "水光针多少钱": no place asked about, none shown before
            # Surely another question, or a longer one close to some ("司机看不懂我写的地址咋整"); a short one
            # ("门票呢", "怎么去") is about a place: "which place?"
            meant = understander.nearest(text)
            if meant is not None and meant.intent == "suggest":
                long_enough = len(normalize(text)) >= LONG_QUESTION and meant.score >= OFFER
                return meant if long_enough else match
            return meant or match
        origin = _from_place(text, match, understander)
        if origin and origin != state["last_place"]:  # "how do I get there from Myeongdong"
            return Understanding("route", 1.0, False, {"origin": origin, "destination": state["last_place"]})
    if match is not None and match.intent == "place" and match.captures.get("focus") == "directions":
        origin = _from_place(text, match, understander)
        if origin and state.get("last_place") and origin != state["last_place"] and match.captures["place"] == origin:
            return Understanding("route", 1.0, False, {"origin": origin, "destination": state["last_place"]})
    last_place = state.get("last_place")
    asks_of_place = match is not None and match.intent == "book" and not match.captures.get("product") and \
        _ASKS.search(fold(text))  # "那里要预约吗", "需要提前预约吗": whether the place needs one
    points_back = bool(_THAT_PLACE.search(fold(text)))
    if last_place and (((match is None or match.intent == "suggest") and points_back)
                       or (asks_of_place and (points_back or not state.get(LAST_PRODUCT_KEY)))):
        # "那里要预约吗", "is it crowded there": something about the place shown last the rules had no word for
        return Understanding("place", 1.0, False, {"place": last_place})
    if match is not None and match.intent == "pick" and "nearby" in understander.intents.contained(text):
        items = listing.get("ids") or []  # "第二个附近有什么吃的": around that item
        number = int(match.captures["number"])
        if listing.get("kind") not in ("suggest", "products", "cancel") and 1 <= number <= len(items):
            category = understander.categories.find(text)
            return Understanding("nearby", 1.0, False, {"place": items[number - 1],
                                                        **({"category": category} if category else {})})
    shown = state.get(LAST_PRODUCT_KEY)
    if match is not None and match.intent == "book" and not match.captures.get("product") and shown:
        return Understanding("book", match.score, False, {"product": shown})  # "订两张" after its card
    last = state.get(MONEY_KEY)
    if last and (match is None or match.intent in ("suggest", "money", "pick")):
        query = _money_followup(text, last, understander, words)
        if query is not None:
            return Understanding("money", 1.0, False, {"query": query})
    return match


_FROM = re.compile(r"从|from ")
# Words pointing back at the place shown last.
_ASKS = re.compile(r"吗|么|要不要|需不需要|是否|\?|？|\bdo i need\b|\bneed to\b|\bshould i\b")
_THAT_PLACE = re.compile(r"那里|那儿|那边|这里|这儿|那个地方|这个地方|那地方|\bthere\b|\bthat place\b|\bthis place\b")


def _from_place(text: str, match: Understanding, understander: Understander) -> str | None:
    """The place a "from" word names in the text ("从明洞过去", "from myeongdong"), if any."""
    m = _FROM.search(fold(text))
    if not m:
        return None
    found = understander.places.find(text[m.end():])
    return found[0].place_id if found else None


def _money_followup(text: str, last: dict[str, Any], understander: Understander,
                    words: FollowupWords) -> MoneyQuery | None:
    parser = understander.money
    rest = words.strip(text)
    amount = parse_amount(rest.replace(" ", "")) if rest else None
    if amount is not None and amount > 0:  # "那500呢", "1000", "what about 50"
        return MoneyQuery("convert", amount, last["source"], tuple(last["targets"]))
    # "人民币呢", "in dollars?": nothing but a currency (not "美元汇率", which asks the rate)
    mentioned = [code for code, c in parser.currencies.items() if any(fold(w) == rest for w in (*c.words, *c.symbols))]
    if len(mentioned) != 1:
        return None
    named = mentioned[0]
    if named == last["source"]:
        return None
    return MoneyQuery("convert", Decimal(last["amount"]), last["source"], (named,))
