"""What a weather or air question asks: which day (today, tomorrow, the day after) and whether it is about rain or
the temperature. Words in `content/live/questions.yaml`."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.infra import yamlfile
from bot.infra.text import WordList

DAYS = {"today": 0, "tomorrow": 1, "day_after": 2}
FOCUS = ("rain", "temperature")


@dataclass(frozen=True)
class Question:
    day: int | None  # 0 today, 1 tomorrow, 2 the day after; None: not said
    focus: str  # rain | temperature | "" (the weather in general)


@lru_cache(maxsize=4)
def _words(path: Path) -> tuple[WordList, WordList]:
    doc = yamlfile.load(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    lists = []
    for section, names in (("days", tuple(DAYS)), ("focus", FOCUS)):
        raw = data.get(section)
        if not isinstance(raw, dict) or set(raw) != set(names):
            raise doc.error(section, f"expected the lists {', '.join(names)}")
        pairs = []
        for name in names:
            words = raw[name]
            if not isinstance(words, list) or not words:
                raise doc.error(f"{section}.{name}", "expected a non-empty list of words")
            pairs += [(str(w), name) for w in words]
        lists.append(WordList(pairs))
    return lists[0], lists[1]


def ask(text: str, path: Path) -> Question:
    days, focus = _words(path)
    day, about = days.match(text), focus.match(text)
    return Question(DAYS[day[0]] if day else None, about[0] if about else "")
