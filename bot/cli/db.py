"""`flask --app wsgi db upgrade`: the database schema (Alembic migrations)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION (default: head)."""
    ext = current_app.extensions["yjy"]
    ext.db.upgrade(revision)
    click.echo(f"database at {revision} ({ext.db.engine.dialect.name})")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
