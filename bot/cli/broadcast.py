"""`flask --app wsgi broadcast ...`: marketers' broadcasts (群发), each command one call of the broadcast
service (bot.broadcasts.service) and a printout of its result. Changes are audited."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import audited, count, seoul, who

if TYPE_CHECKING:
    from bot.broadcasts.service import BroadcastService, Results

broadcast_cli = AppGroup("broadcast", help="Marketers' broadcasts (群发): plan, check, send, follow.")


def _service() -> BroadcastService:
    from bot.broadcasts.service import broadcast_service

    return broadcast_service(current_app.extensions["yjy"])


@broadcast_cli.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Only print the audience size and a sample.")
@click.option("--by", "created_by", help="Who is creating it (default: your user name); kept with it and audited.")
@click.option("--openids-csv", type=click.Path(exists=True, dir_okay=False),
              help="Also limit the audience to the openids in this CSV's first column.")
@audited
def broadcast_create(file: str, dry_run: bool, created_by: str, openids_csv: str | None) -> None:
    """Validate FILE, freeze its audience into batches (or, with --dry-run, just show the audience)."""
    from bot.broadcasts.errors import PlanError
    from bot.infra.yamlfile import SourceError

    service = _service()
    try:
        draft = service.load_file(Path(file), openids_csv)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if dry_run:  # counted as create would freeze it, and refused the same way
            found = service.dry_run(draft)
            click.echo(f"{found.name}: {found.audience:,} subscribed followers, sent by {found.mode} in "
                       f"{count(found.batches, 'batch', 'batches')}; {found.skipped_monthly_limit:,} skipped "
                       f"(already reached 4 broadcasts this month)")
            click.echo("sample: " + (", ".join(found.sample) or "(nobody)"))
            return
        plan = service.create(draft, who(created_by))
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"broadcast {plan.broadcast_id} planned: {count(plan.audience, 'recipient')} in "
               f"{count(plan.batches, 'batch', 'batches')} "
               f"({plan.mode}); {plan.skipped_monthly_limit:,} skipped (already reached 4 broadcasts this month). "
               f"Send with: flask --app wsgi broadcast send {plan.broadcast_id}")


@broadcast_cli.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", multiple=True, required=True, help="A test openid (repeatable): your own phone.")
@audited
def broadcast_preview(file: str, to: tuple[str, ...]) -> None:
    """Send FILE's message to test openids through WeChat's preview API, before planning it."""
    from bot.broadcasts.errors import MessageError
    from bot.infra.yamlfile import SourceError

    service = _service()
    try:
        refused = service.preview(service.load_file(Path(file)).spec, list(to))
    except (SourceError, MessageError) as exc:
        raise click.ClickException(str(exc)) from None
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
    from bot.infra.yamlfile import SourceError

    service = _service()
    try:
        draft = service.load_file(Path(file))
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    with click.progressbar(length=service.audience_size(draft), label=f"tagging {tag_name}") as bar:
        tag_id, done = service.tag(draft, tag_name, progress=bar.update)
    click.echo(f"tag {tag_id} ({tag_name}) applied to {done:,} followers; "
               f"send to them with audience: {{tag: {tag_id}}}")


@broadcast_cli.command("send")
@click.argument("broadcast_id", type=int)
@click.option("--now", "inline", is_flag=True, help="Send here and now instead of on the RQ worker.")
@click.option("--at", "at", help="Schedule (Asia/Seoul unless an offset is given), e.g. 2026-12-01T10:00")
@click.option("--skip-failed", is_flag=True,
              help="Give up on the batches WeChat refused (quota, ...): their followers do not get it.")
@audited
def broadcast_send_cmd(broadcast_id: int, inline: bool, at: str | None, skip_failed: bool) -> None:
    """Send (or resume) a planned broadcast: on the job queue, at a time, or --now. Batches WeChat refused
    are retried (same clientmsgid: never sent twice) unless --skip-failed gives up on them."""
    from bot.broadcasts.errors import NoScheduler

    service = _service()
    if inline and at:
        raise click.UsageError("give --now or --at, not both")
    try:
        when = service.parse_time(at) if at else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    try:
        if skip_failed:
            batches, followers = service.skip_failed(broadcast_id)
            click.echo(f"gave up on {count(batches, 'failed batch', 'failed batches')}: "
                       f"{count(followers, 'follower')} will not get this broadcast")
        if inline:
            pending = service.check_sendable(broadcast_id)
        else:
            when = service.queue_send(broadcast_id, when)
    except NoScheduler as exc:
        raise click.ClickException(f"{exc}: use --now, or set REDIS_URL and run `flask --app wsgi worker`") from None
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if inline:
        with click.progressbar(length=pending, label="batches") as bar:
            report = service.send_now(broadcast_id, progress=lambda _seq: bar.update(1))
        click.echo(f"{report.status}: {count(len(report.sent), 'batch', 'batches')} sent"
                   + (f" - {report.error}" if report.error else ""))
        if report.status == "stopped":
            click.echo(f"send again to retry (same clientmsgid: WeChat never sends a batch twice), or give up on "
                       f"the failed batches: flask --app wsgi broadcast send {broadcast_id} --skip-failed")
            raise SystemExit(1)
        return
    if when is not None:
        click.echo(f"broadcast {broadcast_id} scheduled for {seoul(when)} Asia/Seoul")
    else:
        click.echo(f"broadcast {broadcast_id} queued; `flask --app wsgi worker` sends it")


@broadcast_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the newest broadcasts.")
def broadcast_list(limit: int) -> None:
    """The newest broadcasts: status, audience and what WeChat reported delivered."""
    rows = _service().newest(limit)
    if not rows:
        click.echo("no broadcasts yet: flask --app wsgi broadcast create FILE")
        return
    click.echo(f"{'id':>5} {'status':<9} {'audience':>9} {'delivered':>9}  {'created (Seoul)':<16}  name")
    for b in rows:
        delivered = f"{b.results.delivered:,}" if b.results.batches_reported else "-"
        click.echo(f"{b.id:>5} {b.shown_status:<9} {b.audience:>9,} {delivered:>9}  {seoul(b.created_at)}  {b.name}")


@broadcast_cli.command("status")
@click.argument("broadcast_id", type=int)
def broadcast_status(broadcast_id: int) -> None:
    """The broadcast and a table of its batches (WeChat's counts arrive with MASSSENDJOBFINISH)."""
    try:
        found = _service().status(broadcast_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    b = found.broadcast
    click.echo(f"#{b.id} {b.name}: {b.status}, {b.audience:,} recipients ({b.mode})"
               + (f" - {b.error}" if b.error else ""))
    if b.status == "planned" and b.scheduled_at:
        click.echo(f"scheduled for {seoul(b.scheduled_at)} Asia/Seoul (a worker with its scheduler sends it)")
    click.echo(_results_line(b.results) + (f"; {count(b.not_reached, 'follower')} not reached (skipped)"
                                           if b.not_reached else ""))
    click.echo(f"{'seq':>4} {'size':>6} {'status':<8} {'tries':>5} {'msg_id':<12} {'total':>6} {'sent':>6} "
               f"{'errors':>6} {'filtered out':>12}")
    dash = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    for r in found.batches:
        click.echo(f"{r.seq:>4} {r.size:>6,} {r.status:<8} {r.attempts:>5} {r.msg_id or '-':<12} "
                   f"{dash(r.total):>6} {dash(r.sent):>6} {dash(r.errors):>6} {dash(r.filtered_out):>12}")
    for r in found.batches:
        if r.status == "failed":
            click.echo(f"batch {r.seq} ({count(r.size, 'follower')}) failed: {r.error or '-'}; "
                       f"`broadcast send {b.id}` retries it, `--skip-failed` gives up on it")
        elif r.status == "skipped":
            click.echo(f"batch {r.seq} ({count(r.size, 'follower')}) skipped: given up after {r.error or 'a failure'}")


def _results_line(r: Results) -> str:
    if not r.batches_reported:
        return f"{r.batches_sent} of {count(r.batches, 'batch', 'batches')} sent; WeChat has not reported yet"
    return (f"{r.batches_sent} of {count(r.batches, 'batch', 'batches')} sent; WeChat reported "
            f"{r.batches_reported}: {r.delivered:,} of {r.total:,} delivered, {r.failed:,} failed, "
            f"{r.filtered_out:,} filtered out by WeChat")


@broadcast_cli.command("cancel")
@click.argument("broadcast_id", type=int)
@audited
def broadcast_cancel(broadcast_id: int) -> None:
    """Stop a broadcast: batches not yet sent never go out (sent ones cannot be recalled here)."""
    try:
        _service().cancel(broadcast_id)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"broadcast {broadcast_id} cancelled")


def init_app(app: Flask) -> None:
    app.cli.add_command(broadcast_cli)
