"""Staff operations on bookings: the DMZ checkpoint list of a day (who travels, with their passport details,
and who is still missing) and the purge of passport details once tours are over.

    staff = Staff(db, content.products, clock)
    found = staff.checkpoint_list(date(2026, 12, 9))         # UnknownProduct for a product id not in content
    write_csv(found, "checkpoint.csv")                       # passport numbers in full: mode 0600, delete it after
    deleted, before = staff.purge_travelers(days=7)
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

from sqlalchemy import select

from bot.bookings import passports
from bot.bookings.lifecycle import GOING
from bot.infra.clock import Clock
from bot.infra.db import Database
from bot.infra.db.models import Booking, BookingTraveler
from bot.travel.products import Catalogue

CSV_HEADER = ["product", "day", "slot", "booking", "name", "passport_no", "nationality", "birth_date", "contact",
              "phone"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class UnknownProduct(LookupError):
    """A product id that is not in content/products.yaml."""


@dataclass(frozen=True)
class CheckpointBooking:
    booking: Booking
    travelers: list[BookingTraveler]  # those who sent their passport details, in the order they did

    @property
    def party(self) -> int:
        return self.booking.adults + self.booking.children

    @property
    def missing(self) -> int:
        return max(self.party - len(self.travelers), 0)


@dataclass(frozen=True)
class CheckpointList:
    """A day's confirmed bookings of products that need passports, by product, slot and reference."""

    day: date
    bookings: list[CheckpointBooking]

    @property
    def travelers(self) -> int:
        return sum(len(b.travelers) for b in self.bookings)

    @property
    def missing(self) -> int:
        return sum(b.missing for b in self.bookings)

    def rows(self) -> list[list[str]]:
        """One row per traveler, in CSV_HEADER's columns."""
        rows: list[list[str]] = []
        for entry in self.bookings:
            b = entry.booking
            rows.extend([b.product_id, b.day.isoformat(), b.slot, b.ref, t.name, t.passport_no, t.nationality,
                         t.birth_date.isoformat(), b.contact_name, b.phone] for t in entry.travelers)
        return rows


class Staff:
    """Bookings as staff handle them, over the database and the product catalogue (content/products.yaml).

    `products` may be the catalogue or a callable giving it: the purge needs no content, and loading it
    would cost a command a second.
    """

    def __init__(self, db: Database, products: Catalogue | Callable[[], Catalogue], clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._products = products

    @property
    def products(self) -> Catalogue:
        return self._products() if callable(self._products) else self._products

    def checkpoint_list(self, day: date, product_id: str | None = None) -> CheckpointList:
        """`day`'s confirmed bookings of every product marked `passport: true`, or of `product_id` only."""
        products = self.products.needing_passports
        if product_id:
            if product_id not in {p.id for p in self.products}:
                raise UnknownProduct(f"no product {product_id!r} in content/products.yaml")
            products = {product_id}
        with self.db.session() as s:
            found = list(s.scalars(select(Booking).where(Booking.day == day, Booking.status.in_(GOING),
                                                         Booking.product_id.in_(products))
                                   .order_by(Booking.product_id, Booking.slot, Booking.ref)))
        recorded = passports.travelers(self.db, [b.ref for b in found])
        return CheckpointList(day, [CheckpointBooking(b, recorded[b.ref]) for b in found])

    def purge_travelers(self, days: int = 7) -> tuple[int, date]:
        """Delete the passport details of bookings more than `days` days past; (how many, the first day kept)."""
        before = self.clock.now().date() - timedelta(days=days)
        return passports.purge(self.db, before), before


def write_csv(found: CheckpointList, path: str) -> None:
    """The list as CSV, readable by its owner only (passport numbers in full); cells a spreadsheet would run
    as a formula are made plain text."""
    # O_CREAT without O_TRUNC: an existing file is made private (fchmod) before a byte of it changes.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    os.ftruncate(fd, 0)
    with open(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        writer.writerows([inert(cell) for cell in row] for row in found.rows())


def inert(cell: str) -> str:
    """`cell`, with a leading ' when a spreadsheet would read it as a formula (OWASP's CSV injection advice):
    a contact name typed in the chat as "=HYPERLINK(...)" or "-2+3" stays text."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def staff(ext: Any) -> Staff:
    """Staff operations over an app's services: `current_app.extensions["yjy"]` or its `Services`."""
    services = getattr(ext, "services", ext)
    return Staff(services.db, lambda: services.content.products, services.clock)
