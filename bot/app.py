"""一机游首尔 WeChat bot: the Flask application factory.

Reading order for one message: `webhook` (verify, decrypt, parse) → `pipeline` (dedup + state,
deadline) → `router` (which handler) → `handlers/` → `cards` / `replies` (render) → back out.
"""
from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

from flask import Flask

from bot.infra.config import Config, load_config
from bot.services import Services

if TYPE_CHECKING:
    from bot.conversation.pipeline import Pipeline
    from bot.wechat.protocol import AESEnvelope
    from bot.wechat.replay_guard import ReplayGuard

log = logging.getLogger(__name__)


class Extension:
    """What the request handlers reach through `current_app.extensions["yjy"]`."""

    def __init__(self, app: Flask, config: Config) -> None:
        self.config = config
        self.services = Services(config)
        self._app_context = app.app_context

    def warm(self) -> None:
        self.services.warm()
        _ = self.pipeline, self.envelope

    @cached_property
    def pipeline(self) -> Pipeline:
        from bot.conversation.pipeline import Pipeline

        return Pipeline(self.services, self._app_context)

    @cached_property
    def envelope(self) -> AESEnvelope | None:
        from bot.wechat.protocol import AESEnvelope

        w = self.config.wechat  # plain mode (明文模式) uses no key, even when one is set
        return AESEnvelope(w.token, w.encoding_aes_key, w.appid) if w.encoding_aes_key and w.mode != "plain" else None

    @cached_property
    def replay_guard(self) -> ReplayGuard:
        """Plain mode only: a signed query seen with one body refuses another (bot/wechat/replay_guard.py)."""
        from bot.wechat.replay_guard import ReplayGuard

        return ReplayGuard(self.services.redis, self.services.keys, self.config.webhook.timestamp_window_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.services, name)


def create_app(config: Config | None = None, *, overrides: Mapping[str, Any] | None = None,
               warm: bool = True) -> Flask:
    """Build the app from `config`, or from `config.yaml` / `BOT_CONFIG` plus the environment.

    `warm` builds what the webhook needs before the first message (a web worker); a CLI command passes
    False and builds only what it touches.
    """
    from bot import cli
    from bot.infra import logs
    from bot.web import admin_api, errors, health, metrics, pages, payments, redeem, security
    from bot.wechat import webhook

    config = config or load_config(overrides=overrides)
    logs.setup(config.secrets)
    app = Flask(__name__)
    app.config["YJY"] = config
    ext = Extension(app, config)
    app.extensions["yjy"] = ext
    if warm:
        ext.warm()
    if config.dev:  # the embedded default brings its SQLite schema and products up to date by itself
        from bot.bookings.orders import sync_catalogue

        ext.db.upgrade()
        sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    metrics.init_app(app)  # GET /metrics
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(payments.bp)
    app.register_blueprint(redeem.bp)
    from bot.web import console  # /admin/: the operators' web console

    console.init_app(app)
    # The chat simulator is a dev tool: the dev runner mounts it (bot.devtools.simulator.init_app).
    errors.register(app)
    security.init_app(app)
    cli.register(app)
    log.info("app ready: redis=%s database=%s mode=%s", "embedded" if config.embedded_redis else "server",
             config.database_url.partition(":")[0], config.wechat.mode)
    return app
