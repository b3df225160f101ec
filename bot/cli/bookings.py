"""`flask --app wsgi bookings ...`: staff's commands (bot.bookings.staff): the checkpoint list, the purge."""
from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import audited, count

bookings_cli = AppGroup("bookings", help="Bookings, for staff.")


@bookings_cli.command("travelers")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]), metavar="DAY")
@click.option("--product", "product_id", help="Only this product (default: every product that needs passports).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the list to this CSV file (passport numbers in full: keep it safe, delete it after).")
@click.option("--by", "created_by", help="Who exports it (default: your user name); audited.")
@audited
def bookings_travelers(day: datetime, product_id: str | None, csv_path: str | None,
                       created_by: str | None) -> None:
    """The travelers' passport details of DAY's bookings (the DMZ checkpoint list), and who is still missing."""
    from bot.bookings.staff import UnknownProduct, staff, write_csv

    try:
        found = staff(current_app.extensions["yjy"]).checkpoint_list(day.date(), product_id)
    except UnknownProduct as exc:
        raise click.BadParameter(str(exc), param_hint="--product") from None
    for entry in found.bookings:
        b, got = entry.booking, len(entry.travelers)
        click.echo(f"{b.ref} {b.product_id} {b.slot} party {entry.party}: {got} passport(s)"
                   f"{'' if got >= entry.party else '  <- MISSING ' + str(entry.party - got)}"
                   f"  contact {b.contact_name} {b.phone}")
        for t in entry.travelers:
            click.echo(f"    {t.name:<24} {t.passport_no:<12} {t.nationality} {t.birth_date.isoformat()}")
    click.echo(f"{count(len(found.bookings), 'booking')}, {count(found.travelers, 'traveler')} with passport "
               f"details, {found.missing} still missing")
    if csv_path:
        write_csv(found, csv_path)
        click.echo(f"written to {csv_path}")


@bookings_cli.command("purge-travelers")
@click.option("--days", default=7, show_default=True, type=click.IntRange(0, 3650),
              help="Keep the details of bookings up to this many days after the tour.")
@click.option("--by", "created_by", help="Who runs it (default: your user name); audited.")
@audited
def bookings_purge_travelers(days: int, created_by: str | None) -> None:
    """Delete passport details of bookings whose day is more than DAYS days past (run it daily, e.g. from cron)."""
    from bot.bookings.staff import staff

    deleted, before = staff(current_app.extensions["yjy"]).purge_travelers(days)
    click.echo(f"deleted the passport details of {count(deleted, 'traveler')} (bookings before {before.isoformat()})")


def init_app(app: Flask) -> None:
    app.cli.add_command(bookings_cli)
