"""`/admin/`: the operators' web console: log in with a staff token, then the dashboard, the questions the bot
could not answer, the staff inbox, orders (a day's, one order's history, a two-step refund), broadcasts (dry run,
create, preview, a two-step send) and channels.

Server-rendered pages (templates and CSS in this package; charts as SVG drawn on the server; no scripts, no
CDN) over the same services the CLI and the admin API call; texts in `content/console/<lang>.yaml`.
"""
from __future__ import annotations

from flask import Flask

from bot.web.console import broadcasts, channels, dashboard, inbox, login, orders
from bot.web.console.common import bp

__all__ = ["bp", "init_app"]
_ROUTES = (broadcasts, channels, dashboard, inbox, login, orders)  # importing them registers their routes on `bp`


def init_app(app: Flask) -> None:
    """Mount the console on `app` (the app factory does)."""
    app.register_blueprint(bp)
