"""Finding the places a text names: exact names and aliases, typed pinyin, homophone typos, small typos.

A city or a generic word is no place: "首尔哪里好玩" is not N Seoul Tower (`content/generic_words.yaml`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.infra import yamlfile
from bot.infra.text import fold, normalize
from bot.travel.places import Places

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_RUN = re.compile(r"[a-z0-9][a-z0-9 '&.-]*[a-z0-9]|[a-z0-9]")
# Edit distance is for names of at least 3 characters, compared with a whole piece of the text of at
# least 3 (a name of 4 or more may also sit inside a longer piece), one edit per 4 characters (at least 1).
_FUZZY_MIN = 3
_FUZZY_INSIDE_MIN = 4


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class GenericWords:
    """Words that name no single place (`content/generic_words.yaml`): areas such as 首尔 or 韩国 and generic
    words such as 市中心 are never taken for a place; they and the fillers ("怎么走", "的") split a sentence
    into the pieces where a mistyped name is looked for."""

    names: frozenset[str] = frozenset()  # areas + generic words, normalized (latin ones compact)
    fillers: frozenset[str] = frozenset()

    SECTIONS = ("areas", "generic", "fillers")

    @classmethod
    def from_file(cls, path: Path, places: Places | None = None) -> GenericWords:
        """Load and check the file; with `places`, a word that is also a place's name or alias is an error."""
        doc = yamlfile.load(path)
        data = doc.data if isinstance(doc.data, dict) else None
        if data is None:
            raise doc.error("", f"expected the mappings {', '.join(cls.SECTIONS)} of word lists")
        unknown = sorted(set(map(str, data)) - set(cls.SECTIONS))
        if unknown:
            raise doc.error(unknown[0], f"unknown section; expected {', '.join(cls.SECTIONS)}")
        owners: dict[str, str] = {}
        for place in places or ():
            for term in filter(None, [*place.name.values(), *place.aliases]):
                owners.setdefault(normalize(term), place.id)
        sections: dict[str, set[str]] = {}
        for section in cls.SECTIONS:
            words = data.get(section) or []
            if not isinstance(words, list):
                raise doc.error(section, "expected a list of words")
            found = sections.setdefault(section, set())
            for i, word in enumerate(words):
                if not isinstance(word, str) or not normalize(word):
                    raise doc.error(f"{section}.{i}", "expected a word (letters or characters)")
                key = normalize(word)
                if key in owners:
                    raise doc.error(f"{section}.{i}", f"{word!r} is a name of the place {owners[key]} "
                                                      "(content/attractions.yaml): it cannot also name no place")
                found.add(key if _CJK.search(key) else _compact(word))
        return cls(frozenset(sections["areas"] | sections["generic"]), frozenset(sections["fillers"]))


@dataclass(frozen=True)
class PlaceMatch:
    place_id: str
    score: float
    how: str  # exact | pinyin | fuzzy
    term: str


class PlaceIndex:
    """Every way of naming each place, in the forms the matchers compare."""

    def __init__(self, places: Places, generic: GenericWords | None = None) -> None:
        self.generic = generic or GenericWords()
        self.cjk: dict[str, str] = {}  # folded CJK term -> place id
        self.latin: dict[str, str] = {}  # compact latin term -> place id
        self.syllables: dict[tuple[str, ...], str] = {}  # pinyin of CJK terms -> place id
        self.categories_of = {place.id: place.categories for place in places}
        heads: dict[str, set[str]] = {}
        for place in places:
            terms = [place.name["zh-CN"], place.name["en"], place.name.get("ko", ""), *place.aliases]
            for term in filter(None, terms):
                folded = normalize(term)
                if _CJK.search(folded):
                    self.cjk.setdefault(folded, place.id)
                    syllables = tuple(lazy_pinyin(folded))
                    if len(syllables) >= 2:
                        self.syllables.setdefault(syllables, place.id)
                        self.latin.setdefault("".join(syllables), place.id)  # typed pinyin
                elif len(_compact(term)) >= 3:
                    self.latin.setdefault(_compact(term), place.id)
                    if " " in term.strip():
                        heads.setdefault(_compact(term.split()[0]), set()).add(place.id)
        # "Gyeongbokgung Palace" is also typed "gyeongbokgung", but a head word shared by several
        # places ("Myeongdong Cathedral", "Myeongdong Street Food") names none of them.
        for head, owners in heads.items():
            if len(head) >= 6 and len(owners) == 1:
                self.latin.setdefault(head, next(iter(owners)))
        self._cjk_terms = sorted(self.cjk, key=len, reverse=True)
        self._latin_terms = sorted(self.latin, key=len, reverse=True)
        self._fuzzy = [(term, len(term), max(1, len(term) // 4)) for term in self._cjk_terms if len(term) >= _FUZZY_MIN]
        # What splits a text into the pieces a typo is looked for in: anything not CJK, and the words that
        # name no place. Longest first, so "怎么走" goes whole.
        splitters = sorted((w for w in self.generic.names | self.generic.fillers if _CJK.search(w)),
                           key=len, reverse=True)
        self._splitter = re.compile("|".join([*map(re.escape, splitters), r"[^\u3400-\u9fff]+"]))

    @staticmethod
    def _near(piece: str, term: str, n: int, budget: int) -> bool:
        """`term` mistyped as the whole `piece`, or, for a longer name, inside it."""
        if abs(len(piece) - n) <= budget and Levenshtein.distance(piece, term, score_cutoff=budget) <= budget:
            return True
        if n < _FUZZY_INSIDE_MIN or len(piece) <= n:
            return False
        return any(Levenshtein.distance(piece[i:i + n], term, score_cutoff=budget) <= budget
                   for i in range(len(piece) - n + 1))

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in `text`, best first; exact names beat pinyin beats fuzzy."""
        norm = normalize(text)
        found: dict[str, PlaceMatch] = {}

        def add(match: PlaceMatch) -> None:
            if match.place_id not in found or found[match.place_id].score < match.score:
                found[match.place_id] = match

        rest = norm
        for term in self._cjk_terms:
            if len(term) >= 2 and term in rest:
                add(PlaceMatch(self.cjk[term], 1.0, "exact", term))
                rest = rest.replace(term, "|")  # "明洞" inside a longer match is not a second place
        words = [_compact(w) for w in re.findall(r"[a-z0-9]+", " ".join(_LATIN_RUN.findall(fold(text))))]
        words = [w for w in words if w]
        latin = "".join(words)
        # A latin term must start and end on word boundaries: "lida" is not in "holiday".
        starts, ends, pos = set(), set(), 0
        for word in words:
            starts.add(pos)
            pos += len(word)
            ends.add(pos)
        claimed = [False] * len(latin)
        for term in self._latin_terms:
            if len(term) < 4 and term != latin:
                continue
            start = latin.find(term)
            while start >= 0:
                end = start + len(term)
                if start in starts and end in ends and not any(claimed[start:end]):
                    add(PlaceMatch(self.latin[term], 1.0, "exact", term))
                    claimed[start:end] = [True] * len(term)
                start = latin.find(term, start + 1)
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        cjk_only = "".join(ch if _CJK.match(ch) else " " for ch in norm)
        syllables = tuple(lazy_pinyin(cjk_only.replace(" ", ""))) if cjk_only.strip() else ()
        chars = cjk_only.replace(" ", "")
        by_char = len(chars) == len(syllables)  # one syllable per character (almost always)
        for sounds, place_id in self.syllables.items():
            n = len(sounds)
            if any(syllables[i:i + n] == sounds and not (by_char and chars[i:i + n] in self.generic.names)
                   for i in range(len(syllables) - n + 1)):
                add(PlaceMatch(place_id, 0.9, "pinyin", "".join(sounds)))
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        pieces = [p for p in self._splitter.split(norm) if len(p) >= _FUZZY_MIN]
        for term, n, budget in self._fuzzy:
            if any(self._near(piece, term, n, budget) for piece in pieces):
                add(PlaceMatch(self.cjk[term], 0.75, "fuzzy", term))
        # Typos in latin names: compare whole words (and runs of up to three words) with whole terms,
        # so a typed head word ("myeongdong") does not fuzzily pick one of several longer names.
        runs = {"".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        for run in sorted(r for r in runs if len(r) >= 5 and r not in self.generic.names):
            best = process.extractOne(run, self._latin_terms, scorer=fuzz.ratio, score_cutoff=85)
            if best and len(best[0]) >= 5:
                add(PlaceMatch(self.latin[best[0]], round(best[1] / 100 * 0.85, 2), "fuzzy", best[0]))
        return sorted(found.values(), key=lambda m: -m.score)
