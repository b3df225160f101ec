"""Command line: Flask commands (`flask --app wsgi db upgrade | routing | worker`) and the dev runner."""
from __future__ import annotations

import argparse
import sys

from flask import Flask

from bot.cli import bookings, broadcast, channels, db, inbox, live, menu, payments, products, routing, worker
from bot.cli import insights as insights_cli
from bot.cli import replay as replay_cli
from bot.cli import run as run_cli


def register(app: Flask) -> None:
    """Add every command group to `flask --app wsgi ...`."""
    for group in (db, products, bookings, payments, broadcast, channels, menu, routing, worker, live, inbox):
        group.init_app(app)
    insights_cli.init_app(app)


def main(argv: list[str] | None = None) -> int:
    """`yijiyou run`: the bot on embedded defaults, for a laptop with no servers; `yijiyou replay`: fixtures."""
    parser = argparse.ArgumentParser(prog="yijiyou", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_cli.add_parser(sub)
    replay_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "replay":
        return replay_cli.run(args)
    return run_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
