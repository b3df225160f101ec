"""Keyword intents from `content/intents.yaml`, matched on folded text with a score."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.infra import yamlfile
from bot.infra.text import Substrings, WholeWords, normalize, spaced


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    score: float
    is_global: bool
    captures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Intent:
    name: str
    is_global: bool
    exact: frozenset[str]
    contains: tuple[str, ...]
    spaced: dict[str, tuple[str, ...]]  # latin `contains` words as whole words: "taxfree" -> ("tax free", "taxfree")


class IntentMatcher:
    def __init__(self, intents: list[_Intent], particles: tuple[str, ...] = ()) -> None:
        self._intents = intents
        self.names = [i.name for i in intents]
        self._particles = particles
        # Every `contains` word -> the intents that have it, with its length (the score): looked up, not scanned.
        self._by_word: dict[str, list[tuple[str, int]]] = {}
        self._by_phrase: dict[str, list[tuple[str, int]]] = {}
        for intent in intents:
            for word in intent.contains:
                if word.isascii():  # latin words match whole words only: "fee" is not in "coffee"
                    for form in intent.spaced[word]:
                        self._by_phrase.setdefault(form, []).append((intent.name, len(word)))
                else:
                    self._by_word.setdefault(word, []).append((intent.name, len(word)))
        self._words = Substrings(self._by_word)
        self._phrases = WholeWords(self._by_phrase)

    @classmethod
    def from_file(cls, path: Path) -> IntentMatcher:
        doc = yamlfile.load(path)
        data = doc.data or {}
        if not isinstance(data, dict) or not isinstance(data.get("intents"), dict):
            raise doc.error("intents", "expected a mapping 'intents:' of intent name -> settings")
        intents = []
        for name, spec in data["intents"].items():
            where = f"intents.{name}"
            if not isinstance(spec, dict):
                raise doc.error(where, "expected a mapping with 'exact' and/or 'contains' lists")
            lists = {}
            for kind in ("exact", "contains"):
                words = spec.get(kind) or []
                if not isinstance(words, list) or not all(isinstance(w, (str, int)) for w in words):
                    raise doc.error(f"{where}.{kind}", "expected a list of words")
                lists[kind] = [normalize(str(w)) for w in words]
                if "" in lists[kind]:
                    raise doc.error(f"{where}.{kind}", "a word is empty once punctuation is removed")
            if not lists["exact"] and not lists["contains"]:
                raise doc.error(where, "needs at least one word in 'exact' or 'contains'")
            forms: dict[str, tuple[str, ...]] = {}
            for w in spec.get("contains") or []:  # "tax free" and "taxfree" are one word, written two ways
                if normalize(str(w)).isascii():
                    key = normalize(str(w))
                    forms[key] = (*forms.get(key, ()), spaced(str(w)).strip())
            intents.append(_Intent(str(name), bool(spec.get("global", False)),
                                   frozenset(lists["exact"]),
                                   tuple(sorted(lists["contains"], key=len, reverse=True)), forms))
        particles = data.get("particles") or []
        if not isinstance(particles, list) or not all(isinstance(p, str) and normalize(p) for p in particles):
            raise doc.error("particles", "expected a list of sentence-final particles (呀, 啦 ...)")
        return cls(intents, tuple(normalize(p) for p in particles))

    def exact(self, text: str) -> IntentMatch | None:
        """The intent whose `exact` word is the whole text, with or without sentence-final particles."""
        norm = normalize(text)
        bare = norm
        while len(bare) > 1 and bare[-1] in self._particles:  # "再见啦" -> "再见"
            bare = bare[:-1]
        for intent in self._intents:
            if norm in intent.exact or bare in intent.exact:
                return IntentMatch(intent.name, 1.0, intent.is_global)
        return None

    def contained(self, text: str) -> dict[str, float]:
        """Every intent with a word inside the text, scored by how much of the text the word covers."""
        norm = normalize(text)
        if not norm:
            return {}
        longest: dict[str, int] = {}  # intent -> its longest word in the text
        hits = [self._by_word[w] for w in self._words.within(norm)]
        if self._by_phrase:
            hits += [self._by_phrase[p] for p in self._phrases.within(spaced(text))]
        for owners in hits:
            for name, size in owners:
                longest[name] = max(size, longest.get(name, 0))
        # In the intents' own order: of two equally covering intents, the first listed wins (`best_of`).
        return {name: round(longest[name] / len(norm), 2) for name in self.names if name in longest}

    def words(self) -> list[str]:
        """Every word of every intent (normalized), for the homophone fixer."""
        return [w for i in self._intents for w in (*i.exact, *i.contains)]

    def is_global(self, name: str) -> bool:
        return any(i.is_global for i in self._intents if i.name == name)

    def match(self, text: str) -> IntentMatch | None:
        """The exact intent, else the best-covering contained one."""
        exact = self.exact(text)
        if exact:
            return exact
        return self.best_of(self.contained(text))

    def best_of(self, found: dict[str, float]) -> IntentMatch | None:
        """The best-covering of the intents `contained` found (no exact word matched)."""
        if not found:
            return None
        name = max(found, key=found.__getitem__)
        # A long sentence that merely mentions "帮助" is not a global command.
        return IntentMatch(name, found[name], self.is_global(name) and found[name] >= 0.5)
