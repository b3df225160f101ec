"""`flask --app wsgi payments sweep`: expire unpaid holds, apply payments whose notification was lost (by
query), send and check refunds. Workers run it every minute by themselves; this is for cron or by hand."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import audited

payments_cli = AppGroup("payments", help="WeChat Pay: reconciliation.")


@payments_cli.command("sweep")
@click.option("--by", "created_by", help="Who runs it (audit log); default: the system user.")
@audited
def payments_sweep(created_by: str | None) -> None:
    """Expire unpaid holds, find lost payment notifications, send and check refunds (safe to run any time)."""
    ext = current_app.extensions["yjy"]
    report = ext.payments.sweep(ext.clock.now())
    for label, refs in (("expired", report.expired), ("paid (notification lost)", report.paid),
                        ("closed at WeChat Pay", report.closed), ("refunds sent", report.refunds_sent),
                        ("refunds done", report.refunds_done), ("not done yet", report.errors)):
        click.echo(f"{label}: {len(refs)}" + (f"  {', '.join(refs)}" if refs else ""))
    if report.paid:
        from bot.infra import queue

        for ref in report.paid:
            queue.enqueue_after_payment(ext.queue, ref, "paid")


def init_app(app: Flask) -> None:
    app.cli.add_command(payments_cli)
