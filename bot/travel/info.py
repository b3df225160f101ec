"""Practical-info cards (visa, emergency, exchange, payments, transit, SIM) from `content/info/*.yaml`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.infra import yamlfile
from bot.infra.text import WordList, normalize

Text = dict[str, str]


@dataclass(frozen=True)
class Section:
    heading: Text
    body: Text
    source: str
    date: str


@dataclass(frozen=True)
class Topic:
    id: str
    checked: str
    words: tuple[str, ...]  # normalized
    title: Text
    summary: Text
    sections: tuple[Section, ...]
    yields_to_places: bool = False  # "坐地铁去景福宫" asks the way to the place, not about the subway
    unless: tuple[str, ...] = ()  # ... unless one of these is in the text too ("仁川机场到明洞": the airport bus)
    before_complaints: bool = False  # "被偷了", "taxi driver overcharged me": this card, unless "投诉" is said
    raw_words: tuple[str, ...] = ()  # as written ("sim card"): latin words match whole words
    together: tuple[tuple[str, ...], ...] = ()  # words naming the card when all are in a message ("护照" + "丢")

    def t(self, field: str, lang: str) -> str:
        value: Text = getattr(self, field)
        return value.get(lang) or value["zh-CN"]


def load_topic(path: Path) -> Topic:
    doc = yamlfile.load(path)
    d = doc.data
    if not isinstance(d, dict):
        raise doc.error("", "expected a mapping")
    if d.get("id") != path.stem:
        raise doc.error("id", f"id must be the file name ({path.stem!r})")
    words = d.get("words")
    if not isinstance(words, list) or not words:
        raise doc.error("words", "expected the words travelers type for this card")
    sections = []
    for i, s in enumerate(d.get("sections") or []):
        p = f"sections.{i}"
        if not isinstance(s, dict) or not s.get("source"):
            raise doc.error(p, "each section needs heading, body and source")
        sections.append(Section(doc.texts(s.get("heading"), f"{p}.heading"), doc.texts(s.get("body"), f"{p}.body"),
                                str(s["source"]), str(s.get("date") or "undated")))
    if not sections:
        raise doc.error("sections", "expected at least one section")
    return Topic(path.stem, str(d.get("checked") or ""), tuple(normalize(str(w)) for w in words),
                 doc.texts(d.get("title"), "title"), doc.texts(d.get("summary"), "summary"), tuple(sections),
                 bool(d.get("yields_to_places", False)), tuple(normalize(str(w)) for w in d.get("unless") or ()),
                 bool(d.get("before_complaints", False)), tuple(str(w) for w in words), _together(doc, d))


def _together(doc: yamlfile.Located, d: dict) -> tuple[tuple[str, ...], ...]:
    groups = d.get("together") or []
    if not isinstance(groups, list) or not all(isinstance(g, list) and len(g) >= 2 and all(
            isinstance(w, str) and normalize(w) for w in g) for g in groups):
        raise doc.error("together", "expected a list of word groups, e.g. [[护照, 丢], [passport, lost]]")
    return tuple(tuple(str(w) for w in g) for g in groups)


class Topics:
    def __init__(self, topics: list[Topic]) -> None:
        self.items = {t.id: t for t in topics}
        self._words = WordList([(w, t.id) for t in topics for w in t.raw_words])
        self._together = [(tuple(WordList([(w, t.id)]) for w in group), "+".join(map(normalize, group)), t.id)
                          for t in topics for group in t.together]

    @classmethod
    def from_dir(cls, directory: Path) -> Topics:
        return cls([load_topic(p) for p in sorted(directory.glob("*.yaml"))])

    def find(self, text: str) -> str | None:
        found = self.match(text)
        return found[0] if found else None

    def match(self, text: str) -> tuple[str, str] | None:
        """(topic, the word that named it): the longest word of any card found in the text (latin: whole words),
        or a group of its words found together when that is longer ("我护照好像丢了": 护照 + 丢)."""
        found = self._words.match(text)
        for lists, key, topic in self._together:
            if (found is None or len(key) - 1 > len(found[1])) and all(w.match(text) for w in lists):
                found = (topic, key)
        return found
