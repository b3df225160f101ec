"""The language a traveler writes in, read from each message (a choice made with 语言 / English wins).

Deliberately simple and explainable: Chinese characters mean Chinese; two or more Latin words with no
Chinese mean English; anything else (a number, an emoji, a single name like "Myeongdong", Korean)
says nothing, and the conversation keeps the language it had.
"""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Words that only an English sentence has: a name in Latin letters ("ZHANG WEI E12345678", "Myeongdong")
# or pinyin ("jingfugong") is not English, "how do I get to Myeongdong" is.
_ENGLISH_WORDS = """
a an the to of in on at for from with and or but not no yes is are was were be been am do does did
can could would will should may i i'm me my mine you your we our us they them it it's this that
these those there here how what what's where where's when which who why whose please thanks thank
thx hi hello hey bye sorry ok okay much many any some more most near nearby around get go going want
need have has had lost find help tell know like open opening close closing hours time price cost
ticket tickets book booking buy eat food drink today tomorrow tonight now way best good cheap far
long take walk bus subway taxi station airport hotel change exchange money rate refund weather rain
cold hot
"""
_ENGLISH = frozenset(_ENGLISH_WORDS.split())


def detect(text: str) -> str | None:
    """"zh-CN", "en", or None when the text does not tell."""
    if not text:
        return None
    if _CJK.search(text):
        return "zh-CN"
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if len(words) >= 2 and any(w in _ENGLISH for w in words):
        return "en"
    return None
