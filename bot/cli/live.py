"""`flask --app wsgi live refresh weather|air|all`: fetch live data into the shared cache (cron, or by hand).

Each kind of data is one small function registered with `@refresher("name")`: it refreshes and returns the lines
to print. `refresh all` runs every one of them. A source without its key refreshes from its recorded sample.
"""
from __future__ import annotations

from typing import Any, Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup

live_cli = AppGroup("live", help="Live data (weather, air ...): refresh the cached readings.")
Refresher = Callable[[Any], list[str]]  # the app's extension -> lines to print
REFRESHERS: dict[str, Refresher] = {}


@live_cli.group("refresh")
def refresh_cli() -> None:
    """Refresh one kind of live data (or all): only calls that can bring newer data count against a quota."""


def refresher(name: str) -> Callable[[Refresher], Refresher]:
    """Register `flask --app wsgi live refresh <name>`."""
    def register(fn: Refresher) -> Refresher:
        REFRESHERS[name] = fn

        @refresh_cli.command(name, help=fn.__doc__)
        def command() -> None:
            _echo(name, fn(current_app.extensions["yjy"]))
        return fn
    return register


@refresh_cli.command("all")
def refresh_all() -> None:
    """Every kind, one after the other."""
    ext = current_app.extensions["yjy"]
    for name, fn in REFRESHERS.items():
        _echo(name, fn(ext))


def _echo(name: str, lines: list[str]) -> None:
    for line in lines:
        click.echo(f"{name}: {line}")


def _sample(sample: bool) -> list[str]:
    if not sample:
        return []
    return ["no DATA_GO_KR_KEY: the sample in content/live/ (illustrative figures) is cached, nothing is fetched"]


def _calls(ext: Any, source: str) -> str:
    day = ext.clock.now().date().isoformat()
    return f"{source} calls today ({day}): {ext.live_store.calls(source, day)} of {ext.config.live.quotas[source]}"


@refresher("weather")
def refresh_weather(ext: Any) -> list[str]:
    """KMA forecast for Seoul and the grid cells travelers asked about in the last three hours."""
    from bot.live.weather import Weather, cell_key

    weather = Weather.from_config(ext.config.live, ext.config.content_dir, ext.live_store, ext.clock)
    lines = [f"{cell_key(r.cell)} {r.outcome}" + (f" ({', '.join(r.calls)})" if r.calls else "")
             for r in weather.refresh()]
    return [*_sample(weather.provider.sample), *lines, _calls(ext, "kma")]


@refresher("air")
def refresh_air(ext: Any) -> list[str]:
    """AirKorea: every Seoul station in one call, unless the latest hour is cached already."""
    from bot.live.air import Air

    air = Air.from_config(ext.config.live, ext.config.content_dir, ext.live_store, ext.clock)
    return [*_sample(air.provider.sample), f"seoul {air.refresh()}", _calls(ext, "airkorea")]


@refresher("crowd")
def refresh_crowd(ext: Any) -> list[str]:
    """Seoul citydata crowds: the places travelers asked about lately first, then the others, within this run's
    share of what is left of the day's quota (cron every 10 minutes)."""
    from bot.live import crowds

    report = crowds.of(ext.services).refresh(crowds.hotspots_of(ext.content.places), ext.clock.now())
    return [*crowds.describe(report), _calls(ext, "seoul")]


def init_app(app: Flask) -> None:
    app.cli.add_command(live_cli)
