"""The closest questions for a text the rules did not understand (bot/conversation/meanings.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.meanings import OFFER, SURE, Meaning, Meanings, features, load_meanings
from bot.infra.yamlfile import SourceError

CONTENT = Path(__file__).resolve().parents[2] / "content"


def small() -> Meanings:
    meanings = [Meaning(0, {"zh-CN": "去机场怎么走", "en": "airport"}, 1), Meaning(1, {"zh-CN": "打车", "en": "taxi"}, 2),
                Meaning(2, {"zh-CN": "插头", "en": "plug"}, 3)]
    examples = [(0, "怎么去机场"), (0, "how to get to the airport"), (1, "怎么打车"), (1, "打不到车"), (1, "taxi app"),
                (2, "要带转换头吗"), (2, "do i need an adapter")]
    return Meanings(meanings, examples)


def test_features_are_characters_pairs_and_words():
    assert {"机", "场", "机场"} <= features("去机场") and "airport" in features("The airport!")
    assert "adapter" in features("adapters") and "the" not in features("the airport")


def test_a_paraphrase_is_sure_and_a_near_one_is_offered():
    m = small()
    assert m.closest("怎么去机场")[0].meaning.id == 0 and m.closest("怎么去机场")[0].score >= SURE
    near = m.closest("去机场坐什么车")
    assert near[0].meaning.id == 0 and OFFER <= near[0].score < SURE
    assert m.closest("how do I get to the airport")[0].meaning.id == 0


def test_typed_pinyin_meets_the_chinese_paraphrase_by_sound():
    assert small().closest("zenme dache")[0].meaning.id == 1 and small().closest("zenme dache")[0].score >= SURE
    assert small().closest("大不到车")[0].meaning.id == 1  # a homophone typo


def test_unrelated_text_is_far_from_everything():
    m = small()
    assert all(c.score < OFFER for c in m.closest("帮我写作业"))
    assert m.closest("asdfgh") == [] and m.closest("。。。") == []


def test_closest_gives_each_meaning_once_best_first():
    found = small().closest("怎么打车去机场")
    assert len({c.meaning.id for c in found}) == len(found) and found == sorted(found, key=lambda c: -c.score)


def test_every_shipped_offer_is_a_question_the_rules_answer():
    """Content.load checks it (start-up fails otherwise); this names the file in a test too."""
    from bot.conversation.content import Content
    content = Content.load(CONTENT)
    for meaning in content.meanings.items:
        for say in meaning.say.values():
            assert content.understander.by_rules(say) is not None, say


@pytest.mark.parametrize("body,message", [
    ("meanings: {}\n", "expected a list"),
    ("meanings:\n  - say: {zh-CN: 打车}\n    examples: [怎么打车]\n", "say"),
    ("meanings:\n  - say: {zh-CN: 打车, en: taxi}\n    examples: []\n", "examples"),
    ("meanings:\n  - say: {zh-CN: 打车, en: taxi}\n    examples: [怎么打车]\n"
     "  - say: {zh-CN: 插头, en: plug}\n    examples: [怎么打车]\n", "already a paraphrase"),
])
def test_mistakes_in_the_file_name_the_line(tmp_path, body, message):
    path = tmp_path / "meanings.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(SourceError, match=message) as caught:
        load_meanings(path)
    assert caught.value.line is not None
