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

from sqlalchemy import CursorResult, delete, func, select

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
    """What the message lacks, as a key for the reply template: name | birth_date."""


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
    return Passport(" ".join(name[0].replace(",", " ").split()).upper(), number[1].upper(), nationality,
                    birth_date, nationality_given=country is not None)


@dataclass(frozen=True)
class Filed:
    booking: Booking
    received: int  # travelers with details for this booking, this one included
    outcome: str  # added | corrected (that passport was there: details replaced) | full (nothing added)


def needing(db: Database, products: set[str], openid: str, today: date) -> list[tuple[Booking, int]]:
    """The follower's coming bookings of `products`, soonest first, with how many travelers have details."""
    counts = (select(BookingTraveler.booking_ref, func.count().label("n"))
              .group_by(BookingTraveler.booking_ref).subquery())
    stmt = (select(Booking, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.booking_ref == Booking.ref)
            .where(Booking.openid == openid, Booking.status == "confirmed", Booking.day >= today,
                   Booking.product_id.in_(products))
            .order_by(Booking.day, Booking.slot, Booking.id))
    with db.session() as s:
        return [(b, int(n)) for b, n in s.execute(stmt)]


def attach(db: Database, products: set[str], openid: str, passport: Passport, now: datetime) -> Filed | None:
    """File the details under the booking that has this passport already, else the first one still short
    of travelers. None when the follower has no coming booking that needs passports."""
    found = needing(db, products, openid, now.date())
    if not found:
        return None
    with db.session() as s:
        known = set(s.scalars(select(BookingTraveler.booking_ref).where(
            BookingTraveler.passport_no == passport.number,
            BookingTraveler.booking_ref.in_([b.ref for b, _ in found]))))
    target = next(((b, n) for b, n in found if b.ref in known), None) or \
        next(((b, n) for b, n in found if n < b.adults + b.children), None)
    if target is None:
        booking, count = found[0]
        return Filed(booking, count, "full")
    booking, count = target
    values = dict(booking_ref=booking.ref, passport_no=passport.number, name=passport.name,
                  nationality=passport.nationality, birth_date=passport.birth_date, received_at=now)
    stmt = db.insert(BookingTraveler).values(values)
    stmt = stmt.on_conflict_do_update(index_elements=["booking_ref", "passport_no"],
                                      set_={k: values[k] for k in ("name", "nationality", "birth_date", "received_at")})
    with db.session() as s:
        s.execute(stmt)
    if booking.ref in known:
        return Filed(booking, count, "corrected")
    return Filed(booking, count + 1, "added")


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
