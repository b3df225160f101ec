"""The catalogue of bookable products (`content/products.yaml`): what can be booked, when, and its rules.

Loaded and validated at start-up like every content file; `flask --app wsgi products sync` copies it
into the database, where bookings reference it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from bot.infra import yamlfile
from bot.infra.clock import SEOUL
from bot.infra.text import fold
from bot.travel.places import WEEKDAYS

Text = dict[str, str]
CATEGORIES = ("tour", "show", "ticket", "class", "transport", "beauty", "experience")
KEYS = {"id", "name", "aliases", "category", "summary", "includes", "meeting_point", "duration", "price",
        "capacity", "slots", "start", "days", "closed_dates", "lead_hours", "max_party", "cancel", "notes",
        "attraction", "interests", "passport", "payment", "source"}
PAYMENTS = ("wechat", "on_site")
_ID = re.compile(r"^[a-z0-9_]{2,40}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Product:
    id: str
    name: Text
    aliases: tuple[str, ...]
    category: str
    summary: Text
    includes: Text
    meeting_point: Text
    duration: Text
    adult_krw: int
    child_krw: int | None
    capacity: int
    slots: tuple[str, ...]  # start times; () = one start per day at `start`
    start: str
    days: frozenset[int]  # weekday numbers (Monday 0) it runs
    closed_dates: frozenset[date]
    lead_hours: int
    max_party: int | None
    free_cancel_hours: int
    cancel_text: Text
    notes: Text
    attraction: str | None
    interests: tuple[str, ...]  # categories.yaml ids a booking counts as interests (broadcast audiences)
    source: str
    line: int
    passport: bool = False  # each traveler's passport details are needed before departure (DMZ checkpoint)
    payment: str = "wechat"  # wechat: paid in WeChat when booked | on_site: the partner collects
    late_refund_percent: int = 0  # refunded when cancelled after the free deadline, before the start

    def t(self, field_name: str, lang: str) -> str:
        value: Text = getattr(self, field_name)
        return value.get(lang) or value.get("zh-CN", "")

    def price(self, adults: int, children: int) -> int:
        return adults * self.adult_krw + children * (self.child_krw if self.child_krw is not None else self.adult_krw)

    def starts_at(self, day: date, slot: str | None) -> datetime:
        """When a booking for `day` / `slot` starts, in Asia/Seoul."""
        hh, mm = (slot or self.start).split(":")
        return datetime.combine(day, time(int(hh), int(mm)), SEOUL)

    def runs_on(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.closed_dates

    def free_cancel_until(self, day: date, slot: str | None) -> datetime:
        return self.starts_at(day, slot) - timedelta(hours=self.free_cancel_hours)

    def paid_in_wechat(self, total_krw: int) -> bool:
        """Whether a booking of this total is paid in WeChat (free bookings and on-site products are not)."""
        return self.payment == "wechat" and total_krw > 0

    def bookable_slots(self, day: date, now: datetime) -> list[str]:
        """Start times on `day` still outside the lead time (all of them for a future day)."""
        earliest = now + timedelta(hours=self.lead_hours)
        return [s for s in (self.slots or (self.start,)) if self.starts_at(day, s) >= earliest]


@dataclass
class Catalogue:
    items: dict[str, Product]
    checked: str
    file: str

    def __iter__(self) -> Iterator[Product]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def get(self, product_id: str) -> Product | None:
        return self.items.get(product_id)

    def names(self, lang: str) -> dict[str, str]:
        """Product names in `lang` by id (a booking keeps the Chinese name it was sold under)."""
        return {p.id: p.t("name", lang) for p in self}

    @property
    def needing_passports(self) -> set[str]:
        """Ids of the products whose travelers send passport details after booking."""
        return {p.id for p in self if p.passport}

    def find(self, text: str) -> Product | None:
        """The product a message names (longest alias or name found in it), or None."""
        found = self.match(text)
        return found[0] if found else None

    def match(self, text: str) -> tuple[Product, str] | None:
        """(product, the name or alias found, folded), the longest one."""
        folded = re.sub(r"\s+", "", fold(text))
        return next(((self.items[pid], key) for key, pid in self._keys if key in folded), None)

    @cached_property
    def _keys(self) -> list[tuple[str, str]]:
        """(folded name or alias, product id), longest first, then in catalogue order; computed once."""
        order = {pid: n for n, pid in enumerate(self.items)}
        keys = {(re.sub(r"\s+", "", fold(word)), p.id) for p in self for word in (*p.aliases, *p.name.values())
                if word.strip()}
        return sorted(keys, key=lambda pair: (-len(pair[0]), order[pair[1]]))


class _Checker:
    def __init__(self, doc: yamlfile.Located) -> None:
        self.doc = doc

    def text(self, value: Any, path: str, required: bool = True) -> Text:
        return self.doc.texts(value, path, required)

    def count(self, value: Any, path: str, low: int, default: int | None = None) -> int:
        if value is None and default is not None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.doc.error(path, f"expected a whole number >= {low}, got {value!r}")
        return value

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.doc.error(path, f"expected true or false, got {value!r}")
        return value

    def hhmm(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise self.doc.error(path, f"expected a time HH:MM, got {value!r}")
        return value


def load_catalogue(path: Path, place_ids: set[str], category_ids: set[str]) -> Catalogue:
    doc = yamlfile.load(path)
    c = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise doc.error("products", "expected a list 'products:'")
    items: dict[str, Product] = {}
    words: dict[str, str] = {}
    for i, raw in enumerate(data["products"]):
        p = f"products.{i}"
        if not isinstance(raw, dict):
            raise doc.error(p, "each product must be a mapping")
        if unknown := set(raw) - KEYS:
            raise doc.error(f"{p}.{sorted(unknown)[0]}", f"unknown key; expected some of {', '.join(sorted(KEYS))}")
        pid = raw.get("id")
        if not isinstance(pid, str) or not _ID.match(pid):
            raise doc.error(f"{p}.id", f"id must be lower_snake ascii, got {pid!r}")
        if pid in items:
            raise doc.error(f"{p}.id", f"duplicate id {pid!r}")
        if raw.get("category") not in CATEGORIES:
            raise doc.error(f"{p}.category", f"expected one of {', '.join(CATEGORIES)}")
        price = raw.get("price")
        if not isinstance(price, dict):
            raise doc.error(f"{p}.price", "expected {adult_krw: .., child_krw: ..}")
        slots = raw.get("slots") or []
        if not isinstance(slots, list):
            raise doc.error(f"{p}.slots", "expected a list of start times HH:MM")
        slots = [c.hhmm(s, f"{p}.slots.{j}") for j, s in enumerate(slots)]
        if slots != sorted(set(slots)):
            raise doc.error(f"{p}.slots", "start times must be sorted and distinct")
        if slots and raw.get("start") is not None:
            raise doc.error(f"{p}.start", "give either slots or start, not both")
        start = slots[0] if slots else c.hhmm(raw.get("start"), f"{p}.start")
        days = raw.get("days") or list(WEEKDAYS)
        if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
            raise doc.error(f"{p}.days", f"expected a list of {', '.join(WEEKDAYS)}")
        closed: set[date] = set()
        for j, value in enumerate(raw.get("closed_dates") or []):
            try:
                closed.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
            except ValueError:
                raise doc.error(f"{p}.closed_dates.{j}", f"expected a date YYYY-MM-DD, got {value!r}") from None
        cancel = raw.get("cancel")
        if not isinstance(cancel, dict):
            raise doc.error(f"{p}.cancel", "expected {free_until_hours: .., text: {zh-CN: .., en: ..}}")
        attraction = raw.get("attraction")
        if attraction is not None and attraction not in place_ids:
            raise doc.error(f"{p}.attraction", f"{attraction!r} is not an id in attractions.yaml")
        interests = raw.get("interests") or []
        if not isinstance(interests, list) or not all(isinstance(i, str) and i in category_ids for i in interests):
            raise doc.error(f"{p}.interests",
                            f"expected a list of ids from categories.yaml: {', '.join(sorted(category_ids))}")
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise doc.error(f"{p}.aliases", "expected a list of non-empty strings")
        child = price.get("child_krw")
        product = Product(
            id=pid, name=c.text(raw.get("name"), f"{p}.name"), aliases=tuple(str(a).strip() for a in aliases),
            category=raw["category"], summary=c.text(raw.get("summary"), f"{p}.summary"),
            includes=c.text(raw.get("includes"), f"{p}.includes"),
            meeting_point=c.text(raw.get("meeting_point"), f"{p}.meeting_point"),
            duration=c.text(raw.get("duration"), f"{p}.duration"),
            adult_krw=c.count(price.get("adult_krw"), f"{p}.price.adult_krw", 0),
            child_krw=None if child is None else c.count(child, f"{p}.price.child_krw", 0),
            capacity=c.count(raw.get("capacity"), f"{p}.capacity", 1), slots=tuple(slots), start=start,
            days=frozenset(WEEKDAYS.index(d) for d in days), closed_dates=frozenset(closed),
            lead_hours=c.count(raw.get("lead_hours"), f"{p}.lead_hours", 0, default=0),
            max_party=None if raw.get("max_party") is None else c.count(raw["max_party"], f"{p}.max_party", 1),
            free_cancel_hours=c.count(cancel.get("free_until_hours"), f"{p}.cancel.free_until_hours", 0),
            cancel_text=c.text(cancel.get("text"), f"{p}.cancel.text"),
            notes=c.text(raw.get("notes"), f"{p}.notes", required=False), attraction=attraction,
            interests=tuple(dict.fromkeys(interests)), source=str(raw.get("source") or ""), line=doc.line(p) or 0,
            passport=c.flag(raw.get("passport", False), f"{p}.passport"),
            payment=_payment(doc, raw.get("payment", "wechat"), f"{p}.payment"),
            late_refund_percent=_percent(doc, cancel.get("late_refund_percent", 0), f"{p}.cancel.late_refund_percent"),
        )
        if not product.source:
            raise doc.error(f"{p}.source", "every product needs its source")
        for word in (*product.aliases, *product.name.values()):
            key = re.sub(r"\s+", "", fold(word))
            if words.get(key, pid) != pid:
                raise doc.error(f"{p}.aliases", f"{word!r} already names {words[key]!r}")
            words[key] = pid
        items[pid] = product
    return Catalogue(items, checked=str(data.get("checked") or ""), file=str(path))


def _payment(doc: yamlfile.Located, value: Any, path: str) -> str:
    if value not in PAYMENTS:
        raise doc.error(path, f"expected one of {', '.join(PAYMENTS)}, got {value!r}")
    return str(value)


def _percent(doc: yamlfile.Located, value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise doc.error(path, f"expected a whole percentage 0-100, got {value!r}")
    return value
