"""Understanding travelers' text, on a small synthetic set of places (independent of shipped content)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.intents import IntentMatcher
from bot.conversation.nlu import Categories, Understander, parse_pick
from bot.conversation.place_names import GenericWords, PlaceIndex
from bot.infra.yamlfile import SourceError
from bot.travel.info import Topics
from bot.travel.money import MoneyParser
from bot.travel.places import Hours, Place, Places
from bot.travel.products import Catalogue

CONTENT = Path(__file__).resolve().parents[2] / "content"


def make(pid: str, zh: str, en: str, aliases: tuple[str, ...] = (), category: str = "shopping") -> Place:
    t = {"zh-CN": "x", "en": "x"}
    return Place(pid, (category,), {"zh-CN": zh, "en": en}, aliases, t, 37.5, 127.0, t, t, Hours(), t, None, t, {},
                 t, t, "src")


PLACES = Places({p.id: p for p in [
    make("gyeongbokgung", "景福宫", "Gyeongbokgung Palace", ("景福宮", "gyeongbok palace"), "palace_history"),
    make("n_seoul_tower", "N首尔塔", "N Seoul Tower", ("南山塔", "首尔塔", "namsan tower"), "nightlife_view"),
    make("myeongdong_shopping", "明洞", "Myeongdong Shopping Street", ("明洞商圈",)),
    make("myeongdong_cathedral", "明洞天主教堂", "Myeongdong Cathedral", (), "museum_culture"),
    make("ewha", "梨花女子大学", "Ewha Womans University", ("梨大",), "museum_culture"),
]}, checked="2026-11-25")
GENERIC = GenericWords.from_file(CONTENT / "generic_words.yaml", PLACES)
U = Understander(IntentMatcher.from_file(CONTENT / "intents.yaml"), PlaceIndex(PLACES, GENERIC),
                 Categories.from_file(CONTENT / "categories.yaml"), MoneyParser.from_file(CONTENT / "currencies.yaml"),
                 Topics.from_dir(CONTENT / "info"), Catalogue({}, checked="", file=""))


@pytest.mark.parametrize("text,place,how", [
    ("景福宫几点开门", "gyeongbokgung", "exact"),
    ("景福宮在哪裡", "gyeongbokgung", "exact"),  # traditional characters
    ("经福宫", "gyeongbokgung", "pinyin"),  # homophone typo from a pinyin keyboard
    ("景福公怎么去", "gyeongbokgung", "pinyin"),
    ("jingfugong", "gyeongbokgung", "exact"),  # typed pinyin
    ("Gyeongbokgung", "gyeongbokgung", "exact"),
    ("GYEONGBOK PALACE", "gyeongbokgung", "exact"),
    ("gyeongbukgung", "gyeongbokgung", "fuzzy"),  # romanization typo
    ("南山塔夜景🌃", "n_seoul_tower", "exact"),
    ("ｎａｍｓａｎ ｔｏｗｅｒ", "n_seoul_tower", "exact"),  # full-width
    ("去明洞天主教堂", "myeongdong_cathedral", "exact"),  # the longer name wins over 明洞
    ("mingdong", "myeongdong_shopping", "exact"),  # typed pinyin of 明洞
    ("lida", "ewha", "exact"),  # typed pinyin of 梨大
    ("梨大", "ewha", "exact"),
    ("首尔塔", "n_seoul_tower", "exact"),  # a name that holds a city's name is still the place
    ("N首尔塔几点关门", "n_seoul_tower", "exact"),
    ("景福官", "gyeongbokgung", "fuzzy"),  # a typo that is no homophone: the whole message
    ("景福官怎么走", "gyeongbokgung", "fuzzy"),  # ... or a whole piece between question words
    ("梨花女子大字在哪", "ewha", "fuzzy"),  # a long name mistyped inside a sentence
])
def test_places_are_found(text, place, how):
    found = U.places.find(text)
    assert found and found[0].place_id == place and found[0].how == how


@pytest.mark.parametrize("text", ["happy holiday", "myeongdong", "我想去首都", "today",
                                  # a city is one edit away from 首尔塔: never the tower
                                  "首尔", "首尔哪里好玩", "首尔的夜景", "首尔天气", "首尔冷吗", "首尔站", "韩国首尔",
                                  "seoul", "Seoul Korea", "景福", "我想去景福官看看樱花呀"])
def test_no_false_places(text):
    # "lida" (pinyin of 梨大) must not match inside "holiday"; "myeongdong" alone is shared by two
    # English names' head word, so it names neither of them (the Chinese 明洞 still works).
    assert [m.place_id for m in U.places.find(text)] == []


def test_without_generic_words_a_city_would_be_the_tower():
    # What the generic words prevent: "首尔冷" is one edit from 首尔塔, and as long as it is the whole message.
    assert [m.place_id for m in PlaceIndex(PLACES).find("首尔冷")] == ["n_seoul_tower"]
    assert U.places.find("首尔冷") == []


def test_generic_words_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "generic_words.yaml"
    path.write_text("areas: [首尔, 韩国]\ngeneric: [市中心]\nfillers: [的,\n  南山塔]\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"generic_words.yaml, line 4: fillers.1: '南山塔' is a name of the place "
                                          r"n_seoul_tower"):
        GenericWords.from_file(path, PLACES)
    path.write_text("areas: [首尔]\ncities: [釜山]\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"line 2: cities: unknown section"):
        GenericWords.from_file(path, PLACES)
    path.write_text("areas: [首尔, '!!']\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"line 1: areas.1: expected a word"):
        GenericWords.from_file(path, PLACES)
    path.write_text("areas: 首尔\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"line 1: areas: expected a list"):
        GenericWords.from_file(path, PLACES)


@pytest.mark.parametrize("text,intent,captures", [
    ("首尔哪里好玩", "browse", {}),  # the city asks for ideas, not for the tower
    ("首尔的夜景", "browse", {"category": "nightlife_view"}),
    ("帮助", "help", {}),
    ("取消", "cancel", {}),
    ("English", "language", {}),
    ("第三个", "pick", {"number": 3}),
    ("景福宫几点开门", "place", {"place": "gyeongbokgung", "focus": "hours"}),
    ("南山塔门票多少钱", "place", {"place": "n_seoul_tower", "focus": "price"}),
    ("几点关门", "place", {"focus": "hours"}),
    ("明洞附近吃什么", "nearby", {"place": "myeongdong_shopping", "category": "food"}),
    ("明洞 美食", "nearby", {"place": "myeongdong_shopping", "category": "food"}),
    ("附近的夜景", "nearby", {"category": "nightlife_view"}),
    ("推荐韩流景点", "browse", {"category": "hallyu"}),
    ("有什么好玩的", "browse", {}),
    ("还有吗", "more", {}),
    ("100人民币换多少韩币", "money", {}),
    ("买了30万韩元能退多少税", "tax_refund", {}),
    ("去韩国要签证吗", "info", {"topic": "visa"}),
])
def test_intents_compose(text, intent, captures):
    u = U.understand(text)
    assert u is not None and u.intent == intent
    for key, value in captures.items():
        assert u.captures.get(key) == value


def test_unknown_text_is_not_forced_into_an_intent():
    assert U.understand("明年会涨价吗") is None


@pytest.mark.parametrize("text,number", [("1", 1), ("２", 2), ("第二个", 2), ("#3", 3), ("第10个", 10), ("十", 10),
                                         ("3号", 3), ("abc", None), ("100人民币", None), ("0", None)])
def test_parse_pick(text, number):
    assert parse_pick(text) == number


@pytest.mark.parametrize("text,intent,expected", [
    ("entrance fee", "price", True),
    ("coffee", "price", False),  # "fee" inside another word
    ("echo:ofeeb246c88d", "price", False),  # an id that happens to hold "fee"
    ("coffee near me", "nearby", True),
    ("nearest", "nearby", False),
    ("Gyeongbok Palace opening hours", "hours", True),
    ("我想订DMZ", "book", True),
])
def test_latin_intent_words_match_whole_words_only(text, intent, expected):
    assert (intent in U.intents.contained(text)) is expected
