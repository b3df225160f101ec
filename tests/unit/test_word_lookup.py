"""Looked-up word lists (Substrings, WholeWords, WordList, IntentMatcher.contained) find what a scan finds."""
from __future__ import annotations

import random
import threading
import time

import pytest

from bot.conversation.intents import IntentMatcher, _Intent
from bot.infra import background as bg
from bot.infra.background import Background
from bot.infra.text import Substrings, WholeWords, WordList, normalize


def test_substrings_finds_every_key_inside_the_text_and_nothing_else() -> None:
    keys = Substrings(["景福宫", "宫", "明洞", "乐天世界", ""])
    assert keys.within("景福宫和明洞哪个近") == {"景福宫", "宫", "明洞"}
    assert keys.within("乐天") == set()
    assert keys.within("") == set()


def test_whole_words_match_whole_words_only() -> None:
    phrases = WholeWords(["day trip", "eat", "han river"])
    assert phrases.within(" any day trip to the han river ") == {"day trip", "han river"}
    assert phrases.within(" theater tonight ") == set()  # "eat" is inside "theater", not a word of it
    assert phrases.within(" trip day ") == set()


def _scan(entries: list[tuple[int, str, str, str]], text: str) -> tuple[str, str] | None:
    """What WordList.match returned before it had indexes: the first entry (longest first) found."""
    from bot.infra.text import spaced

    norm, words = normalize(text), spaced(text)
    for _, key, latin, owner in entries:
        if (latin in words) if latin else (key in norm):
            return owner, key
    return None


WORDS = [("明洞", "myeongdong"), ("明洞圣堂", "cathedral"), ("景福宫", "palace"), ("宫", "palaces"),
         ("day trip", "trips"), ("trip", "trip"), ("han river", "river"), ("river cruise", "cruise"),
         ("夜景", "night"), ("night view", "night"), ("tax free", "tax"), ("taxfree", "tax"),
         ("退税", "tax"), ("汉江", "river"), ("汉江公园", "park"), ("乐天世界", "lotte"), ("lotte world", "lotte")]


@pytest.mark.parametrize("text", [
    "明洞圣堂怎么去", "明洞和景福宫", "any day trips?", "a trip on the han river", "han river cruise tonight",
    "Tax-Free shopping", "taxfree", "汉江公园夜景", "river", "LOTTE WORLD tickets", "乐天世界 lotte world", "",
    "nothing here", "宫",
])
def test_a_long_word_list_answers_as_a_scan_of_it_does(text: str) -> None:
    words = WordList(WORDS)
    assert len(words._entries) > WordList.SCAN_UP_TO  # the indexed path
    assert words.match(text) == _scan(words._entries, text)


def test_long_and_short_word_lists_agree_on_random_texts() -> None:
    rng = random.Random(7)
    pieces = [w for w, _ in WORDS] + ["的", "怎么", "how", "to", " ", "s", "?", "trips"]
    words = WordList(WORDS)
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        assert words.match(text) == _scan(words._entries, text), text


def test_intents_contained_scores_each_intents_longest_word_in_the_intents_order() -> None:
    matcher = IntentMatcher([
        # `contains` holds normalized words; a latin one's whole-word forms are in `spaced`
        _Intent("money", False, frozenset(), ("exchangerate", "换钱", "汇率"), {"exchangerate": ("exchange rate",)}),
        _Intent("tax", False, frozenset(), ("退税",), {}),
        _Intent("fee", False, frozenset(), ("fee",), {"fee": ("fee",)}),
    ])
    found = matcher.contained("退税和换钱")
    assert list(found) == ["money", "tax"]
    assert found == {"money": round(2 / 5, 2), "tax": round(2 / 5, 2)}
    assert matcher.contained("coffee") == {}  # latin words are whole words
    assert matcher.contained("what is the fee") == {"fee": round(3 / 12, 2)}
    assert matcher.contained("Exchange-rate for tax 退税") == {"money": round(12 / 20, 2), "tax": round(2 / 20, 2)}


def test_batched_writes_arrive_together_and_drain_writes_them_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bg, "BATCH_SECONDS", 30)  # only drain() can write them within this test
    written: list[list[int]] = []
    done = threading.Event()

    def write(items: list[int]) -> None:
        written.append(items)
        done.set()

    background = Background()
    for n in range(5):
        assert background.add("numbers", write, n)
    assert written == []
    started = time.monotonic()
    assert background.drain(timeout=5)
    assert written == [[0, 1, 2, 3, 4]]
    assert time.monotonic() - started < 5


def test_batches_are_written_after_the_delay_and_cut_to_the_largest_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bg, "BATCH_SECONDS", 0.05)
    monkeypatch.setattr(bg, "BATCH_MAX", 2)
    written: list[list[int]] = []
    background = Background()
    for n in range(5):
        background.add("numbers", written.append, n)
    deadline = time.monotonic() + 5
    while sum(map(len, written)) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(map(tuple, written)) == [(0, 1), (2, 3), (4,)]


def test_a_failed_batch_is_logged_and_frees_its_place(caplog: pytest.LogCaptureFixture) -> None:
    def fail(items: list[int]) -> None:
        raise RuntimeError("database gone")

    background = Background(max_pending=3)
    for n in range(3):
        assert background.add("numbers", fail, n)
    assert not background.add("numbers", fail, 3)  # backed up: dropped, said so
    assert background.drain(timeout=5)
    assert "background write failed: numbers (3)" in caplog.text
    assert background.add("numbers", fail, 4)  # room again
    assert background.drain(timeout=5)
