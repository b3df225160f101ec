"""Messages read against the conversation: routes between two places, picks inside questions, another amount
or currency after a conversion, a number after "你是想问…？" (no app, no servers)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.conversation.followups import FollowupWords, remember_money, resolve
from bot.conversation.nlu import find_pick
from bot.infra.yamlfile import SourceError
from bot.travel.collections import load_collections
from bot.travel.money import MoneyQuery
from bot.travel.routes import load_fares, way
from tests.unit.test_nlu import PLACES, U

CONTENT = Path(__file__).resolve().parents[2] / "content"
WORDS = FollowupWords.from_file(CONTENT / "followups.yaml")


@pytest.mark.parametrize("text,origin,destination", [
    ("从明洞到景福宫怎么走", "myeongdong_shopping", "gyeongbokgung"),
    ("明洞去景福宫", "myeongdong_shopping", "gyeongbokgung"),
    ("我在景福宫，想去南山塔", "gyeongbokgung", "n_seoul_tower"),
    ("how to get to gyeongbok palace from namsan tower", "n_seoul_tower", "gyeongbokgung"),
    ("namsan tower to gyeongbok palace", "n_seoul_tower", "gyeongbokgung"),
])
def test_a_way_from_one_place_to_another(text, origin, destination):
    got = U.understand(text)
    assert got is not None and got.intent == "route"
    assert (got.captures["origin"], got.captures["destination"]) == (origin, destination)


@pytest.mark.parametrize("text", ["明洞和景福宫哪个好玩", "景福宫附近的明洞天主教堂", "明洞景福宫南山塔一日游怎么安排"])
def test_two_places_without_from_and_to_are_no_route(text):
    got = U.understand(text)
    assert got is None or got.intent != "route"


@pytest.mark.parametrize("text,number", [
    ("第二个怎么去", 2), ("第3个几点开门", 3), ("第一家", 1), ("the second one", 2), ("number 4 please", 4),
    ("第二天去哪", None), ("我们第一次来", None), ("2个人", None),
])
def test_a_pick_inside_a_question(text, number):
    assert find_pick(text) == number


def test_a_pick_keeps_what_is_asked_of_it():
    got = U.understand("第二个怎么去")
    assert got is not None and got.intent == "pick" and got.captures == {"number": 2, "focus": "directions"}


def _after(query: MoneyQuery) -> dict:
    state: dict = {}
    remember_money(state, query)
    return state


@pytest.mark.parametrize("text,amount,source,targets", [
    ("那500呢", "500", "USD", ("KRW",)), ("500", "500", "USD", ("KRW",)), ("what about 50?", "50", "USD", ("KRW",)),
    ("人民币呢", "100", "USD", ("CNY",)), ("in yuan?", "100", "USD", ("CNY",)), ("那日元呢", "100", "USD", ("JPY",)),
])
def test_another_amount_or_currency_after_a_conversion(text, amount, source, targets):
    state = _after(MoneyQuery("convert", Decimal(100), "USD", ("KRW",)))
    got = resolve(U.understand(text), text, state, U, WORDS)
    assert got is not None and got.intent == "money"
    query = got.captures["query"]
    assert (query.amount, query.source, query.targets) == (Decimal(amount), source, targets)


@pytest.mark.parametrize("text", ["美元汇率", "景福宫几点开门", "2个人", "美元呢"])
def test_other_questions_after_a_conversion_stay_themselves(text):
    state = _after(MoneyQuery("convert", Decimal(100), "USD", ("KRW",)))  # "美元呢": the same currency, nothing new
    before = U.understand(text)
    assert resolve(before, text, state, U, WORDS) == before


def test_without_a_conversion_a_bare_number_is_no_money():
    assert resolve(U.understand("500"), "500", {}, U, WORDS) == U.understand("500")


def test_routes_are_estimated_from_the_fares_file():
    fares = load_fares(CONTENT / "routes.yaml")
    near = way(PLACES.get("myeongdong_shopping"), PLACES.get("myeongdong_cathedral"), fares)
    assert near.metres < 1 and near.walk_minutes == 0 and near.taxi_krw == fares.base_krw
    assert near.map_url.startswith("https://map.kakao.com/link/from/") and "/to/" in near.map_url
    assert fares.taxi_krw(10_000) > fares.taxi_krw(2_000) > fares.base_krw


def test_collections_must_name_known_places(tmp_path):
    path = tmp_path / "collections.yaml"
    path.write_text("collections:\n  temples:\n    title: {zh-CN: 寺庙, en: Temples}\n    words: [寺庙]\n"
                    "    places: [nowhere]\n", encoding="utf-8")
    with pytest.raises(SourceError, match="unknown id 'nowhere'"):
        load_collections(path, {"jogyesa"}, set())
    assert load_collections(tmp_path / "missing.yaml", set(), set()).items == {}


def test_latin_words_match_whole_words_or_their_plural():
    from bot.infra.text import WordList
    words = WordList([("sim", "sim"), ("night", "night"), ("day trip", "trips"), ("eat", "eat"), ("医院", "health")])
    assert words.match("simiao") is None and words.match("what should I eat tonight") == ("eat", "eat")
    assert words.match("day trips from Seoul") == ("trips", "daytrip") and words.match("去医院")[0] == "health"
    assert words.match("theater tonight") is None


def test_words_of_a_card_found_together_name_it():
    from bot.travel.info import Topics
    topics = Topics.from_dir(CONTENT / "info")
    assert topics.find("等一下，我护照好像丢了怎么办") == "emergency"
    assert topics.find("11月还有红叶吗") == "seasons"
    assert topics.find("护照在哪办") != "emergency"  # one word of the group is not the group


def test_homophones_of_long_known_words_are_fixed_and_short_ones_left_alone():
    from bot.conversation.homophones import SoundFixer

    fixer = SoundFixer(["汉江公园", "怎么去", "取消预订"])
    assert fixer.fix("韩江公园有哪些") == "汉江公园有哪些"
    assert fixer.fix("怎么取消预订") == "怎么取消预订"  # "怎么取" sounds like 怎么去: three characters are too few
    assert fixer.fix("hello 韩江公园") == "hello 汉江公园"
