"""Unanswered wordings made comparable and grouped: the threshold is set on these real-looking variants."""
from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from bot.insights.questions import SIMILAR, cluster, normalize, similarity_key


def test_the_stored_form_drops_case_width_punctuation_emoji_and_script_and_masks_numbers():
    assert normalize("景福宫门票多少钱？") == normalize("景福宮門票多少錢") == "景福宫门票多少钱"
    assert normalize("ＨＯＷ much is it?? 🙏") == "howmuchisit"
    assert normalize("2号线几点末班") == normalize("10号线 几点末班") == "#号线几点末班"
    assert normalize("电话 ###-####") == "电话#"  # digits come masked: a run of them is one "#"
    assert normalize("👍!!") == "" and len(normalize("问" * 300)) == 200


SAME = [
    ("景福宫门票多少钱", "景福宫门票多少钱？"),
    ("景福宫门票多少钱", "景福宫的门票多少钱啊"),
    ("景福宫门票多少钱", "请问景福宫门票多少钱呢"),
    ("景福宫门票多少钱", "景福宫门票多少"),
    ("景福宫门票多少钱", "景福宮門票多少錢"),
    ("How much is the Gyeongbokgung ticket?", "gyeongbokgung ticket how much"),
    ("can I rent a bike", "Can I rent a bike please?"),
    ("2号线几点末班", "10号线几点末班"),
]
APART = [
    ("景福宫门票多少钱", "明洞怎么去"),
    ("东大门怎么去", "南大门怎么去"),  # one character: another place
    ("东大门市场怎么去", "南大门市场怎么去"),
    ("乐天世界门票", "乐天塔门票"),
    ("can I bring my dog", "can I bring my cat"),
    ("where is the nearest pharmacy", "where can I buy medicine"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_wordings_of_one_question_are_alike(a, b):
    assert fuzz.ratio(similarity_key(a), similarity_key(b)) >= SIMILAR


@pytest.mark.parametrize(("a", "b"), APART)
def test_different_questions_are_not(a, b):
    assert fuzz.ratio(similarity_key(a), similarity_key(b)) < SIMILAR


def test_fillers_and_word_order_do_not_count_but_every_other_character_does():
    assert similarity_key("请问景福宫的门票多少钱啊？") == similarity_key("景福宫门票多少钱") == "景福宫门票多少钱"
    assert similarity_key("the ticket price please") == similarity_key("price ticket") == "price ticket"
    assert similarity_key("你好") == "你好"  # nothing but fillers: compared as written


def test_greedy_grouping_follows_the_most_frequent_wording():
    texts = ["景福宫门票多少钱", "明洞怎么去", "景福宫门票多少钱？", "景福宫的门票多少钱啊", "东大门怎么去", "南大门怎么去",
             "明洞怎么去呢"]
    assert cluster(texts) == [[0, 2, 3], [1, 6], [4], [5]]
    assert cluster([]) == []
