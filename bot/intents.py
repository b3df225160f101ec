"""Text intents from `content/intents.yaml`: normalised keyword matching with a score.

The travelers' core issue grows this into fuzzy matching and entity extraction; the interface
(`match(text) -> IntentMatch | None`) stays.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlfile

_PUNCT = re.compile(r"[\s\u3000!！?？。，,、.~～…·:：;；\"'“”‘’()（）\[\]【】]+")


def normalize(text: str) -> str:
    """Fold full-width forms, case and punctuation, so "ＨＥＬＰ！" and "help" look the same."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


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


class IntentMatcher:
    def __init__(self, intents: list[_Intent]) -> None:
        self._intents = intents
        self.names = [i.name for i in intents]

    @classmethod
    def from_file(cls, path: Path) -> "IntentMatcher":
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
            intents.append(_Intent(str(name), bool(spec.get("global", False)),
                                   frozenset(lists["exact"]), tuple(lists["contains"])))
        return cls(intents)

    def match(self, text: str) -> IntentMatch | None:
        norm = normalize(text)
        if not norm:
            return None
        for intent in self._intents:
            if norm in intent.exact:
                return IntentMatch(intent.name, 1.0, intent.is_global)
        best: IntentMatch | None = None
        for intent in self._intents:
            for word in intent.contains:
                if word in norm:
                    score = round(len(word) / len(norm), 2)
                    if best is None or score > best.score:
                        # A long sentence that merely mentions "帮助" is not a global command.
                        best = IntentMatch(intent.name, score, intent.is_global and score >= 0.5)
        return best
