"""Text folding shared by every matcher: what travelers type, made comparable."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Full-width → half-width, traditional → simplified, lower case; spacing kept."""
    return _T2S.convert(unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """`fold`, then keep only letters, digits and marks: "ＨＥＬＰ！🙏" and "help" look the same."""
    return "".join(ch for ch in fold(text) if unicodedata.category(ch)[0] in "LNM")
