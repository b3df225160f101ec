"""Command line: Flask commands (`flask --app wsgi db upgrade | routing | worker`) and the dev runner."""
from __future__ import annotations

import argparse
import functools
import getpass
import logging
import os
import sys
from datetime import datetime
from typing import Any, Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bot.cli import replay as replay_cli

log = logging.getLogger(__name__)
db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION (default: head)."""
    ext = current_app.extensions["yjy"]
    ext.db.upgrade(revision)
    click.echo(f"database at {revision} ({ext.db.engine.dialect.name})")


products_cli = AppGroup("products", help="Bookable products (content/products.yaml).")


@products_cli.command("sync")
def products_sync() -> None:
    """Copy content/products.yaml into the database: upsert, retire what left the file. Safe to re-run."""
    from bot.bookings.orders import sync_catalogue

    ext = current_app.extensions["yjy"]
    report = sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
    for label, ids in (("added", report.added), ("updated", report.updated), ("retired", report.retired)):
        for product_id in ids:
            click.echo(f"{label:<8} {product_id}")
    click.echo(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.retired)} retired, "
               f"{len(report.unchanged)} unchanged ({ext.content.products.file})")


broadcast_cli = AppGroup("broadcast", help="Marketers' broadcasts (群发): plan, check, send, follow.")


def audited(command: Callable[..., None]) -> Callable[..., None]:
    """Write the command, who ran it and its exit code to the audit log the admin API writes to."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        code, error = 0, None
        try:
            command(*args, **kwargs)
        except click.ClickException as exc:
            code, error = exc.exit_code, exc.format_message()
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            raise
        finally:
            _audit(click.get_current_context(), kwargs.get("created_by"), code, error)

    return run


def who(by: str | None = None) -> str:
    """Who runs this command: `--by`, else the operating-system user."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return f"uid {os.getuid()}"


def _audit(ctx: click.Context, by: str | None, code: int, error: str | None) -> None:
    from datetime import timezone

    from bot.infra.db.models import AdminAudit

    words = [ctx.parent.info_name if ctx.parent else "", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value in (None, False, ()) or param.name == "created_by":
            continue
        if isinstance(param, click.Argument):
            words.append(os.path.basename(str(value)))
        else:
            flag = param.opts[-1]
            values = value if isinstance(value, tuple) else (value,)
            words.extend([flag] if value is True else [f"{flag} {v}" for v in values])
    try:
        with current_app.extensions["yjy"].db.session() as s:
            s.add(AdminAudit(at=datetime.now(timezone.utc), actor=f"cli:{who(by)}"[:60], method="CLI",
                             path=" ".join(w for w in words if w)[:200], status=code,
                             detail={"error": error[:300]} if error else {}))
    except Exception:  # noqa: BLE001 - the command's own outcome matters more; say so in the log
        log.exception("could not write the audit record for %s", ctx.info_name)


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
    import csv

    from bot.bookings import passports
    from bot.infra.db.models import Booking

    ext = current_app.extensions["yjy"]
    products = ext.content.products.needing_passports
    if product_id:
        if product_id not in {p.id for p in ext.content.products}:
            raise click.BadParameter(f"no product {product_id!r} in content/products.yaml", param_hint="--product")
        products = {product_id}
    with ext.db.session() as s:
        found = list(s.scalars(select(Booking).where(Booking.day == day.date(), Booking.status == "confirmed",
                                                     Booking.product_id.in_(products))
                               .order_by(Booking.product_id, Booking.slot, Booking.ref)))
    recorded = passports.travelers(ext.db, [b.ref for b in found])
    rows, missing = [], 0
    for b in found:
        party = b.adults + b.children
        missing += max(party - len(recorded[b.ref]), 0)
        click.echo(f"{b.ref} {b.product_id} {b.slot} party {party}: {len(recorded[b.ref])} passport(s)"
                   f"{'' if len(recorded[b.ref]) >= party else '  <- MISSING ' + str(party - len(recorded[b.ref]))}"
                   f"  contact {b.contact_name} {b.phone}")
        for t in recorded[b.ref]:
            click.echo(f"    {t.name:<24} {t.passport_no:<12} {t.nationality} {t.birth_date.isoformat()}")
            rows.append([b.product_id, b.day.isoformat(), b.slot, b.ref, t.name, t.passport_no, t.nationality,
                         t.birth_date.isoformat(), b.contact_name, b.phone])
    click.echo(f"{_count(len(found), 'booking')}, {_count(len(rows), 'traveler')} with passport details, "
               f"{missing} still missing")
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["product", "day", "slot", "booking", "name", "passport_no", "nationality",
                             "birth_date", "contact", "phone"])
            writer.writerows(rows)
        click.echo(f"written to {csv_path}")


@bookings_cli.command("purge-travelers")
@click.option("--days", default=7, show_default=True, type=click.IntRange(0, 3650),
              help="Keep the details of bookings up to this many days after the tour.")
@click.option("--by", "created_by", help="Who runs it (default: your user name); audited.")
@audited
def bookings_purge_travelers(days: int, created_by: str | None) -> None:
    """Delete passport details of bookings whose day is more than DAYS days past (run it daily, e.g. from cron)."""
    from datetime import timedelta

    from bot.bookings import passports

    ext = current_app.extensions["yjy"]
    before = ext.clock.now().date() - timedelta(days=days)
    deleted = passports.purge(ext.db, before)
    click.echo(f"deleted the passport details of {_count(deleted, 'traveler')} (bookings before {before.isoformat()})")


@broadcast_cli.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only print the audience size and a sample.")
@click.option("--by", "created_by", help="Who is creating it (default: your user name); kept with it and audited.")
@click.option("--openids-csv", type=click.Path(exists=True, dir_okay=False),
              help="Also limit the audience to the openids in this CSV's first column.")
@audited
def broadcast_create(file: str, dry_run: bool, created_by: str, openids_csv: str | None) -> None:
    """Validate FILE, freeze its audience into batches (or, with --dry-run, just show the audience)."""
    from dataclasses import replace
    from pathlib import Path

    from bot.broadcasts import planning as broadcasts
    from bot.infra.yamlfile import SourceError

    ext = current_app.extensions["yjy"]
    try:
        name, spec, segment = broadcasts.load_spec(Path(file), ext.content)
        if openids_csv:
            listed = broadcasts.read_openids_csv(Path(openids_csv))
            segment = replace(segment, all=False, openids=listed)
            spec = {**spec, "audience": {**{k: v for k, v in spec["audience"].items() if k != "all"},
                                         "openids_csv": openids_csv, "openids_count": len(listed)}}
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    now = ext.clock.now()
    if dry_run:
        sample = broadcasts.sample(ext.db, segment, now)
        click.echo(f"{name}: {segment.count(ext.db, now):,} subscribed followers, sent by {segment.mode}")
        click.echo("sample: " + (", ".join(sample) or "(nobody)"))
        return
    try:
        plan = broadcasts.create(ext.db, name, spec, segment, who(created_by), now)
    except broadcasts.PlanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"broadcast {plan.broadcast_id} planned: {_count(plan.audience, 'recipient')} in "
               f"{_count(plan.batches, 'batch', 'batches')} "
               f"({plan.mode}); {plan.skipped_monthly_limit:,} skipped (already reached 4 broadcasts this month). "
               f"Send with: flask --app wsgi broadcast send {plan.broadcast_id}")


@broadcast_cli.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", multiple=True, required=True, help="A test openid (repeatable): your own phone.")
@audited
def broadcast_preview(file: str, to: tuple[str, ...]) -> None:
    """Send FILE's message to test openids through WeChat's preview API, before planning it."""
    from pathlib import Path

    from wechatpy.exceptions import WeChatClientException

    from bot.broadcasts import sending as broadcast_send, planning as broadcasts
    from bot.broadcasts.news import NewsComposer
    from bot.infra.yamlfile import SourceError

    ext = current_app.extensions["yjy"]
    try:
        _name, spec, _segment = broadcasts.load_spec(Path(file), ext.content)
        refused = broadcast_send.preview(ext.api, spec, list(to), compose=NewsComposer(ext.services).payload)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    except (WeChatClientException, ValueError) as exc:
        raise click.ClickException(f"could not compose the message: {exc}") from None
    click.echo(f"preview sent to {len(to) - len(refused)} of {len(to)}"
               + (f"; refused: {', '.join(refused)}" if refused else ""))
    if refused:
        raise SystemExit(1)


@broadcast_cli.command("tag")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "tag_name", required=True, help="The WeChat tag to create (or reuse) and apply.")
@audited
def broadcast_tag(file: str, tag_name: str) -> None:
    """Tag FILE's audience on WeChat (and here), so a send-by-tag reaches the same followers."""
    from pathlib import Path

    from bot.broadcasts import planning as broadcasts, tags as tag_sync
    from bot.infra.yamlfile import SourceError

    ext = current_app.extensions["yjy"]
    try:
        _name, _spec, segment = broadcasts.load_spec(Path(file), ext.content)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    total = segment.count(ext.db, ext.clock.now())
    with click.progressbar(length=total, label=f"tagging {tag_name}") as bar:
        tag_id, done = tag_sync.sync(ext.db, ext.api, segment, tag_name, ext.clock.now(), progress=bar.update)
    click.echo(f"tag {tag_id} ({tag_name}) applied to {done:,} followers; send to them with audience: {{tag: {tag_id}}}")


@broadcast_cli.command("send")
@click.argument("broadcast_id", type=int)
@click.option("--now", "inline", is_flag=True, help="Send here and now instead of on the RQ worker.")
@click.option("--at", "at", help="Schedule (Asia/Seoul unless an offset is given), e.g. 2026-12-01T10:00")
@audited
def broadcast_send_cmd(broadcast_id: int, inline: bool, at: str | None) -> None:
    """Send (or resume) a planned broadcast: on the job queue, at a time, or --now."""
    from bot.broadcasts import sending as broadcast_send, planning as broadcasts
    from bot.broadcasts.news import NewsComposer

    ext = current_app.extensions["yjy"]
    if inline and at:
        raise click.UsageError("give --now or --at, not both")
    try:
        when = broadcasts.parse_send_time(at, ext.clock.now()) if at else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    try:
        if inline:
            broadcasts.check_sendable(ext.db, broadcast_id)
        else:
            broadcasts.queue_send(ext.db, ext.queue, broadcast_id, when, ext.config.embedded_redis)
    except broadcasts.NoScheduler as exc:
        raise click.ClickException(f"{exc}: use --now, or set REDIS_URL and run `flask --app wsgi worker`") from None
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if inline:
        with click.progressbar(length=len(_pending(broadcast_id)), label="batches") as bar:
            report = broadcast_send.send(ext.db, ext.api, ext.redis, ext.keys, broadcast_id,
                                         progress=lambda _batch: bar.update(1),
                                         compose=NewsComposer(ext.services).payload)
        click.echo(f"{report.status}: {_count(len(report.sent), 'batch', 'batches')} sent"
                   + (f" - {report.error}" if report.error else ""))
        if report.status == "stopped":
            raise SystemExit(1)
        return
    if when is not None:
        click.echo(f"broadcast {broadcast_id} scheduled for {_seoul(when)} Asia/Seoul")
    else:
        click.echo(f"broadcast {broadcast_id} queued; `flask --app wsgi worker` sends it")


def _filtered_out(batch) -> int | None:  # type: ignore[no-untyped-def]
    """WeChat's FilterCount is what is left after its filters; what was dropped is the rest."""
    if batch.total_count is None or batch.filter_count is None:
        return None
    return batch.total_count - batch.filter_count


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _pending(broadcast_id: int) -> list:
    from bot.broadcasts import planning as broadcasts

    return broadcasts.pending(current_app.extensions["yjy"].db, broadcast_id)


def _seoul(when) -> str:  # type: ignore[no-untyped-def]
    from bot.infra.clock import SEOUL

    return f"{(when.astimezone(SEOUL) if when.tzinfo else when):%Y-%m-%d %H:%M}"  # SQLite keeps Seoul wall time


def _results_line(r) -> str:  # type: ignore[no-untyped-def]
    if not r.batches_reported:
        return f"{r.batches_sent} of {_count(r.batches, 'batch', 'batches')} sent; WeChat has not reported yet"
    return (f"{r.batches_sent} of {_count(r.batches, 'batch', 'batches')} sent; WeChat reported "
            f"{r.batches_reported}: {r.delivered:,} of {r.total:,} delivered, {r.failed:,} failed, "
            f"{r.filtered_out:,} filtered out by WeChat")


@broadcast_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the newest broadcasts.")
def broadcast_list(limit: int) -> None:
    """The newest broadcasts: status, audience and what WeChat reported delivered."""
    from bot.broadcasts import planning as broadcasts
    from bot.infra.db.models import Broadcast

    ext = current_app.extensions["yjy"]
    with ext.db.session() as s:
        rows = list(s.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(max(1, limit))))
    if not rows:
        click.echo("no broadcasts yet: flask --app wsgi broadcast create FILE")
        return
    found = broadcasts.results(ext.db, [b.id for b in rows])
    click.echo(f"{'id':>5} {'status':<9} {'audience':>9} {'delivered':>9}  {'created (Seoul)':<16}  name")
    for b in rows:
        r = found[b.id]
        delivered = f"{r.delivered:,}" if r.batches_reported else "-"
        status = "scheduled" if b.status == "planned" and b.scheduled_at else b.status
        click.echo(f"{b.id:>5} {status:<9} {b.audience:>9,} {delivered:>9}  {_seoul(b.created_at)}  {b.name}")


@broadcast_cli.command("status")
@click.argument("broadcast_id", type=int)
def broadcast_status(broadcast_id: int) -> None:
    """The broadcast and a table of its batches (WeChat's counts arrive with MASSSENDJOBFINISH)."""
    from bot.broadcasts import planning as broadcasts
    from bot.infra.db.models import Broadcast, BroadcastBatch

    ext = current_app.extensions["yjy"]
    with ext.db.session() as s:
        b = s.get(Broadcast, broadcast_id)
        if b is None:
            raise click.ClickException(f"no broadcast {broadcast_id}")
        click.echo(f"#{b.id} {b.name}: {b.status}, {b.audience:,} recipients ({b.mode})"
                   + (f" - {b.error}" if b.error else ""))
        if b.status == "planned" and b.scheduled_at:
            click.echo(f"scheduled for {_seoul(b.scheduled_at)} Asia/Seoul (a worker with its scheduler sends it)")
        click.echo(_results_line(broadcasts.results(ext.db, [b.id])[b.id]))
        click.echo(f"{'seq':>4} {'size':>6} {'status':<8} {'tries':>5} {'msg_id':<12} {'total':>6} {'sent':>6} "
                   f"{'errors':>6} {'filtered out':>12}")
        rows = s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == broadcast_id)
                         .order_by(BroadcastBatch.seq))
        dash = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
        for r in rows:
            click.echo(f"{r.seq:>4} {r.size:>6,} {r.status:<8} {r.attempts:>5} {r.msg_id or '-':<12} "
                       f"{dash(r.total_count):>6} {dash(r.sent_count):>6} {dash(r.error_count):>6} "
                       f"{dash(_filtered_out(r)):>12}")


@broadcast_cli.command("cancel")
@click.argument("broadcast_id", type=int)
@audited
def broadcast_cancel(broadcast_id: int) -> None:
    """Stop a broadcast: batches not yet sent never go out (sent ones cannot be recalled here)."""
    from bot.broadcasts import planning as broadcasts

    try:
        broadcasts.cancel(current_app.extensions["yjy"].db, broadcast_id)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"broadcast {broadcast_id} cancelled")


menu_cli = AppGroup("menu", help="The WeChat custom menu (content/menu.yaml).")


@menu_cli.command("show")
def menu_show() -> None:
    """Print the menu as WeChat's menu/create body."""
    import json

    ext = current_app.extensions["yjy"]
    click.echo(json.dumps(ext.content.menu.to_wechat(ext.config.public_base_url), ensure_ascii=False, indent=2))


@menu_cli.command("push")
@audited
def menu_push() -> None:
    """Replace the account's menu with content/menu.yaml (WeChat shows it to followers within minutes)."""
    from wechatpy.exceptions import WeChatClientException

    from bot.wechat.menu import unanswered

    ext = current_app.extensions["yjy"]
    menu = ext.content.menu
    if missing := unanswered(menu, ext.dispatcher):
        raise click.ClickException("; ".join(f"{menu.file}, line {line}: no handler answers click key {key}"
                                             for key, line in missing))
    try:
        ext.api.post("menu/create", data=menu.to_wechat(ext.config.public_base_url))
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"menu pushed: {len(menu.buttons)} buttons, {len(menu.keys())} keys ({menu.file})")


@click.command("routing")
@with_appcontext
def routing() -> None:
    """Print the message routing table: what each handler answers."""
    for kind, value, handler in current_app.extensions["yjy"].dispatcher.rows():
        click.echo(f"{kind:<9} {value:<28} {handler}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker for late replies and broadcasts, inside this app's context."""
    from rq import Worker

    ext = current_app.extensions["yjy"]
    if ext.config.embedded_redis:
        raise click.ClickException("the embedded runner executes jobs inline; a worker needs REDIS_URL")
    Worker([ext.queue], connection=ext.redis).work(burst=burst, with_scheduler=True)


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(products_cli)
    app.cli.add_command(bookings_cli)
    app.cli.add_command(broadcast_cli)
    app.cli.add_command(menu_cli)
    app.cli.add_command(routing)
    app.cli.add_command(worker)


def main(argv: list[str] | None = None) -> int:
    """`yijiyou run`: the bot on embedded defaults, for a laptop with no servers; `yijiyou replay`: fixtures."""
    parser = argparse.ArgumentParser(prog="yijiyou", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the bot on embedded defaults (SQLite, in-process Redis)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5000)
    replay_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "replay":
        return replay_cli.run(args)

    from bot import create_app
    from bot.infra.config import ConfigError, load_config

    try:
        config = load_config(dev=True, overrides={"public_base_url": f"http://{args.host}:{args.port}",
                                                  "simulator.enabled": True})
        app = create_app(config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    w = config.wechat
    print(f"""
一机游首尔 bot, development mode (embedded Redis stand-in, database {config.database_url})
  webhook URL      : http://{args.host}:{args.port}/wechat
  Token            : {w.token}
  EncodingAESKey   : {w.encoding_aes_key}
  AppID            : {w.appid}
  message mode     : {w.mode}
  chat simulator   : http://{args.host}:{args.port}/simulator
Paste these into the WeChat test account's "接口配置信息" (behind a tunnel), or drive it with the tests.
""", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
