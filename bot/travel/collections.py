"""Lists of places of one kind (temples, Han River parks, duty-free shops, places for children, day
trips) from `content/collections.yaml`: what "首尔有什么寺庙" or "带孩子去哪玩" is answered with."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.infra import yamlfile
from bot.infra.text import WordList, normalize

Text = dict[str, str]


@dataclass(frozen=True)
class Collection:
    id: str
    title: Text
    intro: Text
    words: tuple[str, ...]
    places: tuple[str, ...]
    products: tuple[str, ...]


class Collections:
    def __init__(self, items: list[Collection], raw: list[tuple[str, str]] | None = None) -> None:
        self.items = {c.id: c for c in items}
        self._words = WordList(raw if raw is not None else [(w, c.id) for c in items for w in c.words])

    def find(self, text: str) -> str | None:
        """The collection a text asks for (its longest word found in the text; latin words whole)."""
        found = self._words.match(text)
        return found[0] if found else None


def load_collections(path: Path, place_ids: set[str], product_ids: set[str]) -> Collections:
    """Load and check the file (a missing file is no collections); every id must exist in content."""
    if not path.exists():
        return Collections([])
    doc = yamlfile.load(path)
    data = doc.data.get("collections") if isinstance(doc.data, dict) else None
    if not isinstance(data, dict):
        raise doc.error("collections", "expected a mapping 'collections:' of id -> title, words, places")
    items: list[Collection] = []
    raw: list[tuple[str, str]] = []
    owners: dict[str, str] = {}
    for cid, spec in data.items():
        where = f"collections.{cid}"
        if not isinstance(spec, dict):
            raise doc.error(where, "expected title, words and places")
        words = spec.get("words")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and normalize(w) for w in words):
            raise doc.error(f"{where}.words", "expected a non-empty list of words")
        for i, word in enumerate(words):
            other = owners.setdefault(normalize(word), str(cid))
            if other != cid:
                raise doc.error(f"{where}.words.{i}", f"{word!r} is already a word of the collection {other}")
        refs: dict[str, tuple[str, ...]] = {}
        for key, known, file in (("places", place_ids, "attractions.yaml"), ("products", product_ids, "products.yaml")):
            ids = spec.get(key) or []
            if not isinstance(ids, list):
                raise doc.error(f"{where}.{key}", "expected a list of ids")
            for i, ref in enumerate(ids):
                if ref not in known:
                    raise doc.error(f"{where}.{key}.{i}", f"unknown id {ref!r} (not in content/{file})")
            refs[key] = tuple(map(str, ids))
        if not refs["places"]:
            raise doc.error(f"{where}.places", "expected at least one place")
        raw.extend((str(w), str(cid)) for w in words)
        items.append(Collection(str(cid), doc.texts(spec.get("title"), f"{where}.title"),
                                doc.texts(spec.get("intro"), f"{where}.intro", required=False),
                                tuple(normalize(w) for w in words), refs["places"], refs["products"]))
    return Collections(items, raw)
