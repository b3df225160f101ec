"""Text folding shared by every matcher: what travelers type, made comparable."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc
from pypinyin import lazy_pinyin

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


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def spaced(text: str) -> str:
    """`fold`, with every run of non-letters as one space and a space at both ends: for whole-word matching."""
    return f" {_NOT_ALNUM.sub(' ', fold(text)).strip()} "


class WordList:
    """Words to find in a text, longest first: Chinese ones anywhere (after `normalize`), latin ones as whole
    words or their plural ("sim" is not in "simiao", "night" not in "tonight", "eat" not in "theater")."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        """`pairs`: (word as written, owner)."""
        entries = []
        for word, owner in pairs:
            key = normalize(word)
            if not key:
                continue
            if key.isascii():  # whole words, and their plural too ("day trip" finds "day trips")
                form = _NOT_ALNUM.sub(" ", fold(word)).strip()
                entries.append((len(key), key, f" {form} ", owner))
                if not form.endswith("s"):
                    entries.append((len(key), key, f" {form}s ", owner))
            else:
                entries.append((len(key), key, "", owner))
        self._entries = sorted(entries, key=lambda e: -e[0])

    def match(self, text: str) -> tuple[str, str] | None:
        """(owner, matched word normalized) of the longest word found."""
        norm = normalize(text)
        words = spaced(text) if any(e[2] for e in self._entries) else ""
        for _, key, latin, owner in self._entries:
            if (latin in words) if latin else (key in norm):
                return owner, key
        return None


@lru_cache(maxsize=4096)
def pinyin(text: str) -> tuple[str, ...]:
    """The toneless pinyin of each character (pypinyin), cached: several matchers ask for the same text."""
    return tuple(lazy_pinyin(text))
