"""The long-lived parts of one app instance, built from the config on first use.

Nothing here is built before something asks for it: a web worker builds what the webhook needs on its
first message, and `flask --app wsgi broadcast list` builds only the database. Each part is a
`cached_property`, so tests (and the replay runner) may also set one, e.g. a fixed clock.
"""
from __future__ import annotations

import importlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING

from bot.infra.background import Background
from bot.infra.clock import Clock
from bot.infra.config import Config
from bot.infra.keys import Keys

if TYPE_CHECKING:
    import redis
    from rq import Queue

    from bot.bookings.payments import Payments
    from bot.conversation.cards import Cards
    from bot.conversation.content import Content
    from bot.conversation.router import Dispatcher, Router
    from bot.conversation.state import RedisStateStore
    from bot.infra.db import Database
    from bot.live.store import LiveStore
    from bot.pay.client import WeChatPay
    from bot.travel.rates import Rates
    from bot.wechat.client import SharedTokenClient
    from bot.wechat.gateway import WeChatGateway


def load_routers(spec: str) -> list[Router]:
    """`module:attribute` naming a list of routers (config key `routers`)."""
    from bot.conversation.router import Router

    module_name, _, attr = spec.partition(":")
    routers = getattr(importlib.import_module(module_name), attr or "ROUTERS")
    if not all(isinstance(r, Router) for r in routers):
        raise TypeError(f"{spec} must be a list of bot.conversation.router.Router")
    return list(routers)


class Services:
    """One app's parts: storage, content, routing, WeChat API, job queue, rates, clock."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.keys = Keys(config.wechat.appid)
        self.clock = Clock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._background: Background | None = None
        self._background_pid = 0

    @cached_property
    def redis(self) -> redis.Redis:
        from bot.infra.redis_conn import connect

        return connect(self.config.redis_url, self.config.redis_timeout_seconds)

    @cached_property
    def store(self) -> RedisStateStore:
        from bot.conversation.state import RedisStateStore

        return RedisStateStore(self.redis, self.keys, self.config.state_ttl_seconds,
                               self.config.webhook.dedup_ttl_seconds)

    @cached_property
    def db(self) -> Database:
        from bot.infra.db import Database

        c = self.config
        return Database(c.database_url, c.database_statement_timeout_seconds, c.database_pool_timeout_seconds)

    @cached_property
    def content(self) -> Content:
        from bot.conversation.content import Content

        return Content.load(self.config.content_dir)

    @cached_property
    def cards(self) -> Cards:
        from bot.conversation.cards import Cards

        return Cards(self.config.content_dir / "templates", self.config.public_base_url)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        from bot.conversation.router import Dispatcher

        return Dispatcher(load_routers(self.config.routers), self.content.understander, self.content.followups)

    @cached_property
    def api(self) -> SharedTokenClient:
        from bot.wechat.client import SharedTokenClient

        w = self.config.wechat
        return SharedTokenClient(w.appid, w.appsecret, w.api_base_url, self.redis, self.keys)

    @cached_property
    def wechat(self) -> WeChatGateway:
        """WeChat's API by name (mass sends, templates, material, tags, menu, kf messages)."""
        from bot.wechat.gateway import WeChatGateway

        return WeChatGateway(self.api)

    @cached_property
    def queue(self) -> Queue:
        from bot.infra.queue import make_queue

        return make_queue(self.redis, self.config.queue_name, run_inline=self.config.embedded_redis)

    @cached_property
    def rates(self) -> Rates:
        from bot.travel.rates import FileRatesProvider, HttpRatesProvider, Rates, RatesProvider

        r = self.config.rates
        provider: RatesProvider
        if r.provider == "exim":
            from bot.live.rates import EximRatesProvider

            live = self.config.live
            provider = EximRatesProvider(live.exim_url, live.exim_key, r.timeout_seconds, self.live_store,
                                         live.quotas["exim"], lambda: self.clock.now())
        elif r.provider == "http":
            provider = HttpRatesProvider(r.url, r.timeout_seconds)
        else:
            provider = FileRatesProvider(r.file)
        return Rates(provider, self.redis, self.keys, r.ttl_seconds)

    @cached_property
    def live_store(self) -> LiveStore:
        from bot.live.store import LiveStore

        return LiveStore(self.redis, self.keys)

    @cached_property
    def pay(self) -> WeChatPay | None:
        """The WeChat Pay client, or None without a merchant account (bookings that need payment are refused)."""
        if not self.config.pay.enabled:
            return None
        from bot.pay.client import WeChatPay

        return WeChatPay(self.config.pay, appid=self.config.wechat.appid,
                         notify_url=f"{self.config.public_base_url}/pay/notify")

    @cached_property
    def payments(self) -> Payments:
        from decimal import Decimal

        from bot.bookings.payments import Payments

        def krw_per_cny() -> Decimal | None:
            quote = self.rates.quote()
            return quote.table.convert(Decimal(1), "CNY", "KRW") if quote else None

        return Payments(self.db, self.pay, self.config, krw_per_cny)

    def warm(self) -> None:
        """Build what answering a message needs now, so the first traveler after a deploy does not wait for
        content loading and template compiling inside WeChat's 5 seconds. Opens no connection."""
        for part in ("store", "db", "content", "cards", "dispatcher", "api", "wechat", "queue", "rates"):
            getattr(self, part)

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Handler threads, created per process: a pool inherited across gunicorn's fork has no threads."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.config.webhook.handler_threads, thread_name_prefix="handler")
                self._pool_pid = os.getpid()
            return self._pool

    @property
    def background(self) -> Background:
        """Writes no reply waits for (bot/infra/background.py), per process like the handler pool."""
        with self._pool_lock:
            if self._background is None or self._background_pid != os.getpid():
                self._background = Background()
                self._background_pid = os.getpid()
            return self._background

    def close(self) -> None:
        if self._background is not None and self._background_pid == os.getpid():
            self._background.shutdown()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if "db" in self.__dict__:
            self.db.dispose()
