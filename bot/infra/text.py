"""Text folding shared by every matcher: what travelers type, made comparable."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Full-width → half-width, traditional → simplified, lower case; spacing kept."""
    return _T2S.convert(unicodedata.normalize("NFKC", text)).lower()


_DIGIT = re.compile(r"\d")
_LONG_NUMBER = re.compile(r"[A-Za-z]?\d[\d -]{4,}\d")


def mask_digits(text: str) -> str:
    """For log lines: every digit hidden ("电话 010-1234-5678" -> "电话 ###-####-####")."""
    return _DIGIT.sub("#", text)


def mask_numbers(text: str) -> str:
    """Phone and passport numbers shortened to their ends ("138****5678"): for text kept for staff."""
    def mask(match: re.Match[str]) -> str:
        digits = match.group(0).replace(" ", "").replace("-", "")
        return digits[:3] + "****" + digits[-2:]
    return _LONG_NUMBER.sub(mask, text)


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """`fold`, then keep only letters, digits and marks: "ＨＥＬＰ！🙏" and "help" look the same."""
    return "".join(ch for ch in fold(text) if unicodedata.category(ch)[0] in "LNM")
