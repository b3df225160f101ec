"""`flask --app wsgi channels create | list | report`: acquisition channels (influencers, campaigns, hotel desks),
their permanent QR codes, and what each brought (see `bot.followers.channels`)."""
from __future__ import annotations

from datetime import date
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import Day, audited

channels_cli = AppGroup("channels", help="Acquisition channels, their QR codes, and what each brought.")

COLUMNS = [("scans", "scans"), ("follows", "follows"), ("unfollows", "unfollows"), ("active", "active"),
           ("bookings", "bookings"), ("revenue_krw", "revenue KRW"), ("coupon_claims", "coupons"),
           ("coupons_used", "used")]


@channels_cli.command("create")
@click.argument("channel_id", metavar="ID")
@click.option("--name", default="", help="What marketers call it (default: the id).")
@click.option("--by", "created_by", help="Who creates it (default: your user name); audited.")
@audited
def channels_create(channel_id: str, name: str, created_by: str | None) -> None:
    """Create channel ID (1-64 letters, digits, _ or -) and its permanent QR code; an existing one is shown."""
    from wechatpy.exceptions import WeChatClientException

    from bot.followers import channels

    ext = current_app.extensions["yjy"]
    try:
        made = channels.create(ext.db, ext.wechat, channel_id, name, ext.clock.now())
    except channels.ChannelError as exc:
        raise click.BadParameter(str(exc), param_hint="ID") from None
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the QR code: {exc.errcode} {exc.errmsg}") from None
    c = made.channel
    click.echo(f"{'created' if made.new else 'exists already'}: {c.id} ({c.name})")
    click.echo(f"  QR code image: {c.image_url}")
    click.echo(f"  it encodes:    {c.url}")


@channels_cli.command("list")
def channels_list() -> None:
    """The channels, oldest first, with their QR code images."""
    from bot.cli.common import count
    from bot.followers import channels

    found = channels.all_channels(current_app.extensions["yjy"].db)
    for c in found:
        click.echo(f"{c.id:<24} {c.name}{' ' * max(1, 21 - _width(c.name))}{c.created_at:%Y-%m-%d}  {c.image_url}")
    click.echo(count(len(found), "channel"))


@channels_cli.command("report")
@click.option("--from", "first", type=Day(), required=True, help="First day (Seoul), included.")
@click.option("--to", "last", type=Day(), required=True, help="Last day (Seoul), included.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the report to this CSV file.")
def channels_report(first: date, last: date, csv_path: str | None) -> None:
    """Per channel, from --from to --to: scans, follows, unfollows, active travelers, bookings, paid revenue,
    coupon claims and uses."""
    from bot.followers import channels

    try:
        lines = channels.report(current_app.extensions["yjy"].db, first, last)
    except channels.ChannelError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    click.echo(f"channels {first.isoformat()} to {last.isoformat()} (Seoul)")
    for row in _table(lines):
        click.echo(row)
    if lines:
        click.echo("unfollows and active count a follower for their first and their last channel; bookings, revenue "
                   "and coupons for their first")
    if csv_path:
        _write_csv(lines, csv_path)
        click.echo(f"written to {csv_path}")


def _table(lines: list[Any]) -> list[str]:
    """Rows padded to their widest cell (names in Chinese count two columns each, as a terminal shows them)."""
    head = ["channel", "name", *(title for _, title in COLUMNS)]
    body = [[line.channel, line.name, *(f"{getattr(line, key):,}" for key, _ in COLUMNS)] for line in lines]
    totals = ["total", "", *(f"{sum(getattr(line, key) for line in lines):,}" for key, _ in COLUMNS)]
    rows = [head, *body, totals] if lines else [head]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        cells = [cell + " " * (widths[i] - _width(cell)) if i < 2 else " " * (widths[i] - _width(cell)) + cell
                 for i, cell in enumerate(row)]
        return "  ".join(cells).rstrip()

    out = [fmt(head), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in body]
    if lines:
        out += ["  ".join("-" * w for w in widths), fmt(totals)]
    else:
        out.append("(no channel yet: flask --app wsgi channels create ID --name NAME)")
    return out


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _write_csv(lines: list[Any], path: str) -> None:
    from bot.followers import channels

    with open(path, "w", newline="", encoding="utf-8") as out:
        channels.write_csv(lines, out)


def init_app(app: Flask) -> None:
    app.cli.add_command(channels_cli)
