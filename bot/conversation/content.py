"""Everything under `content/` that the bot reads, loaded and validated once at start-up.

A mistake in a content file stops start-up with the file and line, never a traveler's reply.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from bot.bookings.coupons import Coupons, load_coupons
from bot.conversation.followups import FollowupWords
from bot.conversation.homophones import SoundFixer
from bot.conversation.intents import IntentMatcher
from bot.conversation.meanings import Meanings, load_meanings
from bot.conversation.nlu import Categories, Understander
from bot.conversation.place_names import GenericWords, PlaceIndex
from bot.infra.yamlfile import SourceError
from bot.travel.collections import Collections, load_collections
from bot.travel.info import Topics
from bot.travel.money import MoneyParser
from bot.travel.places import Places, load_places
from bot.travel.products import Catalogue, load_catalogue
from bot.travel.routes import Fares, load_fares
from bot.travel.tax import TaxRules, load_tax_rules
from bot.wechat.menu import Menu, load_menu


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


_cache: dict[tuple, Content] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Content:
    dir: Path
    places: Places
    categories: Categories
    money: MoneyParser
    tax: TaxRules
    topics: Topics
    products: Catalogue
    coupons: Coupons
    collections: Collections
    meanings: Meanings
    followups: FollowupWords
    fares: Fares
    understander: Understander
    menu: Menu

    @classmethod
    def load(cls, directory: Path) -> Content:
        """Load `directory`, or reuse what this process loaded from the very same files.

        Loading takes about a second (place index, pinyin, folding tables); every app built in one
        process (tests, CLI commands) shares one immutable copy as long as no file changed.
        """
        key = (str(directory.resolve()), _fingerprint(directory))
        with _cache_lock:
            cached = _cache.get(key)
        if cached is None:
            cached = cls._load(directory)
            with _cache_lock:
                if len(_cache) >= 4:
                    _cache.pop(next(iter(_cache)))
                _cache[key] = cached
        return cached

    @classmethod
    def _load(cls, directory: Path) -> Content:
        categories = Categories.from_file(directory / "categories.yaml")
        places = load_places(directory / "attractions.yaml", set(categories.items))
        intents = IntentMatcher.from_file(directory / "intents.yaml")
        money = MoneyParser.from_file(directory / "currencies.yaml")
        topics = Topics.from_dir(directory / "info")
        products = load_catalogue(directory / "products.yaml", {p.id for p in places}, set(categories.items))
        coupons = load_coupons(directory / "coupons.yaml", set(products.items))
        generic = GenericWords.from_file(directory / "generic_words.yaml", places)
        collections = load_collections(directory / "collections.yaml", set(places.items), set(products.items))
        meanings = load_meanings(directory / "meanings.yaml")
        vocabulary = [*intents.words(), *(w for t in topics.items.values() for w in t.words),
                      *(w for c in collections.items.values() for w in c.words),
                      *(w for c in categories.items.values() for w in c.words)]
        understander = Understander(intents, PlaceIndex(places, generic), categories, money, topics, products, coupons,
                                    collections, meanings, SoundFixer(vocabulary))
        for meaning in meanings.items:  # each question offered must be one the rules answer
            for lang, say in meaning.say.items():
                meant = understander.by_rules(say)
                if meant is None or (meant.intent == "place" and not meant.captures.get("place")):
                    raise SourceError(directory / "meanings.yaml", meaning.line,
                                      f"say.{lang} {say!r} is not understood by the rules: offer questions they answer")
        return cls(directory, places, categories, money, load_tax_rules(directory / "tax_refund.yaml"), topics,
                   products, coupons, collections, meanings, FollowupWords.from_file(directory / "followups.yaml"),
                   load_fares(directory / "routes.yaml"), understander, load_menu(directory / "menu.yaml"))
