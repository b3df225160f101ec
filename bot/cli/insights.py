"""`flask --app wsgi insights [unanswered | daily | intents | flush | purge]`: what travelers ask, what the bot
missed, and the share answered (see `bot.insights`). With no subcommand: the answer rate of the last 7 days and
the 10 questions asked most without an answer."""
from __future__ import annotations

import unicodedata
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from bot.cli.common import audited, count

DAYS = click.IntRange(1, 365)
BY_DAY_MAX = 14  # `intents` shows a column per day for periods up to this long


@click.group("insights", cls=AppGroup, invoke_without_command=True,
             help="What travelers ask, what the bot missed, and the share answered.")
@click.pass_context
@with_appcontext
def insights_cli(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from bot.insights import report

    ext = current_app.extensions["yjy"]
    figures = report.daily(ext, days=7)
    messages, answered = sum(f.messages for f in figures), sum(f.answered for f in figures)
    share = f"{answered / messages:.1%}" if messages else "-"
    click.echo(f"last 7 days (Seoul, {figures[0].day} to {figures[-1].day}): {count(messages, 'message')}, "
               f"{answered:,} answered ({share})")
    click.echo("")
    click.echo("asked most without an answer:")
    _unanswered_table(report.unanswered(ext, days=7, limit=10))
    click.echo("")
    click.echo("more: flask --app wsgi insights unanswered | daily | intents (each with --help)")


@insights_cli.command("unanswered")
@click.option("--days", type=DAYS, default=7, show_default=True, help="Seoul days, today included.")
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True, help="Questions shown.")
def insights_unanswered(days: int, limit: int) -> None:
    """Questions that reached the fallback, a low-confidence guess or a request for a person, the same question in
    different words together, most asked first: what content to add next."""
    from bot.insights import report

    groups = report.unanswered(current_app.extensions["yjy"], days=days, limit=limit)
    click.echo(f"unanswered questions, last {count(days, 'day')} (Seoul), most asked first")
    _unanswered_table(groups)


@insights_cli.command("daily")
@click.option("--days", type=DAYS, default=14, show_default=True, help="Seoul days, today included.")
def insights_daily(days: int) -> None:
    """Messages per day, how many were answered, and the share."""
    from bot.insights import report

    figures = report.daily(current_app.extensions["yjy"], days=days)
    rows = [[f.day.isoformat(), f"{f.messages:,}", f"{f.answered:,}", _share(f.answered, f.messages)]
            for f in figures]
    messages, answered = sum(f.messages for f in figures), sum(f.answered for f in figures)
    _table(["day", "messages", "answered", "share"], rows, right={1, 2, 3},
           total=["total", f"{messages:,}", f"{answered:,}", _share(answered, messages)])


@insights_cli.command("intents")
@click.option("--days", type=DAYS, default=7, show_default=True, help="Seoul days, today included.")
def insights_intents(days: int) -> None:
    """Messages per understood intent, most frequent first, and per day for periods of up to two weeks."""
    from bot.insights import report

    by_day = report.intents_by_day(current_app.extensions["yjy"], days=days)
    found = report.ranked(by_day)
    total = sum(n for _, n in found)
    per_day = by_day if days <= BY_DAY_MAX else {}
    click.echo(f"intents, last {count(days, 'day')} (Seoul)")
    _table(["intent", "messages", "share", *(f"{d:%m-%d}" for d in per_day)],
           [[intent, f"{n:,}", _share(n, total), *(f"{per_day[d].get(intent, 0):,}" for d in per_day)]
            for intent, n in found],
           right=set(range(1, 3 + len(per_day))), empty="(no message understood in this period)")


@insights_cli.command("flush")
def insights_flush() -> None:
    """Move the message events waiting in Redis into the database now (a worker does it every minute)."""
    from bot.insights.flush import flush

    done = flush(current_app.extensions["yjy"])
    click.echo(f"flushed: {done}")
    if done.failed:
        raise click.ClickException(f"{len(done.failed)} batch(es) not applied (see the log); they stay in Redis "
                                   "for the next flush")


@insights_cli.command("purge")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="Keep this many days (default: insights.keep_raw_days of the config).")
@click.option("--by", "created_by", help="Who runs it (default: your user name); audited.")
@audited
def insights_purge(days: int | None, created_by: str | None) -> None:
    """Delete raw unanswered texts and blank closed hand-off texts older than the retention period; the counts
    stay. A worker runs it daily."""
    from bot.insights.retention import purge

    click.echo(f"purged: {purge(current_app.extensions['yjy'], days=days)}")


# --- tables ---------------------------------------------------------------------------------------
def _unanswered_table(groups: list[Any]) -> None:
    from bot.cli.common import seoul

    rows = [[str(g.count), str(g.travelers), _cut(g.title, 40), _cut(_variants(g.variants), 44),
             ", ".join(f"{route.rsplit('.', 1)[-1]} {n}" for route, n in g.routes.items()), seoul(g.last_seen)]
            for g in groups]
    _table(["count", "travelers", "question", "other wordings", "routes", "last seen"], rows, right={0, 1},
           empty="(nothing unanswered in this period)")


def _variants(variants: list[tuple[str, int]]) -> str:
    return " | ".join(f"{text} ×{n}" for text, n in variants)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _table(head: list[str], rows: list[list[str]], *, right: set[int], total: list[str] | None = None,
           empty: str = "") -> None:
    """Columns padded to their widest cell (a Chinese character takes two columns, as terminals show it)."""
    every = [head, *rows, *([total] if total else [])]
    widths = [max(_width(r[i]) for r in every) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "  ".join(" " * (widths[i] - _width(c)) + c if i in right else c + " " * (widths[i] - _width(c))
                         for i, c in enumerate(row)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    click.echo(line(head))
    click.echo(rule)
    for row in rows:
        click.echo(line(row))
    if not rows and empty:
        click.echo(empty)
    if total and rows:
        click.echo(rule)
        click.echo(line(total))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cut(text: str, columns: int) -> str:
    """At most `columns` wide, "…" marking a cut; one line."""
    text = " ".join(text.split())
    if _width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        used += _width(ch)
        if used > columns - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def init_app(app: Flask) -> None:
    app.cli.add_command(insights_cli)
