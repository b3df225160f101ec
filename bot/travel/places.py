"""Attractions from `content/attractions.yaml`: validated loading, "open now" in Seoul time, nearby search."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from bot.infra import yamlfile
from bot.infra.clock import SEOUL
from bot.infra.yamlfile import Located

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGS = ("zh-CN", "en")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")

Text = dict[str, str]  # language -> text


@dataclass(frozen=True)
class Hours:
    open: str | None = None
    close: str | None = None
    seasons: tuple[tuple[frozenset[int], str | None, str | None], ...] = ()
    last_entry_minutes: int = 0
    closed_weekdays: frozenset[str] = frozenset()
    always_open: bool = False

    @property
    def known(self) -> bool:
        return self.always_open or (self.open is not None and self.close is not None)

    def window(self, day: datetime) -> tuple[datetime, datetime] | None:
        """Opening window that starts on `day`'s date (None when closed that day or unknown)."""
        if self.always_open or not self.known or WEEKDAYS[day.weekday()] in self.closed_weekdays:
            return None
        open_, close = self.open, self.close
        for months, s_open, s_close in self.seasons:
            if day.month in months:
                open_, close = s_open or open_, s_close or close
        start = _at(day, open_)  # type: ignore[arg-type]
        end = _at(day, close)  # type: ignore[arg-type]
        if end <= start:  # past midnight
            end += timedelta(days=1)
        return start, end


def _at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    base = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return base + timedelta(hours=hours, minutes=minutes)


@dataclass(frozen=True)
class OpenStatus:
    state: str  # open | closing_soon | last_entry_passed | closed | closed_today | always | unknown
    until: datetime | None = None  # when it closes (open) or opens next (closed)


@dataclass(frozen=True)
class Place:
    id: str
    categories: tuple[str, ...]
    name: Text
    aliases: tuple[str, ...]
    district: Text
    lat: float
    lng: float
    subway: Text
    hours_text: Text
    hours: Hours
    closed: Text
    admission_krw: int | None
    admission_text: Text
    tags: dict[str, tuple[str, ...]]
    summary: Text
    tips: Text
    source: str
    line: int = 0  # where it is defined, for error messages
    hotspot: str = ""  # its Seoul citydata area (AREA_NM, content/live/seoul_hotspots.yaml); "" when none

    @property
    def category(self) -> str:
        return self.categories[0]

    def t(self, field_name: str, lang: str) -> str:
        """A localized text field, falling back to Chinese."""
        value: Text = getattr(self, field_name)
        return value.get(lang) or value["zh-CN"]

    def status(self, now: datetime) -> OpenStatus:
        """Is it open at `now` (any timezone; evaluated in Seoul)?"""
        now = now.astimezone(SEOUL)
        if self.hours.always_open:
            return OpenStatus("always")
        if not self.hours.known:
            return OpenStatus("unknown")
        for day_offset in (-1, 0):  # yesterday's window may run past midnight
            window = self.hours.window(now + timedelta(days=day_offset))
            if window and window[0] <= now < window[1]:
                last_entry = window[1] - timedelta(minutes=self.hours.last_entry_minutes)
                if now >= last_entry and self.hours.last_entry_minutes:
                    return OpenStatus("last_entry_passed", window[1])
                if window[1] - now <= timedelta(hours=1):
                    return OpenStatus("closing_soon", window[1])
                return OpenStatus("open", window[1])
        for day_offset in range(0, 8):
            window = self.hours.window(now + timedelta(days=day_offset))
            if window and window[0] > now:
                today_closed = day_offset > 0 and self.hours.window(now) is None
                return OpenStatus("closed_today" if today_closed else "closed", window[0])
        return OpenStatus("unknown")


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@dataclass
class Places:
    items: dict[str, Place]
    checked: str
    file: str = ""
    _order: list[Place] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._order = list(self.items.values())

    def __iter__(self) -> Iterator[Place]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, place_id: str) -> Place | None:
        return self.items.get(place_id)

    def in_category(self, category: str) -> list[Place]:
        return [p for p in self._order if category in p.categories]

    def nearest(self, lat: float, lng: float, *, category: str | None = None, limit: int = 5,
                exclude: set[str] | frozenset[str] = frozenset()) -> list[tuple[Place, float]]:
        found = [(p, distance_m(lat, lng, p.lat, p.lng)) for p in self._order
                 if (category is None or category in p.categories) and p.id not in exclude]
        found.sort(key=lambda pair: pair[1])
        return found[:limit]


# --- loading ---------------------------------------------------------------------------------------
class _Checker:
    def __init__(self, doc: Located) -> None:
        self.doc = doc

    def text(self, value: Any, path: str, required: bool = True) -> Text:
        if not isinstance(value, dict):
            raise self.doc.error(path, "expected a mapping of language -> text (zh-CN, en)")
        for lang in LANGS:
            if required and not (isinstance(value.get(lang), str) and value[lang].strip()):
                raise self.doc.error(path, f"missing {lang} text")
        return {str(k): str(v).strip() for k, v in value.items() if v is not None}

    def time(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _HHMM.match(value) or (value > "24:00"):
            raise self.doc.error(path, f"expected a time HH:MM, got {value!r}")
        return value


HOTSPOTS_FILE = Path("live") / "seoul_hotspots.yaml"  # beside attractions.yaml: the areas a place may name


def recorded_hotspots(path: Path) -> set[str]:
    """The citydata area names recorded in `path` (content/live/seoul_hotspots.yaml)."""
    doc = yamlfile.load(path)
    rows = doc.data.get("hotspots") if isinstance(doc.data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("area"), str) for r in rows):
        raise doc.error("hotspots", "expected a list of {area: <AREA_NM>, code: .., category: ..}")
    return {r["area"] for r in rows}


def _hotspot(doc: Located, raw: Any, where: str, known: set[str] | None) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.strip() or raw != raw.strip():
        raise doc.error(where, f"expected a citydata area name (AREA_NM), got {raw!r}")
    if known is not None and raw not in known:
        raise doc.error(where, f"{raw!r} is not a hotspot in {HOTSPOTS_FILE} (spelled exactly: '·' is U+00B7)")
    return raw


def load_places(path: Path, categories: set[str]) -> Places:
    doc = yamlfile.load(path)
    hotspots_path = path.parent / HOTSPOTS_FILE
    known = recorded_hotspots(hotspots_path) if hotspots_path.is_file() else None
    c = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("places"), list):
        raise doc.error("places", "expected a list 'places:'")
    items: dict[str, Place] = {}
    seen_aliases: dict[str, str] = {}
    for i, raw in enumerate(data["places"]):
        p = f"places.{i}"
        if not isinstance(raw, dict):
            raise doc.error(p, "each place must be a mapping")
        pid = raw.get("id")
        if not isinstance(pid, str) or not _ID.match(pid):
            raise doc.error(f"{p}.id", f"id must be lower_snake ascii, got {pid!r}")
        if pid in items:
            raise doc.error(f"{p}.id", f"duplicate id {pid!r}")
        cats = raw.get("categories")
        if not isinstance(cats, list) or not cats or any(cat not in categories for cat in cats):
            raise doc.error(f"{p}.categories", f"expected a list of categories from {sorted(categories)}")
        loc = raw.get("location") or {}
        try:
            lat, lng = float(loc["lat"]), float(loc["lng"])
        except (KeyError, TypeError, ValueError):
            raise doc.error(f"{p}.location", "expected {lat: .., lng: ..}") from None
        if not (33 <= lat <= 39 and 124 <= lng <= 132):
            raise doc.error(f"{p}.location", f"({lat}, {lng}) is not in Korea")
        hours_raw = raw.get("hours")
        if not isinstance(hours_raw, dict):
            raise doc.error(f"{p}.hours", "expected a mapping with at least 'text'")
        seasons = []
        for j, season in enumerate(hours_raw.get("seasons") or []):
            sp = f"{p}.hours.seasons.{j}"
            months = season.get("months") if isinstance(season, dict) else None
            if not isinstance(months, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
                raise doc.error(sp, "expected months: [1..12]")
            seasons.append((frozenset(months), c.time(season.get("open"), f"{sp}.open"),
                            c.time(season.get("close"), f"{sp}.close")))
        weekdays = hours_raw.get("closed_weekdays") or []
        if not isinstance(weekdays, list) or any(d not in WEEKDAYS for d in weekdays):
            raise doc.error(f"{p}.hours.closed_weekdays", f"expected a list of {', '.join(WEEKDAYS)}")
        hours = Hours(open=c.time(hours_raw.get("open"), f"{p}.hours.open"),
                      close=c.time(hours_raw.get("close"), f"{p}.hours.close"),
                      seasons=tuple(seasons), last_entry_minutes=int(hours_raw.get("last_entry_minutes") or 0),
                      closed_weekdays=frozenset(weekdays), always_open=bool(hours_raw.get("always_open")))
        if (hours.open is None) != (hours.close is None):
            raise doc.error(f"{p}.hours", "give both open and close, or neither")
        admission = raw.get("admission") or {}
        krw = admission.get("krw") if isinstance(admission, dict) else None
        if krw is not None and (not isinstance(krw, int) or krw < 0):
            raise doc.error(f"{p}.admission.krw", "expected a whole number of won, or null")
        tags_raw = raw.get("tags") or {}
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise doc.error(f"{p}.aliases", "expected a list of non-empty strings")
        place = Place(
            id=pid, categories=tuple(cats), name=c.text(raw.get("name"), f"{p}.name"),
            aliases=tuple(a.strip() for a in aliases), district=c.text(raw.get("district"), f"{p}.district"),
            lat=lat, lng=lng, subway=c.text(raw.get("subway"), f"{p}.subway"),
            hours_text=c.text(hours_raw.get("text"), f"{p}.hours.text"), hours=hours,
            closed=c.text(raw.get("closed"), f"{p}.closed"), admission_krw=krw,
            admission_text=c.text(admission.get("text"), f"{p}.admission.text"),
            tags={lang: tuple(tags_raw.get(lang) or ()) for lang in LANGS},
            summary=c.text(raw.get("summary"), f"{p}.summary"), tips=c.text(raw.get("tips"), f"{p}.tips"),
            source=str(raw.get("source") or ""), line=doc.line(p) or 0,
            hotspot=_hotspot(doc, raw.get("hotspot"), f"{p}.hotspot", known),
        )
        if not place.source:
            raise doc.error(f"{p}.source", "every place needs its source")
        for alias in (*place.aliases, place.name["zh-CN"], place.name["en"]):
            key = re.sub(r"\s+", "", alias.lower())
            if seen_aliases.get(key, pid) != pid:
                raise doc.error(f"{p}.aliases", f"{alias!r} already names {seen_aliases[key]!r}")
            seen_aliases[key] = pid
        items[pid] = place
    return Places(items, checked=str(data.get("checked") or ""), file=str(path))
