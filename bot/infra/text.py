"""Text folding shared by every matcher: what travelers type, made comparable."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

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


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask_contacts(text: str) -> str:
    """What could reach a person hidden: every digit (phones, passports, order numbers) and e-mail addresses
    ("我的邮箱 zhang.wei@qq.com 电话 13812345678" -> "我的邮箱 ***@*** 电话 ###########"); for texts kept for
    counting, where nobody needs the number back."""
    return mask_digits(_EMAIL.sub("***@***", text))


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


class Substrings:
    """Which of many keys occur inside a text. One set lookup per (start, length of some key) instead of one
    scan of the text per key: the cost grows with the text, not with the number of keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = frozenset(k for k in keys if k)
        self._sizes = sorted({len(k) for k in self._keys}, reverse=True)

    def within(self, text: str) -> set[str]:
        keys, n, found = self._keys, len(text), set()
        for size in self._sizes:
            for start in range(n - size + 1):
                if (piece := text[start:start + size]) in keys:
                    found.add(piece)
        return found


class WholeWords:
    """Which of many latin phrases occur in a text as whole words ("day trip" in "any day trips?" only via its
    plural form, "eat" never in "theater"). Phrases and texts are `spaced` forms: " word word "."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = frozenset(" ".join(p.split()) for p in phrases if p.strip())
        self._longest = max((p.count(" ") + 1 for p in self._phrases), default=0)

    def within(self, words: str) -> set[str]:
        tokens, found = words.split(), set()
        for start in range(len(tokens)):
            for end in range(start + 1, min(start + self._longest, len(tokens)) + 1):
                if (phrase := " ".join(tokens[start:end])) in self._phrases:
                    found.add(phrase)
        return found


class WordList:
    """Words to find in a text, longest first: Chinese ones anywhere (after `normalize`), latin ones as whole
    words or their plural ("sim" is not in "simiao", "night" not in "tonight", "eat" not in "theater")."""

    SCAN_UP_TO = 12  # entries: a short list is scanned, a longer one looked up through indexes

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
        self._latin = any(e[2] for e in self._entries)
        self._scan = len(self._entries) <= self.SCAN_UP_TO
        if self._scan:  # many lists are a word or two (cards' word groups): no indexes to build at start-up
            return
        # Where each key or latin form first appears in the (longest first) order.
        self._first: dict[str, int] = {}
        for n, (_, key, latin, _) in enumerate(self._entries):
            self._first.setdefault(latin.strip() if latin else key, n)
        self._keys = Substrings(e[1] for e in self._entries if not e[2])
        self._phrases = WholeWords(e[2] for e in self._entries if e[2])

    def match(self, text: str) -> tuple[str, str] | None:
        """(owner, matched word normalized) of the longest word found; among equally long ones, the first."""
        norm = normalize(text)
        words = spaced(text) if self._latin else ""
        if self._scan:
            for _, key, latin, owner in self._entries:
                if (latin in words) if latin else (key in norm):
                    return owner, key
            return None
        hits = [self._first[k] for k in self._keys.within(norm)]
        if words:
            hits += [self._first[p] for p in self._phrases.within(words)]
        if not hits:
            return None
        _, key, _, owner = self._entries[min(hits)]
        return owner, key


@lru_cache(maxsize=4096)
def pinyin(text: str) -> tuple[str, ...]:
    """The toneless pinyin of each character (pypinyin), cached: several matchers ask for the same text."""
    return tuple(lazy_pinyin(text))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: str) -> str:
    """`cell`, with a leading ' when a spreadsheet would read it as a formula (OWASP's CSV injection advice):
    a contact name typed in the chat as "=HYPERLINK(...)" or "-2+3" stays text."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
