"""Which language a message is written in, and numbers masked in what staff see."""
from __future__ import annotations

import pytest

from bot.conversation.language import detect, is_pinyin
from bot.infra.text import mask_numbers


@pytest.mark.parametrize("text,lang", [
    ("how do I get to the airport", "en"), ("I lost my passport", "en"), ("exchange 100 dollars", "en"),
    ("Gyeongbok Palace opening hours", "en"), ("where is the nearest pharmacy?", "en"),
    ("景福宫几点开门", "zh-CN"), ("我想去 Myeongdong", "zh-CN"), ("景福宮開放時間", "zh-CN"),
    ("ZHANG WEI E12345678 1990-01-01", None), ("jingfugong", None), ("Myeongdong", None), ("hello", None),
    ("010-1234-5678", None), ("😀", None), ("", None), ("안녕하세요", None),
])
def test_detect(text, lang):
    assert detect(text) == lang


@pytest.mark.parametrize("text,lang", [
    ("noryangjin fish market", "en"), ("garosu-gil shops", "en"), ("hello", "en"), ("pharmacy", "en"),
    ("jingfugong zenme qu", None), ("mingdong zenme qu", None), ("Li Lei, EB1234567, China, 1990/12/31", None),
    ("gyeongbokgung", None), ("ok", "en"),
])
def test_detect_typed_pinyin_and_a_first_single_word(text, lang):
    """Pinyin is Chinese typed in latin letters; one English word tells only in a conversation's first message."""
    assert detect(text, first=True) == lang


def test_is_pinyin():
    assert is_pinyin("jingfugong") and is_pinyin("renminbi") and is_pinyin("zenme")
    assert not is_pinyin("myeongdong") and not is_pinyin("market") and not is_pinyin("hi")


@pytest.mark.parametrize("text,masked", [
    ("手机13812345678", "手机138****78"), ("010-1234-5678", "010****78"), ("护照 E12345678", "护照 E12****78"),
    ("2个人 12月5日 20:00", "2个人 12月5日 20:00"),
])
def test_mask_numbers(text, masked):
    assert mask_numbers(text) == masked
