"""Small talk and follow-ups after a place card: the pure parts (understanding, which place a follow-up is about)."""
from __future__ import annotations

import pytest

from bot.conversation.nlu import is_emoji_only
from handlers.attractions import follow_up
from handlers.nearby import anchor_place
from tests.unit.test_nlu import U


@pytest.mark.parametrize("text,intent", [
    ("谢谢", "thanks"), ("多谢！", "thanks"), ("Thank you!", "thanks"), ("thanks", "thanks"),
    ("再见", "goodbye"), ("拜拜~", "goodbye"), ("bye", "goodbye"),
    ("你是谁", "identity"), ("你是谁？", "identity"), ("Who are you?", "identity"),
    ("哈喽", "greeting"), ("hey there", "greeting"), ("晚上好", "greeting"),
    ("你好", "greeting"), ("hello", "greeting"), ("在吗", "greeting"), ("帮助", "help"),
    ("😀👍", "emoji"), ("🙏🙏🙏", "emoji"), ("❤️", "emoji"), ("👨‍👩‍👧 !", "emoji"),
    ("[微笑]", "emoji"), ("/::)", "emoji"), ("[Smile][Smile]", "emoji"), ("谢谢[抱拳]", "thanks"),  # WeChat's codes
    ("how much", "ask_price"), ("how much is it?", "ask_price"),
])
def test_small_talk_and_follow_up_intents(text, intent):
    got = U.understand(text)
    assert got is not None and got.intent == intent


@pytest.mark.parametrize("text", ["谢谢", "再见", "你是谁", "哈喽", "😀", "how much"])
def test_small_talk_is_never_global(text):
    got = U.understand(text)
    assert got is not None and not got.is_global


@pytest.mark.parametrize("text,intent", [
    ("你好，景福宫几点开门", "place"),  # a greeting inside a question is the question
    ("谢谢，门票多少钱", "place"),
    ("景福宫 👍", "place"),
    ("thanks, how do I get to gyeongbok palace", "place"),
])
def test_small_talk_words_inside_a_question(text, intent):
    got = U.understand(text)
    assert got is not None and got.intent == intent


@pytest.mark.parametrize("text,focus", [
    ("门票呢", "price"), ("多少钱", "price"), ("开到几点", "hours"), ("几点关门", "hours"),
    ("怎么去", "directions"), ("怎么走", "directions"), ("what time does it close", "hours"),
    ("how do I get there", "directions"),
])
def test_focus_without_a_place_is_a_place_intent_with_no_place(text, focus):
    got = U.understand(text)
    assert got is not None and got.intent == "place"
    assert got.captures.get("focus") == focus and "place" not in got.captures


@pytest.mark.parametrize("text,expected", [
    ("😀", True), ("👍👍!", True), ("❤️", True), ("  🙏 ", True),
    ("", False), ("？", False), ("!!!", False), ("好👍", False), ("ok 👍", False), ("123", False),
])
def test_is_emoji_only(text, expected):
    assert is_emoji_only(text) is expected


def test_follow_up_uses_the_named_place_else_the_last_one():
    assert follow_up("place", {"place": "n_seoul_tower", "focus": "hours"}, "gyeongbokgung") == ("n_seoul_tower", "hours")
    assert follow_up("place", {"focus": "price"}, "gyeongbokgung") == ("gyeongbokgung", "price")
    assert follow_up("ask_price", {}, "gyeongbokgung") == ("gyeongbokgung", "price")
    assert follow_up("place", {"focus": "hours"}, None) == (None, "hours")


LOC = {"lat": 37.56, "lng": 126.98, "label": "明洞"}


@pytest.mark.parametrize("captures,state,expected", [
    ({"place": "n_seoul_tower"}, {"last_place": "gyeongbokgung", "near": "place"}, "n_seoul_tower"),
    ({}, {"last_place": "gyeongbokgung", "near": "place", "loc": LOC}, "gyeongbokgung"),  # card after location
    ({}, {"last_place": "gyeongbokgung", "near": "loc", "loc": LOC}, None),  # location after card
    ({}, {"last_place": "gyeongbokgung"}, "gyeongbokgung"),  # no location at all
    ({}, {"last_place": "gyeongbokgung", "loc": LOC}, None),  # state from before "near": the location, as before
    ({}, {}, None),
])
def test_nearby_anchor(captures, state, expected):
    assert anchor_place(captures, state) == expected
