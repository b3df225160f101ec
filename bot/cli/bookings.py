"""`flask --app wsgi bookings ...`: staff's commands (bot.bookings.staff): a day's orders, an order's history,
manual refunds, resent confirmations, group requests, the checkpoint list, the purge. Every one is audited."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Iterator

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import Day, audited, count, seoul, who

if TYPE_CHECKING:
    from bot.bookings.staff import OrderHistory, Staff

bookings_cli = AppGroup("bookings", help="Bookings, for staff.")
ORDER_STATUSES = ["pending_payment", "paid", "redeemed", "cancelled", "expired", "refunding", "refunded", "confirmed"]
GROUP_STATUSES = ["new", "contacted", "closed"]
# The service's field names, as the options that give them.
_OPTIONS = {"amount_krw": "--amount", "reason": "--reason", "status": "STATUS", "product": "--product"}


def _staff() -> Staff:
    from bot.bookings.staff import staff

    return staff(current_app.extensions["yjy"])


@contextmanager
def _refusals() -> Iterator[None]:
    """The service's refusals as click errors: a bad value names its option (exit 2), the rest exit 1."""
    from bot.bookings.staff import Invalid, NotFound, QueueDown, Refused, UnknownProduct

    try:
        yield
    except Invalid as exc:
        raise click.BadParameter(exc.message, param_hint=_OPTIONS.get(exc.field, exc.field)) from None
    except UnknownProduct as exc:
        raise click.BadParameter(str(exc), param_hint="--product") from None
    except (NotFound, Refused, QueueDown) as exc:
        raise click.ClickException(str(exc)) from None


def _krw(n: int) -> str:
    return f"{n:,} KRW"


def _when(value: datetime | None) -> str:
    return seoul(value) if value else "-"


@bookings_cli.command("orders")
@click.argument("day", type=Day(), metavar="DAY")
@click.option("--product", "product_id", help="Only this product.")
@click.option("--status", type=click.Choice(ORDER_STATUSES), help="Only orders in this status.")
@click.option("--by", "created_by", help="Who looks (default: your user name); audited.")
@audited
def bookings_orders(day: date, product_id: str | None, status: str | None, created_by: str | None) -> None:
    """DAY's orders, one a line (reference, product, slot, party, status, payment, total, paid at), and the
    totals per status."""
    with _refusals():
        found = _staff().orders(day, product_id, status)
    for b in found.orders:
        click.echo(f"{b.ref}  {b.product_id:<20} {b.slot}  party {b.adults + b.children:<3} {b.status:<15} "
                   f"{b.payment:<7} {_krw(b.total_krw):>12}  paid {_when(b.paid_at)}")
    for name, total in found.totals.items():
        click.echo(f"{name}: {count(total.orders, 'order')}, {_krw(total.krw)}")
    click.echo(f"{count(len(found.orders), 'order')} on {found.day.isoformat()}")


@bookings_cli.command("show")
@click.argument("ref")
@click.option("--by", "created_by", help="Who looks (default: your user name); audited.")
@audited
def bookings_show(ref: str, created_by: str | None) -> None:
    """The order REF (like YJ2ABCDE): its details, every change of its status (from, to, who, why, when) and
    its refunds."""
    with _refusals():
        found = _staff().history(ref)
    for line in _order_lines(found):
        click.echo(line)


def _order_lines(found: OrderHistory) -> Iterator[str]:
    b = found.booking
    yield f"{b.ref}  {b.product_id} ({b.product_name})  {b.day.isoformat()} {b.slot}"
    yield (f"  party {b.adults + b.children} ({b.adults} adult(s), {b.children} child(ren))  contact "
           f"{b.contact_name} {b.phone}")
    yield (f"  status {b.status}  payment {b.payment}  total {_krw(b.total_krw)}"
           f"{f' (price {_krw(b.price_krw)}, coupon {b.coupon_id} -{_krw(b.discount_krw)})' if b.discount_krw else ''}")
    paid = f"  WeChat Pay {b.pay_total} {b.pay_currency}" if b.pay_total else ""
    yield (f"  booked {_when(b.created_at)}  paid {_when(b.paid_at)}{paid}"
           f"{f'  transaction {b.transaction_id}' if b.transaction_id else ''}")
    if b.cancelled_at or b.redeemed_at:
        yield f"  cancelled {_when(b.cancelled_at)}  redeemed {_when(b.redeemed_at)} {b.redeemed_by or ''}".rstrip()
    yield "history:"
    for e in found.events:
        yield (f"  {_when(e.at)}  {e.from_status or '(new)'} -> {e.to_status}  by {e.actor}"
               f"{f'  ({e.reason})' if e.reason else ''}{f'  {e.detail}' if e.detail else ''}")
    yield f"refunds: {len(found.refunds)}, {_krw(found.refunded_krw)}"
    for r in found.refunds:
        yield (f"  {r.out_refund_no}  {_krw(r.amount_krw)} (WeChat Pay {r.pay_amount})  {r.status}  asked "
               f"{_when(r.created_at)} by {r.requested_by}  finished {_when(r.finished_at)}  {r.reason}")


@bookings_cli.command("refund")
@click.argument("ref")
@click.option("--amount", "amount_krw", type=click.IntRange(min=1), metavar="KRW",
              help="Won to give back (default: everything paid and not refunded yet).")
@click.option("--reason", required=True,
              help="Why (at most 80 characters); WeChat Pay shows it to the traveler with the refund.")
@click.option("--by", "created_by", help="Who refunds (default: your user name); audited, and in the order's history.")
@audited
def bookings_refund(ref: str, amount_krw: int | None, reason: str, created_by: str | None) -> None:
    """Refund the paid order REF: it goes to refunding, its seats are released and WeChat Pay is asked for
    the money by a job."""
    with _refusals():
        done = _staff().refund(ref, reason=reason, by=who(created_by), amount_krw=amount_krw)
    r = done.refund
    queued = "queued" if done.queued else "NOT queued (the job queue did not answer): the next payments sweep sends it"
    click.echo(f"{done.booking.ref} is {done.booking.status}: refund {r.out_refund_no} of {_krw(r.amount_krw)} "
               f"({r.pay_amount} {done.booking.pay_currency or 'KRW'} through WeChat Pay) {queued}")


@bookings_cli.command("resend")
@click.argument("ref")
@click.option("--by", "created_by", help="Who resends (default: your user name); audited.")
@audited
def bookings_resend(ref: str, created_by: str | None) -> None:
    """Send the confirmation template message of the paid or confirmed order REF again (one more message)."""
    with _refusals():
        booking = _staff().resend_confirmation(ref)
    click.echo(f"confirmation of {booking.ref} queued")


@bookings_cli.command("groups")
@click.option("--status", type=click.Choice(GROUP_STATUSES), help="Only requests in this status.")
@click.option("--by", "created_by", help="Who looks (default: your user name); audited.")
@audited
def bookings_groups(status: str | None, created_by: str | None) -> None:
    """Group requests, oldest first: reference, product, day, slot, party, contact (phone in full), when, status."""
    with _refusals():
        found = _staff().group_requests(status)
    for g in found:
        click.echo(f"{g.ref}  {g.product_id:<20} {g.day.isoformat()} {g.slot}  party {g.adults + g.children:<4} "
                   f"{g.contact_name} {g.phone}  asked {_when(g.created_at)}  {g.status}")
    click.echo(count(len(found), "group request"))


@bookings_cli.command("group-status")
@click.argument("ref")
@click.argument("status", type=click.Choice(["contacted", "closed"]))
@click.option("--by", "created_by", help="Who (default: your user name); audited.")
@audited
def bookings_group_status(ref: str, status: str, created_by: str | None) -> None:
    """Mark the group request REF contacted or closed (new -> contacted -> closed; never back)."""
    with _refusals():
        moved = _staff().set_group_status(ref, status, by=who(created_by))
    click.echo(f"{moved.request.ref} is {moved.request.status}{'' if moved.changed else ' (it was already)'}")


@bookings_cli.command("travelers")
@click.argument("day", type=Day(), metavar="DAY")
@click.option("--product", "product_id", help="Only this product (default: every product that needs passports).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the list to this CSV file (passport numbers in full: keep it safe, delete it after).")
@click.option("--by", "created_by", help="Who exports it (default: your user name); audited.")
@audited
def bookings_travelers(day: date, product_id: str | None, csv_path: str | None,
                       created_by: str | None) -> None:
    """The travelers' passport details of DAY's bookings (the DMZ checkpoint list), and who is still missing."""
    from bot.bookings.staff import UnknownProduct, staff, write_csv

    try:
        found = staff(current_app.extensions["yjy"]).checkpoint_list(day, product_id)
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
