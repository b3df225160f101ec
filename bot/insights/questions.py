"""Unanswered questions made comparable: one stored form per wording (`normalize`), and wordings of one question
grouped together (`cluster`) so that a content editor sees "景福宫门票多少钱" once with its variants.

Grouping is deliberately simple and explainable: each wording is reduced to a key (its words without filler
particles and English stop words, in sorted order), and a wording joins the group of the most frequent wording
whose key is at least `SIMILAR` alike (rapidfuzz's ratio: 100 minus the share of characters inserted or
deleted). Fillers are dropped before comparing because an inserted "的" or "啊" changes nothing, while one
character more or less in a short sentence can name another place ("东大门" / "南大门"): without them, both
differences cost the same. tests/unit/test_insights_questions.py holds the wordings the threshold was set on.
"""
from __future__ import annotations

import unicodedata
from typing import Sequence

from rapidfuzz import fuzz, process

from bot.infra.text import fold

# Percent: "景福宫门票多少钱" / "景福宫门票多少" (93) together; "东大门市场怎么去" / "南大门市场怎么去" (87.5) apart.
SIMILAR = 90
MAX_NORM = 200  # characters (the column's size)
MAX_CLUSTERED = 3000  # wordings grouped per report, most frequent first; the rarer rest stand alone

# Words that say nothing about what was asked. Chinese: particles and courtesies, longest first.
_CJK_FILLERS = ("请问一下", "请问", "麻烦", "你好", "您好", "谢谢", "一下",
                "的", "啊", "呢", "吗", "吧", "呀", "哦", "嘛", "了", "哈", "啦", "请")
_LATIN_STOP = frozenset({"a", "an", "the", "is", "are", "am", "do", "does", "did", "please", "i", "me", "my", "you",
                         "your", "we", "can", "could", "would", "will", "to", "of", "for", "in", "on", "at", "hi",
                         "hello", "hey", "thanks", "thank", "pls", "plz"})


def normalize(text: str) -> str:
    """The stored form of a wording: NFKC, traditional → simplified, lower case, only letters, digits and marks
    (no spaces, punctuation or emoji), every run of digits (already masked as "#") one "#"."""
    out: list[str] = []
    for ch in fold(text):
        if ch.isdigit() or ch == "#":
            if not out or out[-1] != "#":
                out.append("#")
        elif unicodedata.category(ch)[0] in "LMN":
            out.append(ch)
    return "".join(out)[:MAX_NORM]


def similarity_key(text: str) -> str:
    """What two wordings are compared by: latin words (stop words out) and runs of other letters (fillers out),
    sorted, so word order and "的/啊/please" do not matter."""
    tokens: list[str] = []
    word: list[str] = []
    latin = False

    def close() -> None:
        if not word:
            return
        token = "".join(word)
        if latin:
            if token not in _LATIN_STOP:
                tokens.append(token)
        else:
            for filler in _CJK_FILLERS:
                token = token.replace(filler, "")
            if token:
                tokens.append(token)
        word.clear()

    for ch in fold(text):
        if ch.isdigit() or ch == "#":  # a number (masked) is part of the word it is in: "#号线", "line#"
            if word and word[-1] == "#":
                continue
            ch = "#"
        elif unicodedata.category(ch)[0] not in "LMN":
            close()
            continue
        is_latin = latin if ch == "#" else ch.isascii()
        if word and is_latin != latin:
            close()
        latin = is_latin
        word.append(ch)
    close()
    return " ".join(sorted(tokens)) or normalize(text)


def cluster(texts: Sequence[str], threshold: float = SIMILAR) -> list[list[int]]:
    """Greedy grouping of wordings given most frequent first: each joins the group whose first (most frequent)
    wording is the most alike at `threshold` or more, else starts a group. Indexes into `texts`, groups in the
    order they were started, members in the order given."""
    leaders: list[str] = []
    groups: list[list[int]] = []
    for n, text in enumerate(texts):
        key = similarity_key(text)
        best = None
        if n < MAX_CLUSTERED and leaders:
            best = process.extractOne(key, leaders, scorer=fuzz.ratio, score_cutoff=threshold)
        if best is None:
            leaders.append(key)
            groups.append([n])
        else:
            groups[best[2]].append(n)
    return groups
