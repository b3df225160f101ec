"""Finding the places a text names: exact names and aliases, typed pinyin, homophone typos, small typos.

A city or a generic word is no place: "首尔哪里好玩" is not N Seoul Tower (`content/generic_words.yaml`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.infra import yamlfile
from bot.infra.text import fold, normalize, pinyin
from bot.travel.places import Places

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_RUN = re.compile(r"[a-z0-9][a-z0-9 '&.-]*[a-z0-9]|[a-z0-9]")
# Edit distance is for names of at least 3 characters, compared with a whole piece of the text of at
# least 3 (a name of 4 or more may also sit inside a longer piece), one edit per 4 characters (at least 1).
_FUZZY_MIN = 3
_FUZZY_INSIDE_MIN = 4
# Typos in latin names: whole runs of words of at least 5 letters, rapidfuzz's ratio of at least 85.
_RUN_MIN = 5
_RATIO_CUTOFF = 85

# How `find` stays fast with thousands of places: it never scans every name. Each matcher looks up only
# the names the text can match (by the characters, syllables or letter pairs they must share with it),
# then applies its rule to those, in the order a scan of every name would: what it finds is the same.


def _bigrams(text: str) -> list[str]:
    return [text[i:i + 2] for i in range(len(text) - 1)]


def _bitset(members: Iterable[int], size: int) -> int:
    """The members (numbers below `size`) as the bits of an int."""
    flags = bytearray((size + 7) // 8)
    for i in members:
        flags[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(flags, "little")


class _CjkTypos:
    """Which CJK names (3 characters or more) a piece of text may be a typo of, within their edit budget.

    A name of 3 is one edit from a piece of 3 only if all but one position agree (keyed with that position
    blanked), and from a piece of 4 only if the piece less one character is the name. A longer name of n
    within `budget` edits keeps at least (n - 1) - 2 * budget of its character pairs (an edit breaks two at
    most), so the piece (or a window of it) holds one of the name's (2 * budget + 1) rarest pairs.
    """

    def __init__(self, names: list[tuple[str, int, int]]) -> None:  # (name, length, budget)
        self.whole: dict[str, list[int]] = {}
        self.blanked: dict[tuple[int, str], list[int]] = {}
        self.by_pair: dict[str, list[int]] = {}
        frequency: dict[str, int] = {}
        for name, _, _ in names:
            for pair in _bigrams(name):
                frequency[pair] = frequency.get(pair, 0) + 1
        for i, (name, n, budget) in enumerate(names):
            if n == 3:
                self.whole.setdefault(name, []).append(i)
                for at in range(3):
                    self.blanked.setdefault((at, name[:at] + name[at + 1:]), []).append(i)
            else:
                rarest = sorted(_bigrams(name), key=lambda pair: (frequency[pair], pair))[:2 * budget + 1]
                for pair in set(rarest):
                    self.by_pair.setdefault(pair, []).append(i)

    def candidates(self, pieces: list[str]) -> list[int]:
        """Positions (in the names' order) of every name some piece may be a typo of."""
        near: set[int] = set()
        for piece in pieces:
            for pair in _bigrams(piece):
                near.update(self.by_pair.get(pair, ()))
            if len(piece) == 3:
                for at in range(3):
                    near.update(self.blanked.get((at, piece[:at] + piece[at + 1:]), ()))
            elif len(piece) == 4:
                for at in range(4):
                    near.update(self.whole.get(piece[:at] + piece[at + 1:], ()))
        return sorted(near)


def _pairs_kept(run: int, term: int) -> int | None:
    """How many of a latin term's letter pairs a run scoring >= 85 against it holds at least (None: no run of
    that length scores 85).

    ratio = 100 * (1 - d / (run + term)), d the letters left out of either (insertions and deletions), so
    the two share at least `common` letters in order. Of the term's (term - 1) pairs, each of its letters
    left out breaks two at most, and each letter of the run slipped between two kept ones one at most.
    """
    total = run + term
    budget = int(total * (100 - _RATIO_CUTOFF) / 100 + 1e-6)  # the largest d with ratio >= 85
    if abs(run - term) > budget:
        return None
    common = (total - budget + 1) // 2
    return (term - 1) - 2 * (term - common) - (run - common)


class _LatinTypos:
    """Which latin terms a run of words may be a typo of: every term that scores 85 or more against it, and a
    few more (rapidfuzz scores only these), in the terms' order.

    Kept: the terms of a length that can reach 85 that hold enough of the run's letter pairs (`_pairs_kept`;
    a pair counts as often as the term holds it, up to twice, and a term holding one three times or more
    needs that much less). The terms are bits of Python ints: each pair of the run adds one to bit-sliced
    counters for every term holding it, then all counts are compared with what each term needs at once.
    """

    def __init__(self, terms: list[str]) -> None:
        self.terms = terms
        size = len(terms)
        lengths: dict[int, tuple[int, int]] = {}  # length -> (first, end) in `terms` (longest first)
        beyond_twice: dict[tuple[int, int], list[int]] = {}  # (length, pairs held beyond twice) -> terms
        holders: dict[str, tuple[list[int], list[int]]] = {}  # pair -> (terms holding it, ... twice or more)
        for i, term in enumerate(terms):
            first, _ = lengths.get(len(term), (i, i))
            lengths[len(term)] = (first, i + 1)
            times: dict[str, int] = {}
            for pair in _bigrams(term):
                times[pair] = times.get(pair, 0) + 1
            for pair, count in times.items():
                once, twice = holders.setdefault(pair, ([], []))
                once.append(i)
                if count >= 2:
                    twice.append(i)
            extra = sum(max(0, count - 2) for count in times.values())
            beyond_twice.setdefault((len(term), extra), []).append(i)
        self.pairs = {pair: [_bitset(level, size) for level in levels if level] for pair, levels in holders.items()}
        # For each run length: the slice of `terms` that can reach 85 (first, width), the terms of that slice
        # (bits) that need no pair, and what the others need less one, bit-sliced like the counters.
        self.plans: dict[int, tuple[int, int, int, list[int]]] = {}
        for run in range(_RUN_MIN, 2 * max(lengths, default=0) + 1):
            fitting = {n: need for n in lengths if (need := _pairs_kept(run, n)) is not None}
            if not fitting:
                continue
            low = min(lengths[n][0] for n in fitting)
            width = max(lengths[n][1] for n in fitting) - low
            free: list[int] = []
            limits: list[list[int]] = []  # limits[k]: the terms whose need less one has bit k set
            for (n, extra), members in beyond_twice.items():
                if n not in fitting:
                    continue
                limit = fitting[n] - extra - 1
                if limit < 0:
                    free.extend(i - low for i in members)
                    continue
                while len(limits) < limit.bit_length():
                    limits.append([])
                for k in range(limit.bit_length()):
                    if (limit >> k) & 1:
                        limits[k].extend(i - low for i in members)
            self.plans[run] = (low, width, _bitset(free, width), [_bitset(bits, width) for bits in limits])

    def candidates(self, run: str) -> list[str]:
        """The terms `run` may be a typo of (a superset of those scoring >= 85), in `terms` order."""
        plan = self.plans.get(len(run))
        if plan is None:
            return []
        low, width, free, limits = plan
        every = (1 << width) - 1
        counts: list[int] = []  # bit i of counts[k]: bit k of the count of term (low + i)
        for pair in set(_bigrams(run)):
            for holding in self.pairs.get(pair, ()):
                carry = (holding >> low) & every
                for k in range(len(counts)):
                    if not carry:
                        break
                    counts[k], carry = counts[k] ^ carry, counts[k] & carry
                if carry:
                    counts.append(carry)
        above, equal = 0, every  # count > limit, from the highest bit down, for every term at once
        for k in range(max(len(counts), len(limits)) - 1, -1, -1):
            count = counts[k] if k < len(counts) else 0
            limit = limits[k] if k < len(limits) else 0
            above |= equal & count & ~limit
            equal &= ~(count ^ limit)
            if not equal:
                break
        bits = bin(above | free)[:1:-1]  # bit i at position i
        terms, found, i = self.terms, [], bits.find("1")
        while i >= 0:
            found.append(terms[low + i])
            i = bits.find("1", i + 1)
        return found


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
    """Every way of naming each place, in the forms the matchers compare, and where `find` looks them up
    (well under a millisecond with thousands of places: bench/understanding_speed.py)."""

    def __init__(self, places: Places, generic: GenericWords | None = None) -> None:
        self.generic = generic or GenericWords()
        self._terms_of: dict[str, list[str]] | None = None
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
                    syllables = tuple(pinyin(folded))
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
        # Where `find` looks up what a text may name; the ranks keep the lists' order among what is found.
        self._cjk_rank = {term: i for i, term in enumerate(self._cjk_terms)}
        self._cjk_by_start: dict[str, list[str]] = {}  # first two characters -> terms
        for term in self._cjk_terms:
            if len(term) >= 2:
                self._cjk_by_start.setdefault(term[:2], []).append(term)
        self._latin_rank = {term: i for i, term in enumerate(self._latin_terms)}
        self._latin_longest = max(map(len, self._latin_terms), default=0)
        self._sounds_rank = {sounds: i for i, sounds in enumerate(self.syllables)}
        self._sounds_by_start: dict[tuple[str, ...], list[tuple[str, ...]]] = {}  # first two syllables -> pinyin
        for sounds in self.syllables:
            self._sounds_by_start.setdefault(sounds[:2], []).append(sounds)
        self._cjk_typos = _CjkTypos(self._fuzzy)
        self._latin_typos = _LatinTypos(self._latin_terms)

    @staticmethod
    def _near(piece: str, term: str, n: int, budget: int) -> bool:
        """`term` mistyped as the whole `piece`, or, for a longer name, inside it."""
        if abs(len(piece) - n) <= budget and Levenshtein.distance(piece, term, score_cutoff=budget) <= budget:
            return True
        if n < _FUZZY_INSIDE_MIN or len(piece) <= n:
            return False
        return any(Levenshtein.distance(piece[i:i + n], term, score_cutoff=budget) <= budget
                   for i in range(len(piece) - n + 1))

    def terms_of(self, place_id: str) -> list[str]:
        """Every name of a place as the matchers compare them (folded CJK, compact latin)."""
        if self._terms_of is None:
            owners: dict[str, list[str]] = {}
            for table in (self.cjk, self.latin):
                for term, owner in table.items():
                    owners.setdefault(owner, []).append(term)
            self._terms_of = owners
        return self._terms_of.get(place_id, [])

    def find(self, text: str) -> list[PlaceMatch]:
        """Places named in `text`, best first; exact names beat pinyin beats fuzzy."""
        norm = normalize(text)
        found: dict[str, PlaceMatch] = {}

        def add(match: PlaceMatch) -> None:
            if match.place_id not in found or found[match.place_id].score < match.score:
                found[match.place_id] = match

        rest = norm
        inside = {term for i in range(len(norm) - 1) for term in self._cjk_by_start.get(norm[i:i + 2], ())
                  if norm.startswith(term, i)}
        for term in sorted(inside, key=self._cjk_rank.__getitem__):  # longest first
            if term in rest:
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
        longest = self._latin_longest
        named = {latin[start:end] for start in starts for end in ends if start < end <= start + longest}
        for term in sorted(named & self.latin.keys(), key=self._latin_rank.__getitem__):
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
        syllables = tuple(pinyin(cjk_only.replace(" ", ""))) if cjk_only.strip() else ()
        chars = cjk_only.replace(" ", "")
        by_char = len(chars) == len(syllables)  # one syllable per character (almost always)
        heard = {sounds for i in range(len(syllables) - 1)
                 for sounds in self._sounds_by_start.get(syllables[i:i + 2], ())
                 if syllables[i:i + len(sounds)] == sounds}
        for sounds in sorted(heard, key=self._sounds_rank.__getitem__):
            place_id, n = self.syllables[sounds], len(sounds)
            if any(syllables[i:i + n] == sounds and not (by_char and chars[i:i + n] in self.generic.names)
                   for i in range(len(syllables) - n + 1)):
                add(PlaceMatch(place_id, 0.9, "pinyin", "".join(sounds)))
        if found:
            return sorted(found.values(), key=lambda m: -m.score)

        pieces = [p for p in self._splitter.split(norm) if len(p) >= _FUZZY_MIN]
        for term, n, budget in (self._fuzzy[i] for i in self._cjk_typos.candidates(pieces)):
            if any(self._near(piece, term, n, budget) for piece in pieces):
                add(PlaceMatch(self.cjk[term], 0.75, "fuzzy", term))
        # Typos in latin names: compare whole words (and runs of up to three words) with whole terms,
        # so a typed head word ("myeongdong") does not fuzzily pick one of several longer names.
        runs = {"".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        for run in sorted(r for r in runs if len(r) >= _RUN_MIN and r not in self.generic.names):
            best = process.extractOne(run, self._latin_typos.candidates(run), scorer=fuzz.ratio,
                                      score_cutoff=_RATIO_CUTOFF)
            if best and len(best[0]) >= 5:
                add(PlaceMatch(self.latin[best[0]], round(best[1] / 100 * 0.85, 2), "fuzzy", best[0]))
        return sorted(found.values(), key=lambda m: -m.score)
