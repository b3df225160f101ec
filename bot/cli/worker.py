"""`flask --app wsgi worker`: an RQ worker for the jobs in bot.jobs (late replies, confirmations, broadcasts)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker for late replies and broadcasts, inside this app's context."""
    from bot.infra.queue import WORKER_TTL_SECONDS, Worker

    ext = current_app.extensions["yjy"]
    if ext.config.embedded_redis:
        raise click.ClickException("the embedded runner executes jobs inline; a worker needs REDIS_URL")
    Worker([ext.queue], connection=ext.redis, worker_ttl=WORKER_TTL_SECONDS,
           maintenance_interval=ext.config.queue_maintenance_seconds).work(burst=burst, with_scheduler=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(worker)
