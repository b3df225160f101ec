"""`flask --app wsgi products sync`: the bookable products of content/products.yaml, into the database."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

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


def init_app(app: Flask) -> None:
    app.cli.add_command(products_cli)
