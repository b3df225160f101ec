"""Travelers' passport details for bookings whose product needs them (`passport: true`: the DMZ checkpoint
wants every visitor's name, passport number, nationality and date of birth 48 hours ahead).

    "ZHANG WEI E12345678 1990-01-01"            -> Passport("ZHANG WEI", "E12345678", "CHN", 1990-01-01)
    "护照号EA1234567，张伟 ZHANG WEI，1988年3月5日" -> the English name as in the passport is kept

Travelers send one message per person after booking; `attach` files it under their next booking that still
lacks someone's details. Re-sending a passport number corrects that traveler's entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, String, delete, func, select, update
from sqlalchemy.orm import Session

from bot.bookings.lifecycle import GOING
from bot.infra.db import Database
from bot.infra.db.models import Booking, BookingTraveler
from bot.infra.text import fold

# PRC passports: E + 8 digits, E + letter + 7 digits (from 2017), older G + 8; other countries vary in
# the same shape. Not a booking reference (YJ7K4M2P has too few digits) nor a phone number (no letter).
_NUMBER = re.compile(r"(?<![a-z0-9])([a-z]{1,2}\d{7,8})(?![a-z0-9])")
_BIRTH = re.compile(r"(?<!\d)(19\d\d|20\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?!\d)"
                    r"|(?<!\d)(19\d\d|20\d\d)(\d\d)(\d\d)(?!\d)")
_COUNTRIES = {"chn": "CHN", "china": "CHN", "prc": "CHN", "中国": "CHN", "中国大陆": "CHN", "中华人民共和国": "CHN",
              "hkg": "HKG", "香港": "HKG", "mac": "MAC", "澳门": "MAC", "twn": "TWN", "台湾": "TWN"}
_COUNTRY_RE = re.compile("|".join(sorted(map(re.escape, _COUNTRIES), key=len, reverse=True)))
_LATIN_NAME = re.compile(r"[a-z]+(?:[ ,]+[a-z]+){0,3}")  # as printed in the passport: ZHANG WEI
_NOISE = re.compile(r"护照(?:号码|号|信息)?|姓名|名字|出生(?:日期)?|生日|国籍|[:：,，;；。]"
                    r"|\b(?:my|passport(?:\s*(?:no\.?|number))?|date of birth|birth(?:day)?|dob|name|nationality|is)\b")


class PassportProblem(ValueError):
    """What is wrong with the message, as a key for the reply template: number | name | birth_date, or
    name_too_long | number_too_long (longer than the column that stores it)."""


def _stored_length(column: str) -> int:
    """How many characters `booking_travelers.<column>` holds: the model is the one place that says it."""
    length = cast(String, BookingTraveler.__table__.c[column].type).length
    if length is None:
        raise TypeError(f"booking_travelers.{column} has no length")
    return length


NAME_MAX, NUMBER_MAX = _stored_length("name"), _stored_length("passport_no")


def _within(value: str, limit: int, problem: str) -> str:
    """`value`, or PassportProblem(problem) when it is longer than its column: PostgreSQL would refuse the
    insert (and SQLite keep it whole), so the traveler is told instead."""
    if len(value) > limit:
        raise PassportProblem(problem)
    return value


@dataclass(frozen=True)
class Passport:
    name: str
    number: str
    nationality: str
    birth_date: date
    nationality_given: bool = True

    @property
    def masked(self) -> str:
        return mask(self.number)


def mask(number: str) -> str:
    """E12345678 -> E1*****78: enough for the traveler to recognise it on a forwarded page or chat."""
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


def mentions_passport(text: str) -> bool:
    """Whether the text carries something shaped like a passport number (then it is passport details)."""
    return _NUMBER.search(fold(text)) is not None


def parse(text: str, today: date) -> Passport:
    """The passport details in one message, or PassportProblem naming the first thing missing."""
    s = fold(text)
    number = _NUMBER.search(s)
    if number is None:
        raise PassportProblem("number")
    rest = s[:number.start()] + " " + s[number.end():]
    birth = _BIRTH.search(rest)
    birth_date = None
    if birth:
        y, m, d = (birth[1], birth[2], birth[3]) if birth[1] else (birth[4], birth[5], birth[6])
        try:
            birth_date = date(int(y), int(m), int(d))
        except ValueError:
            birth_date = None
        rest = rest[:birth.start()] + " " + rest[birth.end():]
    country = _COUNTRY_RE.search(rest)
    nationality = _COUNTRIES[country[0]] if country else "CHN"  # our travelers: mainland passports
    if country:
        rest = rest[:country.start()] + " " + rest[country.end():]
    name = _LATIN_NAME.search(_NOISE.sub(" ", rest))
    if name is None or len(name[0].replace(" ", "").replace(",", "")) < 3:
        raise PassportProblem("name")  # the checkpoint list is in the passport's latin letters
    if birth_date is None or not date(1900, 1, 1) <= birth_date < today:
        raise PassportProblem("birth_date")
    travels_as = _within(" ".join(name[0].replace(",", " ").split()).upper(), NAME_MAX, "name_too_long")
    return Passport(travels_as, _within(number[1].upper(), NUMBER_MAX, "number_too_long"), nationality,
                    birth_date, nationality_given=country is not None)


@dataclass(frozen=True)
class Filed:
    booking: Booking
    received: int  # travelers with details for this booking, this one included
    outcome: str  # added | corrected (that passport was there: details replaced) | full (nothing added)


def _coming(products: set[str], openid: str, today: date) -> Select[Booking]:
    """The follower's coming confirmed bookings of `products`, soonest first."""
    return (select(Booking)
            .where(Booking.openid == openid, Booking.status.in_(GOING), Booking.day >= today,
                   Booking.product_id.in_(products))
            .order_by(Booking.day, Booking.slot, Booking.id))


def _counts(s: Session, refs: list[str]) -> dict[str, int]:
    """How many travelers have details, per booking reference (0 for none)."""
    rows = s.execute(select(BookingTraveler.booking_ref, func.count()).where(BookingTraveler.booking_ref.in_(refs))
                     .group_by(BookingTraveler.booking_ref))
    return dict.fromkeys(refs, 0) | {ref: int(n) for ref, n in rows}


def needing(db: Database, products: set[str], openid: str, today: date) -> list[tuple[Booking, int]]:
    """The follower's coming bookings of `products`, soonest first, with how many travelers have details."""
    with db.session() as s:
        found = list(s.scalars(_coming(products, openid, today)))
        counts = _counts(s, [b.ref for b in found])
    return [(b, counts[b.ref]) for b in found]


def attach(db: Database, products: set[str], openid: str, passport: Passport, now: datetime) -> Filed | None:
    """File the details under the booking that has this passport already, else the first one still short
    of travelers. None when the follower has no coming booking that needs passports.

    One transaction that first locks the follower's bookings, then counts and inserts: the same traveler's
    messages sent at once are filed one after the other, so a party never gets more travelers than it has
    and each reply's count is the true one.
    """
    with db.session() as s:
        found = _lock(s, _coming(products, openid, now.date()))
        if not found:
            return None
        counts = _counts(s, [b.ref for b in found])
        known = set(s.scalars(select(BookingTraveler.booking_ref).where(
            BookingTraveler.passport_no == passport.number, BookingTraveler.booking_ref.in_(counts))))
        booking = next((b for b in found if b.ref in known), None) or \
            next((b for b in found if counts[b.ref] < b.adults + b.children), None)
        if booking is None:
            return Filed(found[0], counts[found[0].ref], "full")
        s.execute(_upsert(db, booking.ref, passport, now))
        received = _counts(s, [booking.ref])[booking.ref]
    return Filed(booking, received, "corrected" if booking.ref in known else "added")


def _lock(s: Session, bookings: Select[Booking]) -> list[Booking]:
    """The bookings `bookings` selects, locked until the transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE (in a fixed order: two such transactions never deadlock). SQLite has no
    row locks: a no-op UPDATE as the transaction's first statement takes the database's write lock, which
    serialises writers (reads after it see every earlier commit).
    """
    if s.get_bind().dialect.name == "sqlite":
        s.execute(update(Booking).where(Booking.id.in_(bookings.with_only_columns(Booking.id)))
                  .values(openid=Booking.openid).execution_options(synchronize_session=False))
    return list(s.scalars(bookings.with_for_update()))


def _upsert(db: Database, ref: str, passport: Passport, now: datetime) -> Any:
    """Insert the traveler, or replace the details of the one with this passport number."""
    values = dict(booking_ref=ref, passport_no=passport.number, name=passport.name,
                  nationality=passport.nationality, birth_date=passport.birth_date, received_at=now)
    return db.insert(BookingTraveler).values(values).on_conflict_do_update(
        index_elements=["booking_ref", "passport_no"],
        set_={k: values[k] for k in ("name", "nationality", "birth_date", "received_at")})


def travelers(db: Database, refs: list[str]) -> dict[str, list[BookingTraveler]]:
    """The travelers recorded for each booking reference."""
    with db.session() as s:
        rows = s.scalars(select(BookingTraveler).where(BookingTraveler.booking_ref.in_(refs))
                         .order_by(BookingTraveler.received_at))
        found: dict[str, list[BookingTraveler]] = {ref: [] for ref in refs}
        for row in rows:
            found[row.booking_ref].append(row)
        return found


def purge(db: Database, before: date) -> int:
    """Delete the passport details of bookings whose day is before `before`; how many were deleted.

    They exist for the checkpoint list only: once the tour is over they are a liability, not data.
    """
    past = select(Booking.ref).where(Booking.day < before)
    with db.session() as s:
        stmt = delete(BookingTraveler).where(BookingTraveler.booking_ref.in_(past))
        done = cast("CursorResult[Any]", s.execute(stmt))
        return int(done.rowcount or 0)
