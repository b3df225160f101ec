"""A booking being put together in the chat: its answers so far and the rules for taking more.

The draft always asks for the first answer still missing (`next_step`), so a change ("改成周日") at any
step sets one answer and the flow carries on from there. One message may answer several questions
("订乱打秀 周六晚上8点 2个人"): after the answer asked for, every open answer it also gives is taken.

Pure domain: no Flask, no storage. What the rules need from outside (the time, the catalogue, the
configured group size, seats left in a slot) comes in as `Facts`. Traveler text is read by
`bot.bookings.parsing`; `handlers/booking.py` routes and renders.

In the conversation state (Redis, written on every message) the draft is a small JSON object with
readable keys under `STATE_KEY`; a draft written by the previous code (one-letter keys) is read once
and written back in the new form.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.bookings.parsing import Party, parse_date, parse_name, parse_party, parse_phone, parse_slot, strip_change
from bot.infra.text import normalize
from bot.travel.products import Catalogue, Product

FLOW = "booking"
STATE_KEY = "booking"
LEGACY_KEY = "bk"  # the one-letter draft of the code before this module; read once, then dropped
CONTACT_KEY = "contact"  # [name, phone] of the last booking: offered again to the next one
LAST_BOOKING_KEY = "last_booking"  # reference of the last booking, for a late "确认"
LAST_PRODUCT_KEY = "last_product"  # the product card shown last: "订两张" books it
HORIZON_DAYS = 180  # bookable this many days ahead
_LAST_YEAR_WITHIN = 300  # "11月20日" on 25 Nov names five days ago, not a day 360 days ahead


class Step(StrEnum):
    """The question the flow is at; the values are what the state stores under "step"."""

    PRODUCT = "product"
    DATE = "date"
    SLOT = "slot"
    PARTY = "party"
    NAME = "name"
    PHONE = "phone"
    CONFIRM = "confirm"

    @classmethod
    def parse(cls, value: Any) -> Step | None:
        """The step a state names; None for a missing or unknown one (a state from other code)."""
        try:
            return cls(value)
        except ValueError:
            return None


class Problem(StrEnum):
    """What was wrong with the last answer; the template says it before asking again."""

    PRODUCT = "product"
    PRODUCT_GONE = "product_gone"  # retired from the catalogue mid-flow
    DATE = "date"  # no day understood
    DATE_PAST = "date_past"
    DATE_FAR = "date_far"  # beyond HORIZON_DAYS
    DATE_CLOSED = "date_closed"  # the product does not run that day
    DATE_LEAD = "date_lead"  # no start time that day is outside the product's lead time any more
    SLOT = "slot"
    PARTY = "party"
    PARTY_TOO_MANY = "party_too_many"
    SOLD_OUT = "sold_out"
    NAME = "name"
    PHONE = "phone"
    NEED_TEXT = "need_text"  # a voice message or sticker mid-flow
    HOW_TO_EDIT = "how_to_edit"
    COUPON_SPENT = "coupon_spent"


@dataclass(frozen=True)
class Ask:
    """What to ask next, why the last answer did not do, and which other answers the message gave."""

    step: Step
    problem: Problem | None = None
    noted: tuple[str, ...] = ()  # field names of BookingDraft: day, slot, adults, phone


@dataclass(frozen=True)
class Facts:
    """What the rules need from outside the draft; the handler builds it from its services."""

    catalogue: Catalogue
    now: datetime  # Asia/Seoul
    group_min_party: int  # configured: parties this large go to staff
    seats_left: Callable[[Product, date, str], int]  # seats still free in a slot

    @property
    def today(self) -> date:
        return self.now.date()

    def group_size(self, product: Product) -> int:
        """Parties this large go to staff: the product's own limit + 1, or the configured group size."""
        return min(self.group_min_party, product.max_party + 1) if product.max_party else self.group_min_party


# Readable state key -> the previous code's one-letter key.
_LEGACY_NAMES = {"flow_key": "k", "product_id": "p", "day": "d", "slot": "s", "adults": "a", "children": "c",
                 "name": "n", "phone": "ph", "group": "group", "seats_left": "left", "rejected_day": "bad_day"}
# Keys only the previous format has ("group" is in both).
_LEGACY_ONLY = frozenset(_LEGACY_NAMES.values()) - set(_LEGACY_NAMES)
_DAYS = ("day", "rejected_day")
_NOTED = ("day", "slot", "adults", "phone")  # the answers a reply says back when a message gave them unasked


@dataclass
class BookingDraft:
    """The answers so far. Empty fields are the questions still open."""

    flow_key: str = ""  # minted when the flow starts: confirming twice books once
    product_id: str | None = None
    day: date | None = None
    slot: str | None = None  # "20:00"; a product with one start time that day gets it filled in
    adults: int | None = None
    children: int = 0
    name: str | None = None
    phone: str | None = None  # "+86…" / "+82…"
    group: bool = False  # too many people for the chat: confirming sends a group request to staff
    seats_left: int | None = None  # seats the slot had when the party did not fit
    rejected_day: date | None = None  # the last day asked for that cannot be booked, to say why

    # --- the state -----------------------------------------------------------------------------
    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BookingDraft | None:
        """The draft in a conversation state, None when there is none.

        A draft in the previous one-letter form ({"k": ..., "p": ..., "d": ...}) is converted: a traveler
        mid-booking during a deploy carries on, and `save` writes the new form.
        """
        raw = state.get(STATE_KEY)
        if isinstance(raw, dict) and not (_LEGACY_ONLY & raw.keys()):
            return cls._from_dict(raw)
        legacy = state.get(LEGACY_KEY)
        if isinstance(legacy, dict):
            return cls._from_dict({new: legacy[old] for new, old in _LEGACY_NAMES.items() if old in legacy})
        return None

    @classmethod
    def _from_dict(cls, raw: Mapping[str, Any]) -> BookingDraft:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known and v is not None}
        for key in _DAYS:
            if key in values:
                values[key] = _iso_day(values[key])
        return cls(**values)

    def to_state(self) -> dict[str, Any]:
        """The draft as JSON-ready data, without empty fields (it is written to Redis on every message)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == f.default:
                continue
            out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out

    def save(self, state: Mapping[str, Any], step: Step) -> dict[str, Any]:
        """`state` with this draft at `step` (the legacy key dropped when it differs from ours)."""
        rest = {k: v for k, v in state.items() if k != LEGACY_KEY}
        return {**rest, "flow": FLOW, "step": step.value, STATE_KEY: self.to_state()}

    @staticmethod
    def ended(state: Mapping[str, Any]) -> dict[str, Any]:
        """`state` without the flow: what stays once the booking is made or handed to staff."""
        return {k: v for k, v in state.items() if k not in ("flow", "step", STATE_KEY, LEGACY_KEY)}

    def booked(self, state: Mapping[str, Any], ref: str) -> dict[str, Any]:
        """`state` after booking `ref`: the flow ends, the reference and the contact details stay."""
        return {**self.ended(state), LAST_BOOKING_KEY: ref, CONTACT_KEY: [self.name, self.phone]}

    @classmethod
    def begin(cls, flow_key: str, state: Mapping[str, Any]) -> BookingDraft:
        """A new draft; contact details from an earlier draft or booking in this conversation are still
        the traveler's."""
        previous = cls.from_state(state)
        name, phone = (previous.name, previous.phone) if previous else (None, None)
        contact = state.get(CONTACT_KEY)
        if not (name and phone) and isinstance(contact, list) and len(contact) == 2:
            name, phone = contact
        draft = cls(flow_key=flow_key)
        if name and phone:
            draft.name, draft.phone = name, phone
        return draft

    # --- reading -------------------------------------------------------------------------------
    def product(self, catalogue: Catalogue) -> Product | None:
        return catalogue.get(self.product_id) if self.product_id else None

    @property
    def party(self) -> Party | None:
        return Party(self.adults, self.children) if self.adults else None

    def slots(self, product: Product, now: datetime) -> list[str]:
        """The start times to choose from: that day's still bookable ones once the day is known."""
        if self.day is None:
            return list(product.slots)
        return product.bookable_slots(self.day, now)

    def next_step(self, facts: Facts) -> Step:
        """The first question still open. A product with one start time that day gets it filled in."""
        product = self.product(facts.catalogue)
        if product is None:
            return Step.PRODUCT
        if not self.day:
            return Step.DATE
        if not self.slot:
            slots = self.slots(product, facts.now)
            if len(slots) != 1:
                return Step.SLOT
            self.slot = slots[0]
        if not self.adults:
            return Step.PARTY
        if not self.name:
            return Step.NAME
        if not self.phone:
            return Step.PHONE
        return Step.CONFIRM

    def _noted_since(self, before: BookingDraft) -> tuple[str, ...]:
        return tuple(f for f in _NOTED if getattr(self, f) and not getattr(before, f))

    # --- rules for one answer ------------------------------------------------------------------
    def set_day(self, day: date | None, product: Product, facts: Facts) -> Problem | None:
        """Take `day` if it can be booked (not past, within the horizon, the product runs, a start time
        is still outside the lead time); else keep the old day, remember the rejected one and say why."""
        if day is None:
            return Problem.DATE
        today = facts.today
        if day > today + timedelta(days=_LAST_YEAR_WITHIN):
            last_year = _same_day_in(day, day.year - 1)
            if last_year is not None and last_year < today:
                day = last_year  # so it is refused as past, not as too far
        problem = None
        if day < today:
            problem = Problem.DATE_PAST
        elif (day - today).days > HORIZON_DAYS:
            problem = Problem.DATE_FAR
        elif not product.runs_on(day):
            problem = Problem.DATE_CLOSED
        elif not product.bookable_slots(day, facts.now):
            problem = Problem.DATE_LEAD
        if problem:
            self.rejected_day = day
            return problem
        self.day, self.rejected_day = day, None
        if self.slot not in self.slots(product, facts.now):
            self.slot = None  # that time does not run (or is too soon) on the new day
        return None

    def set_party(self, party: Party | None, product: Product, facts: Facts) -> Problem | None:
        """Take the party size. A group (see `Facts.group_size`) goes to staff; a smaller party must fit
        the seats left in the chosen slot."""
        if party is None:
            return Problem.PARTY
        self.adults, self.children = party.adults, party.children
        self.group = party.total >= facts.group_size(product)
        if not self.group and self.day and self.slot:
            left = facts.seats_left(product, self.day, self.slot)
            if left < party.total:
                return self.no_seats(left)
        return None

    def no_seats(self, left: int) -> Problem:
        """The party does not fit the `left` seats: ask for the party again."""
        self.seats_left = left
        self.adults = None
        return Problem.PARTY_TOO_MANY if left else Problem.SOLD_OUT

    def choose_product(self, product: Product, text: str, facts: Facts, pick: int | None = None) -> Ask:
        """Book `product`, with any other answer the message gives ("订乱打秀 明天晚上8点 2个人")."""
        before = copy.copy(self)
        self.product_id = product.id
        wrong = self._take_extras(text, product, facts, pick)
        noted = self._noted_since(before)
        if wrong:
            return Ask(wrong.step, wrong.problem, noted)
        return Ask(self.next_step(facts), noted=noted)

    def answer(self, step: Step, text: str, facts: Facts, pick: int | None = None) -> Ask:
        """Take the answer to `step` from `text`, and every other open answer the text also gives.

        `pick` is the list number the message is, when it is only that (`bot.conversation.nlu.parse_pick`):
        a bare "2" answers only the question asked. The answer asked for may be unusable while the text
        still answers something else ("2个人" at the time question): then that is noted and the question asked
        again without a complaint.
        """
        before = copy.copy(self)
        problem = self._take_answer(step, text, facts, pick)
        if problem is Problem.PRODUCT_GONE:  # the list again, saying why
            return Ask(Step.PRODUCT, problem)
        answered = copy.copy(self)
        product = self.product(facts.catalogue)
        wrong = self._take_extras(text, product, facts, pick) if product is not None else None
        noted = self._noted_since(answered)
        if wrong:
            return Ask(wrong.step, wrong.problem, noted)
        if problem and self == before:  # nothing in the message answers anything still open
            return Ask(step, problem)
        return Ask(self.next_step(facts), noted=noted)

    def change(self, text: str, step: Step, facts: Facts) -> Ask:
        """"改成周日" / "改成3个人" / a bare new answer at the summary: the first parser that reads `text`
        changes that one answer (day, party, phone, time, then the name where it cannot be mistaken)."""
        product = self.product(facts.catalogue)
        if product is None:
            return Ask(step, Problem.PRODUCT)
        day = parse_date(text, facts.today)
        if day is not None:
            problem = self.set_day(day, product, facts)
            return Ask(Step.DATE, problem) if problem else Ask(self.next_step(facts))
        party = parse_party(text)
        if party is not None:
            problem = self.set_party(party, product, facts)
            return Ask(Step.PARTY, problem) if problem else Ask(self.next_step(facts))
        phone = parse_phone(text)
        if phone is not None:
            self.phone = phone
            return Ask(self.next_step(facts))
        if product.slots and self.day:
            slot = parse_slot(text, self.slots(product, facts.now))
            if slot is not None:
                self.slot = slot
                return Ask(self.next_step(facts))
        # Any text can look like a name: only at the name question, or when the summary's edit says so.
        if step is Step.NAME or (step is Step.CONFIRM and normalize(text).startswith(("名字", "姓名"))):
            name = parse_name(text)
            if name is not None:
                self.name = name
                return Ask(self.next_step(facts))
        return Ask(step, Problem.HOW_TO_EDIT if step is Step.CONFIRM else Problem(step.value))

    def recheck(self, facts: Facts) -> Ask | None:
        """Before booking: time has passed since the summary, is the day (and the time) still bookable?"""
        product = self.product(facts.catalogue)
        if product is None or self.day is None:
            return Ask(self.next_step(facts))
        problem = self.set_day(self.day, product, facts)
        if problem:
            return Ask(Step.DATE, problem)
        if self.slot is None:  # the chosen time fell inside the lead time: never book another one unasked
            return Ask(Step.SLOT)
        return None

    # --- taking answers ------------------------------------------------------------------------
    def _take_answer(self, step: Step, text: str, facts: Facts, pick: int | None) -> Problem | None:
        """Store the answer to `step`; the problem when `text` is not a usable answer."""
        catalogue = facts.catalogue
        if step is Step.PRODUCT:
            products = list(catalogue)  # the order of the list the question shows
            chosen = products[pick - 1] if pick and pick <= len(products) else catalogue.find(text)
            if chosen is None:
                return Problem.PRODUCT
            self.product_id = chosen.id
            return None
        product = self.product(catalogue)
        if product is None:  # retired from the catalogue mid-flow
            self.product_id = None
            return Problem.PRODUCT_GONE
        if step is Step.DATE:
            return self.set_day(parse_date(text, facts.today), product, facts)
        if step is Step.PARTY:
            return self.set_party(parse_party(text), product, facts)
        if step is Step.SLOT:
            slot = parse_slot(text, self.slots(product, facts.now))
            if slot is None:
                return Problem.SLOT
            self.slot = slot
        elif step is Step.NAME:
            name = parse_name(text)
            if name is None:
                return Problem.NAME
            self.name = name
        elif step is Step.PHONE:
            phone = parse_phone(text)
            if phone is None:
                return Problem.PHONE
            self.phone = phone
        return None

    def _take_extras(self, text: str, product: Product, facts: Facts, pick: int | None) -> Ask | None:
        """Fill every open answer the message also gives ("明天晚上8点 2个人" at the date question).

        Answers already given stay (changing one takes "改成"); a bare list number answers only the
        question asked. Returns the first answer that cannot be used, e.g. a day the product does not run.
        """
        if not text or pick is not None:
            return None
        wrong: list[Ask] = []
        if not self.day and (day := parse_date(text, facts.today)) is not None:
            problem = self.set_day(day, product, facts)
            if problem:
                wrong.append(Ask(Step.DATE, problem))
        if product.slots and self.day and not self.slot:
            slot = parse_slot(text, self.slots(product, facts.now))
            if slot is not None:
                self.slot = slot
        if not self.adults and (party := parse_party(text)) is not None:
            problem = self.set_party(party, product, facts)
            if problem:
                wrong.append(Ask(Step.PARTY, problem))
        if not self.phone and (phone := parse_phone(text)) is not None:
            self.phone = phone
        return wrong[0] if wrong else None


def _iso_day(value: Any) -> date | None:
    """A stored day; None for one that does not read (the question is simply asked again)."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _same_day_in(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return None


_ANY_TIME = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45))
_DAYPARTS = ("09:00", "14:00", "20:00")  # one slot in the morning, afternoon and evening
_PICK = re.compile(r"(第)?([0-9]{1,2}|[一二三四五六七八九十]{1,3})(个|号|项)?")
_LONGEST_NAME = 6  # characters of a Chinese name ("欧阳娜娜"); a longer Chinese text is a sentence


def answers(step: Step | None, text: str, today: date) -> bool:
    """Whether `text` answers the booking question at `step`, or changes an answer ("改成周日").

    The router asks this before taking a message out of the flow: "周六" at the date question stays in the
    flow, "我护照丢了怎么办" does not. Steps whose answers are the flow's own words (product names, 确认) say
    no here: the router keeps those in the flow anyway.
    """
    text = text.strip()
    if not text or step is None:
        return False
    if strip_change(text) is not None:
        return True
    if step is Step.DATE:
        return parse_date(text, today) is not None
    if step in (Step.PRODUCT, Step.SLOT) and _PICK.fullmatch(normalize(text)):
        return True  # a number from the list shown
    if step is Step.SLOT:  # a clock time, or a part of the day ("晚上") that one slot would fit
        return parse_slot(text, _ANY_TIME) is not None or any(parse_slot(text, (t,)) for t in _DAYPARTS)
    if step is Step.PARTY:
        return parse_party(text) is not None
    if step is Step.PHONE:
        return parse_phone(text) is not None
    if step is Step.NAME:
        name = parse_name(text)
        return name is not None and (len(name.split()) <= 4 if name.isascii() else len(name) <= _LONGEST_NAME)
    return False
