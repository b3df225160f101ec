"""The closest things the bot can answer, for a text its rules did not understand.

`content/meanings.yaml` lists questions the bot answers ("怎么去机场") with paraphrases travelers use.
A text is compared with every paraphrase by the characters and words they share (CJK character pairs and
single characters, latin words), each weighted by how rare it is across all paraphrases (IDF), as a
cosine. A very close text is answered as that question; otherwise the two or three closest are offered
("你是想问…？"). Deterministic, explainable (the log names the paraphrase) and fast: an inverted index
touches only paraphrases sharing a feature with the text.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.conversation.language import pinyin_syllables
from bot.infra import yamlfile
from bot.infra.text import fold, normalize, pinyin

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about what is asked (their features would only add noise).
_STOP = frozenset({"a", "an", "the", "i", "me", "my", "we", "is", "are", "am", "do", "does", "can", "could", "to",
                   "of", "in", "on", "at", "for", "it", "this", "that", "you", "your", "please", "pls", "be", "any",
                   "some", "with"})
SURE = 0.75  # at least this close: answered as that question without asking
OFFER = 0.3  # at least this close: offered as "你是想问…？"
HINT = 0.15  # at least this close: offered when nothing reaches OFFER (before the defaults)
OFFERED = 3  # questions offered at most


def _sound_pairs(syllables: Sequence[str]) -> set[str]:
    return {f"~{a}{b}" for a, b in zip(syllables, syllables[1:])}


def features(text: str) -> set[str]:
    """CJK characters and character pairs, latin words (a plural's "s" dropped), and the pinyin of each pair
    of syllables: typed pinyin ("zenme dache") and homophone typos ("打不到车" typed "大不到车") meet the
    Chinese paraphrase by sound."""
    norm = normalize(text)
    found: set[str] = set()
    for run in _CJK_RUN.findall(norm):
        found.update(run)
        found.update(run[i:i + 2] for i in range(len(run) - 1))
        found |= _sound_pairs(pinyin(run))
    words = _WORD.findall(fold(text))
    typed = [pinyin_syllables(w) for w in words if w.isalpha()]
    if words and len(typed) == len(words) and all(typed):  # all pinyin: its sounds, not English words
        found |= _sound_pairs([syllable for w in typed for syllable in w or ()])
        return found
    for word in words:
        if word not in _STOP and len(word) > 1:
            found.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return found


@dataclass(frozen=True)
class Meaning:
    id: int
    say: dict[str, str]  # the question as the bot's rules understand it, and as it is offered
    line: int | None
    offer: bool = True  # False: answered when surely meant, never offered ("你好", "谢谢")
    default: bool = False  # offered when nothing at all is close ("asdf", "。。。")


@dataclass(frozen=True)
class Closest:
    meaning: Meaning
    score: float
    example: str


class Meanings:
    def __init__(self, meanings: list[Meaning], examples: list[tuple[int, str]]) -> None:
        self.items = meanings
        self._examples = examples  # (meaning index, text)
        vectors = [features(text) for _, text in examples]
        df: dict[str, int] = defaultdict(int)
        for vector in vectors:
            for f in vector:
                df[f] += 1
        n = max(1, len(vectors))
        self._idf = {f: math.log(1 + n / c) for f, c in df.items()}
        self._norm = [math.sqrt(sum(self._idf[f] ** 2 for f in v)) or 1.0 for v in vectors]
        # Typed pinyin has only sounds: it is measured against each paraphrase's sounds alone.
        self._sound_norm = [math.sqrt(sum(self._idf[f] ** 2 for f in v if f[0] == "~")) or 1.0 for v in vectors]
        self._index: dict[str, list[int]] = defaultdict(list)
        for i, vector in enumerate(vectors):
            for f in vector:
                self._index[f].append(i)

    def offers(self, text: str, closest: list[Closest] | None = None) -> list[int]:
        """The questions to offer for `text` (`closest`: already computed, at least OFFERED + 2 of them): the
        close ones, else the nearest few, topped up with the defaults, so a traveler always gets numbered
        choices instead of a generic list."""
        closest = [c for c in (closest if closest is not None else self.closest(text, OFFERED + 2)) if c.meaning.offer]
        ids = [c.meaning.id for c in closest if c.score >= OFFER][:OFFERED]
        if not ids:
            ids = [c.meaning.id for c in closest if c.score >= HINT][:OFFERED - 1]
        ids += [m.id for m in self.items if m.default and m.id not in ids]
        return ids[:OFFERED]

    def closest(self, text: str, n: int = 3) -> list[Closest]:
        """Up to `n` different meanings, closest first, each with its best paraphrase's score."""
        mine = [f for f in features(text) if f in self._idf]
        if not mine:
            return []
        norms = self._sound_norm if all(f[0] == "~" for f in features(text)) else self._norm
        # Features the paraphrases never use still count in the text's length: "帮我写作业" is far from all.
        unknown = len(features(text)) - len(mine)
        norm = math.sqrt(sum(self._idf[f] ** 2 for f in mine) + unknown * max(self._idf.values()) ** 2)
        dots: dict[int, float] = defaultdict(float)
        for f in mine:
            weight = self._idf[f] ** 2
            for i in self._index[f]:
                dots[i] += weight
        best: dict[int, Closest] = {}
        for i, dot in dots.items():
            meaning_index, example = self._examples[i]
            score = round(dot / (norm * norms[i]), 3)
            if meaning_index not in best or best[meaning_index].score < score:
                best[meaning_index] = Closest(self.items[meaning_index], score, example)
        return sorted(best.values(), key=lambda c: (-c.score, c.meaning.id))[:n]


def load_meanings(path: Path) -> Meanings:
    """Load and check `content/meanings.yaml` (a missing file is no meanings)."""
    if not path.exists():
        return Meanings([], [])
    doc = yamlfile.load(path)
    data = doc.data.get("meanings") if isinstance(doc.data, dict) else None
    if not isinstance(data, list):
        raise doc.error("meanings", "expected a list 'meanings:' of {say, examples}")
    meanings: list[Meaning] = []
    examples: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(data):
        where = f"meanings.{i}"
        if not isinstance(spec, dict):
            raise doc.error(where, "expected {say, examples}")
        say = doc.texts(spec.get("say"), f"{where}.say")  # the question as the bot understands it
        texts = spec.get("examples")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and features(t) for t in texts):
            raise doc.error(f"{where}.examples", "expected a non-empty list of paraphrases with words in them")
        for k, text in enumerate(texts):
            key = normalize(text)
            if key in seen and seen[key] != i:
                raise doc.error(f"{where}.examples.{k}", f"{text!r} is already a paraphrase of meanings.{seen[key]}")
            seen[key] = i
            examples.append((i, text))
        meanings.append(Meaning(i, say, doc.line(where),
                                bool(spec.get("offer", True)), bool(spec.get("default", False))))
    return Meanings(meanings, examples)
