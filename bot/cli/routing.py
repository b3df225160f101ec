"""`flask --app wsgi routing`: what wins, and the routing table (which handler answers what)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("routing")
@with_appcontext
def routing() -> None:
    """Print the routing priority and the table of routes in that order."""
    from bot.conversation.router import PRIORITY, Dispatcher
    from bot.services import load_routers

    # The table alone needs no content: building the routers' table checks for routes registered twice.
    dispatcher = Dispatcher(load_routers(current_app.extensions["yjy"].config.routers))
    click.echo("priority (the first that matches answers):")
    for n, (kind, meaning) in enumerate(PRIORITY, 1):
        click.echo(f"  {n}. {kind:<9} {meaning}")
    click.echo("")
    click.echo("inline: on the request's thread (no I/O); pool (io): in the handler pool, under the reply deadline\n")
    for kind, value, handler, runs in dispatcher.rows():
        click.echo(f"{kind:<9} {value:<28} {handler:<32} {runs}")


def init_app(app: Flask) -> None:
    app.cli.add_command(routing)
