"""Privacy and integrity around bookings, without a database: passport fields no longer than their columns,
the staff CSV (private file, no formulas), the audited command line keeping falsy values."""

from __future__ import annotations

import csv
import os
import stat
from datetime import date, datetime

import click
import pytest

from bot.bookings.passports import NAME_MAX, NUMBER_MAX, PassportProblem, parse
from bot.bookings.staff import CheckpointBooking, CheckpointList, write_csv
from bot.cli.common import command_line
from bot.infra.clock import SEOUL
from bot.infra.db.models import Booking, BookingTraveler
from bot.infra.text import inert

TODAY = date(2026, 11, 25)


# --- passport fields fit their columns ----------------------------------------------------------------
def test_the_limits_are_the_model_columns():
    columns = BookingTraveler.__table__.c
    assert (columns.name.type.length, columns.passport_no.type.length) == (NAME_MAX, NUMBER_MAX)


def test_a_name_longer_than_its_column_is_refused_before_the_database():
    longest = "ZHANG " + "W" * (NAME_MAX - len("ZHANG "))
    assert parse(f"{longest} E12345678 1990-01-01", TODAY).name == longest  # exactly the column: kept
    with pytest.raises(PassportProblem) as info:
        parse(f"{longest}W E12345678 1990-01-01", TODAY)
    assert str(info.value) == "name_too_long"
    with pytest.raises(PassportProblem, match="name_too_long"):
        parse("ZHANG " + "W" * 85 + " E12345678 1990-01-01", TODAY)  # the 90-letter name of the issue


# --- the staff CSV --------------------------------------------------------------------------------------
def checkpoint(*names: str, contact: str = "张伟") -> CheckpointList:
    booking = Booking(ref="YJ2345AB", product_id="dmz_tour", day=date(2026, 12, 9), slot="07:30", adults=len(names),
                      children=0, contact_name=contact, phone="+8613812345678")
    travelers = [BookingTraveler(booking_ref="YJ2345AB", passport_no=f"E1234567{i}", name=name, nationality="CHN",
                                 birth_date=date(1990, 1, 1), received_at=datetime(2026, 11, 25, tzinfo=SEOUL))
                 for i, name in enumerate(names)]
    return CheckpointList(date(2026, 12, 9), [CheckpointBooking(booking, travelers)])


def read(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_the_csv_is_readable_by_its_owner_only(tmp_path):
    fresh = tmp_path / "new.csv"
    write_csv(checkpoint("ZHANG WEI"), str(fresh))
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600

    old = tmp_path / "old.csv"  # last week's list, left world-readable and longer than this one
    old.write_text("stale\n" * 100, encoding="utf-8")
    os.chmod(old, 0o644)
    write_csv(checkpoint("LI NA"), str(old))
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o600
    assert [row[4] for row in read(str(old))] == ["name", "LI NA"]  # replaced, not appended to


def test_cells_a_spreadsheet_would_run_are_text(tmp_path):
    out = tmp_path / "list.csv"
    write_csv(checkpoint('=HYPERLINK("http://evil.example","x")', "-2+3", "ZHANG WEI",
                         contact="@SUM(A1:A9)"), str(out))
    rows = read(str(out))
    assert [row[4] for row in rows[1:]] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'-2+3", "ZHANG WEI"]
    assert rows[1][8:] == ["'@SUM(A1:A9)", "'+8613812345678"]
    assert rows[1][:4] == ["dmz_tour", "2026-12-09", "07:30", "YJ2345AB"]  # plain cells untouched


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_every_formula_start_is_quoted(cell):
    assert inert(cell) == "'" + cell
    assert inert("a" + cell) == "a" + cell


# --- the audited command line -----------------------------------------------------------------------------
@click.command("purge")
@click.argument("folder")
@click.option("--days", type=int, default=7)
@click.option("--note", default=None)
@click.option("--strict", type=bool, default=True)
@click.option("--dry-run", is_flag=True)
@click.option("--tag", "tags", multiple=True)
def purge(**_: object) -> None:
    """A command with every kind of parameter."""


@pytest.mark.parametrize("args,audited", [
    (["/tmp/x/list.csv", "--days", "0", "--note", "", "--strict", "false"],
     "purge list.csv --days 0 --note '' --strict False"),
    (["0", "--dry-run", "--tag", "a", "--tag", "b"], "purge 0 --days 7 --strict True --dry-run --tag a --tag b"),
])
def test_falsy_values_are_audited(args, audited):
    assert command_line(purge.make_context("purge", args)) == audited
