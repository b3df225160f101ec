"""The long-lived parts of one app instance, built once from the config."""
from __future__ import annotations

import importlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis

from bot import jobs
from bot.conversation.cards import Cards
from bot.infra.clock import Clock
from bot.infra.config import Config
from bot.conversation.content import Content
from bot.infra.db import Database
from bot.infra.keys import Keys
from bot.travel.rates import FileRatesProvider, HttpRatesProvider, Rates
from bot.infra.redis_conn import connect
from bot.conversation.router import Dispatcher, Router
from bot.conversation.state import RedisStateStore
from bot.wechat.client import SharedTokenClient


def load_routers(spec: str) -> list[Router]:
    """`module:attribute` naming a list of routers (config key `routers`)."""
    module_name, _, attr = spec.partition(":")
    routers = getattr(importlib.import_module(module_name), attr or "ROUTERS")
    if not all(isinstance(r, Router) for r in routers):
        raise TypeError(f"{spec} must be a list of bot.router.Router")
    return list(routers)


@dataclass
class Services:
    config: Config
    redis: redis.Redis
    keys: Keys
    store: RedisStateStore
    db: Database
    cards: Cards
    content: Content
    dispatcher: Dispatcher
    api: SharedTokenClient
    queue: jobs.Queue
    rates: Rates
    clock: Clock = field(default_factory=Clock)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _pool_pid: int = field(default=0, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, config: Config) -> "Services":
        client = connect(config.redis_url, config.redis_timeout_seconds)
        keys = Keys(config.wechat.appid)
        content = Content.load(config.content_dir)
        return cls(
            config=config,
            redis=client,
            keys=keys,
            store=RedisStateStore(client, keys, config.state_ttl_seconds, config.webhook.dedup_ttl_seconds),
            db=Database(config.database_url),
            cards=Cards(config.content_dir / "templates", config.public_base_url),
            content=content,
            dispatcher=Dispatcher(load_routers(config.routers), content.understander),
            api=SharedTokenClient(config.wechat.appid, config.wechat.appsecret, config.wechat.api_base_url,
                                  client, keys),
            queue=jobs.make_queue(client, config.queue_name, run_inline=config.embedded_redis),
            rates=Rates(FileRatesProvider(config.rates.file) if config.rates.provider == "file"
                        else HttpRatesProvider(config.rates.url, config.rates.timeout_seconds),
                        client, keys, config.rates.ttl_seconds),
        )

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Handler threads, created per process: a pool inherited across gunicorn's fork has no threads."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.config.webhook.handler_threads, thread_name_prefix="handler")
                self._pool_pid = os.getpid()
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.db.dispose()
