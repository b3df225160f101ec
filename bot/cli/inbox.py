"""`flask --app wsgi inbox ...`: the staff inbox (bot.inbox): hand-offs, complaints and group requests in one list,
one item with the traveler's messages, assign, reply through WeChat's customer-service API, close. Every command
is audited; a reply's audit row names the item and the outcome, never the words."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Iterator

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import audited, count, seoul, who

if TYPE_CHECKING:
    from bot.inbox import Inbox, Item

inbox_cli = AppGroup("inbox", help="The staff inbox: hand-offs, complaints, group requests; replies to travelers.")
STATUSES = ["open", "assigned", "answered", "closed"]
KINDS = ["handoff", "complaint", "group"]
COLUMNS = "{id:<10} {kind:<9} {status:<8} {who:<14} {since:<16}  {summary}"


def _inbox() -> Inbox:
    from bot.inbox import inbox

    return inbox(current_app.extensions["yjy"])


@contextmanager
def _refusals() -> Iterator[None]:
    """The inbox's refusals as click errors: a bad value exits 2, the rest (unknown, closed, WeChat) 1."""
    from bot.inbox import InboxError

    try:
        yield
    except InboxError as exc:
        if exc.status == 400:
            raise click.UsageError(exc.message) from None
        raise click.ClickException(exc.message) from None


def _when(value: datetime | None) -> str:
    return seoul(value) if value else "-"


def _who(item: Item) -> str:
    if item.assignee:
        return item.assignee
    return "kf agent" if item.transferred else "-"


@inbox_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only items in this status (default: all not closed).")
@click.option("--kind", type=click.Choice(KINDS), help="Only hand-offs, complaints or group requests.")
@click.option("--mine", metavar="NAME", help="Only items assigned to NAME.")
@click.option("--by", "created_by", help="Who looks (default: your user name); audited.")
@audited
def inbox_list(status: str | None, kind: str | None, mine: str | None, created_by: str | None) -> None:
    """Items oldest first (the traveler who has waited longest on top; closed ones newest first): id, kind,
    status, who has it, since when, what they asked. "kf agent": a WeChat kf agent took the conversation."""
    box = _inbox()
    with _refusals():
        found = box.items(status=status, kind=kind, assignee=mine)
    click.echo(COLUMNS.format(id="ID", kind="KIND", status="STATUS", who="WHO", since="SINCE", summary="ASKED"))
    for item in found:
        click.echo(COLUMNS.format(id=item.id, kind=item.kind, status=item.status, who=_who(item)[:14],
                                  since=_when(item.created_at), summary=" ".join(item.summary.split())))
    counts = box.counts()
    click.echo(f"{count(len(found), 'item')}; in all: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


@inbox_cli.command("show")
@click.argument("item_id", metavar="ID")
@click.option("--by", "created_by", help="Who looks (default: your user name); audited.")
@audited
def inbox_show(item_id: str, created_by: str | None) -> None:
    """Item ID (H12, GR2ABCDE): who, status, the traveler's messages and staff's replies in order, and how long
    WeChat still lets staff answer."""
    with _refusals():
        item = _inbox().get(item_id)
    for line in _item_lines(item):
        click.echo(line)


def _item_lines(item: Item) -> Iterator[str]:
    yield f"{item.id}  {item.kind}  {item.status}  assigned to {_who(item)}"
    yield (f"  traveler {item.openid}  language {item.lang}  since {_when(item.created_at)}  answered "
           f"{_when(item.answered_at)}  closed {_when(item.closed_at)}")
    if item.window_ends is None:
        yield "  reply window: none (closed, or no message from the traveler on record)"
    else:
        yield (f"  reply window: until {_when(item.window_ends)} (Seoul), "
               f"{count(item.replies_left or 0, 'customer-service message')} left")
    yield "messages:"
    dated = False  # undated messages before the request are earlier ones; after it, recent ones (time not kept)
    for m in item.messages:
        dated = dated or m.at is not None
        stamp = _when(m.at) if m.at else ("(recent)" if dated else "(earlier)")
        lines = m.text.splitlines() or [""]
        yield f"  {stamp:<16}  {m.who}: {lines[0]}"
        for line in lines[1:]:
            yield f"{' ' * 20}{line}"


@inbox_cli.command("assign")
@click.argument("item_id", metavar="ID")
@click.argument("name")
@click.option("--by", "created_by", help="Who assigns (default: your user name); audited.")
@audited
def inbox_assign(item_id: str, name: str, created_by: str | None) -> None:
    """Give item ID to NAME (open -> assigned)."""
    with _refusals():
        item = _inbox().assign(item_id, name, by=who(created_by))
    click.echo(f"{item.id} is {item.status}, assigned to {item.assignee}")


@inbox_cli.command("reply")
@click.argument("item_id", metavar="ID")
@click.argument("text", required=False)
@click.option("--file", "source", type=click.File("r", encoding="utf-8"),
              help="Read the reply from this file ('-': standard input) instead of TEXT.")
@click.option("--reply-id", help="Your id for this reply: sent once however often the command is repeated with it "
                                 "(default: the item and the words, for 10 minutes).")
@click.option("--by", "created_by", help="Who answers (default: your user name); audited, and shown as the sender.")
def inbox_reply(item_id: str, text: str | None, source: IO[str] | None, reply_id: str | None,
                created_by: str | None) -> None:
    """Send TEXT (at most 600 characters) to the traveler of item ID through WeChat's customer-service API.
    Refused, with the reason, outside WeChat's 48-hour window, after 5 messages since the traveler last wrote, or
    when they unfollowed; a sent reply makes the item answered."""
    code = 1
    detail: dict[str, Any] = {"item": item_id[:20]}
    try:
        if (text is None) == (source is None):
            raise click.UsageError("give the reply as TEXT or with --file, not both")
        body = source.read() if source is not None else text or ""
        with _refusals():
            sent = _inbox().reply(item_id, body, by=who(created_by), reply_id=reply_id)
        detail.update(sent=sent.sent, reason=sent.reason[:300])
        if not sent.sent:
            raise click.ClickException(f"not sent: {sent.reason}")
        code = 0
        click.echo(f"{item_id.strip().upper()}: sent")
    except click.ClickException as exc:
        code = exc.exit_code
        detail.setdefault("error", exc.format_message()[:300])
        raise
    finally:
        _audit_reply(item_id, created_by, code, detail)


def _audit_reply(item_id: str, by: str | None, code: int, detail: dict[str, Any]) -> None:
    """`audited` would store the words (an argument): this row names the item and the outcome only."""
    from bot.infra import audit

    audit.record(current_app.extensions["yjy"].db, actor=f"cli:{who(by)}", method="CLI",
                 path=f"inbox reply {item_id[:40]}", status=code, detail=detail)


@inbox_cli.command("close")
@click.argument("item_id", metavar="ID")
@click.option("--by", "created_by", help="Who closes it (default: your user name); audited.")
@audited
def inbox_close(item_id: str, created_by: str | None) -> None:
    """Close item ID: nothing more to do."""
    with _refusals():
        item = _inbox().close(item_id, by=who(created_by))
    click.echo(f"{item.id} is closed")


def init_app(app: Flask) -> None:
    app.cli.add_command(inbox_cli)
