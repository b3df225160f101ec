"""一机游首尔 WeChat bot.

Rooms, in the order one message meets them: `wechat/` (the WeChat boundary: webhook, protocol, replies,
API gateway) → `conversation/` (pipeline, router, state, understanding, cards) → `handlers/` (outside
`bot/`) → the domains `travel/`, `bookings/`, `broadcasts/`, `followers/` → `infra/` (config, database,
Redis, clock, logs, YAML). Entry points: `app.py` (the Flask factory), `web/`, `cli/`, `jobs/`.
`devtools/` holds the testers' tools. Importing this package is cheap: nothing is built until asked.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask

    from bot.infra.config import Config


def create_app(config: Config | None = None, *, overrides: Mapping[str, Any] | None = None,
               warm: bool = True) -> Flask:
    """Build the Flask app (see `bot.app.create_app`)."""
    from bot.app import create_app as build

    return build(config, overrides=overrides, warm=warm)
