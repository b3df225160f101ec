"""Command line: Flask commands (`flask --app wsgi db upgrade | routing | worker`) and the dev runner."""
from __future__ import annotations

import argparse
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

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
    from .bookings import sync_catalogue

    ext = current_app.extensions["yjy"]
    report = sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
    for label, ids in (("added", report.added), ("updated", report.updated), ("retired", report.retired)):
        for product_id in ids:
            click.echo(f"{label:<8} {product_id}")
    click.echo(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.retired)} retired, "
               f"{len(report.unchanged)} unchanged ({ext.content.products.file})")


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
    app.cli.add_command(routing)
    app.cli.add_command(worker)


def main(argv: list[str] | None = None) -> int:
    """`yijiyou run`: the bot on embedded defaults, for a laptop with no servers."""
    parser = argparse.ArgumentParser(prog="yijiyou", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the bot on embedded defaults (SQLite, in-process Redis)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    from . import create_app
    from .config import ConfigError, load_config

    try:
        config = load_config(dev=True, overrides={"public_base_url": f"http://{args.host}:{args.port}"})
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
Paste these into the WeChat test account's "接口配置信息" (behind a tunnel), or drive it with the tests.
""", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
