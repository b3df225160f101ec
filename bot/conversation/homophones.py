"""Homophone typos in the words the bot knows ("韩江公园" typed for 汉江公园).

Pinyin input makes a traveler pick a wrong character of the right sound. Places have their own sound
matching (place_names.py); this fixes the other words the rules look for (intents, cards, lists,
categories): a run of characters that sounds exactly like a known word of at least four characters, but
is not written like it, is rewritten to that word before the rules read the text. Shorter words are
left alone: too many real words share their sounds.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from bot.infra.text import pinyin

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
MIN_CHARS = 4


class SoundFixer:
    def __init__(self, words: Iterable[str]) -> None:
        self._by_sound: dict[tuple[str, ...], str] = {}
        ambiguous: set[tuple[str, ...]] = set()
        for word in words:
            if len(word) < MIN_CHARS or not _CJK_RUN.fullmatch(word):
                continue
            sound = tuple(pinyin(word))
            if self._by_sound.get(sound, word) != word:
                ambiguous.add(sound)  # two words sound alike: which one was meant is unknown
            self._by_sound.setdefault(sound, word)
        for sound in ambiguous:
            del self._by_sound[sound]
        self._known = set(self._by_sound.values())
        self._lengths = sorted({len(s) for s in self._by_sound}, reverse=True)

    def fix(self, text: str) -> str:
        """`text` with each homophone of a known word (longest first) written as that word."""
        if not self._by_sound:
            return text

        def run(m: re.Match[str]) -> str:
            chars = m.group()
            sounds = pinyin(chars)
            out, i = [], 0
            while i < len(chars):
                for n in self._lengths:
                    word = self._by_sound.get(tuple(sounds[i:i + n])) if i + n <= len(chars) else None
                    if word is not None:
                        out.append(word)
                        i += n
                        break
                else:
                    out.append(chars[i])
                    i += 1
            return "".join(out)

        return _CJK_RUN.sub(run, text)
