"""What the tests share besides fixtures: the test account's secrets, the servers from the environment,
the app's config for a back-end, and a stand-in for WeChat's servers that signs (and encrypts) requests."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.devtools import sender as build
from bot.devtools.fake_api import FakeWeChatAPI
from bot.devtools.sender import WeChatSender
from bot.infra.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
CONVERSATIONS = ROOT / "tests" / "conversations"

TOKEN = "yjyTestToken2026"
APPID = "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SECRET = "test-app-secret-value-0001"



def _redis_of_this_worker(url: str) -> str:
    """Under pytest-xdist, worker gwN takes the Nth database after REDIS_URL's own: tests flush their database,
    so two workers must never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + int(worker[2:])
    if db > 15:
        raise RuntimeError(f"REDIS_URL's database {base} leaves no database for xdist worker {worker} (0-15)")
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = _redis_of_this_worker(os.environ.get("REDIS_URL", ""))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SERVERS_CONFIGURED = bool(REDIS_URL and DATABASE_URL)


@dataclass
class Backend:
    name: str
    redis_url: str
    database_url: str
    # embedded: the SQLite file app_factory fills with a copy of the migrated template if it is still absent
    sqlite_path: Path | None = field(default=None, repr=False)
    # servers: database_url is this test's own copy of the migrated template (no Alembic run needed)
    migrated: bool = field(default=False, repr=False)


def make_config(backend: Backend, fake_api: FakeWeChatAPI, *, pay: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
                **overrides: Any):
    """`pay`: the `pay.*` overrides of a running fake WeChat Pay (`bot.devtools.pay_setup`); none: no payments."""
    values = {
        **(pay or {}),
        "wechat.token": TOKEN, "wechat.appid": APPID, "wechat.encoding_aes_key": AES_KEY,
        "wechat.appsecret": SECRET, "wechat.api_base_url": fake_api.base_url,
        "redis.url": backend.redis_url, "database.url": backend.database_url,
        "public_base_url": "https://yjy.example.com",
        **{k.replace("__", "."): v for k, v in overrides.items()},
    }
    # The embedded back-end in tests is the dev runner's storage without its generated secrets.
    return load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1"}, overrides=values, dev=False)


class WeChat:
    """Plays WeChat's servers against the app: signed requests, with the encrypted part beside the plaintext as
    WeChat sends them in compatible mode (`mode="safe"`: the encrypted part only; "plain": no encryption)."""

    def __init__(self, app, mode: str = "compatible") -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.client = app.test_client()
        self.sender = WeChatSender(TOKEN, APPID, AES_KEY, mode)

    def post(self, xml: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        req = self.sender.request(xml, **kwargs)
        response = self.client.post("/wechat", query_string=req.query, data=req.body, content_type="text/xml")
        # Writes no reply waits for (a follower's activity, interests) are done before a test looks at them.
        self.app.extensions["yjy"].services.background.drain()
        return response

    def reply(self, xml: str, **kwargs: Any) -> dict[str, Any] | str:
        """Send and return the parsed reply (a dict), or "success"."""
        from bot.wechat.protocol import parse_xml

        response = self.post(xml, **kwargs)
        assert response.status_code == 200, response.data
        body = self.sender.read_reply(response.data)
        return body if body == "success" else parse_xml(body.encode("utf-8"))

    def say(self, openid: str, content: str, **message: Any) -> dict[str, Any] | str:
        """A text message; `message` takes msg_id / create_time."""
        return self.reply(build.text(openid, content, **message))


def drain_queue(app) -> None:  # type: ignore[no-untyped-def]
    """Run the jobs this app queued (late replies ...) as the RQ worker would; the embedded queue ran them already."""
    import time

    from bot.infra.queue import BurstWorker

    ext = app.extensions["yjy"]
    if ext.config.embedded_redis:
        return  # the embedded queue already ran the job in the handler thread
    deadline = time.time() + 5
    while ext.queue.count == 0 and time.time() < deadline:
        time.sleep(0.02)
    with app.app_context():
        BurstWorker([ext.queue], connection=ext.redis).work(burst=True)


class Payer:
    """Plays the traveler paying on the booking page, and WeChat Pay telling the app: the page's pay call,
    the fake's payment, its notification posted to /pay/notify, then the jobs that follow (a worker's burst
    on real Redis; the embedded queue has run them already)."""

    def __init__(self, app, fake_pay) -> None:  # type: ignore[no-untyped-def]
        self.app, self.fake = app, fake_pay
        self.client = app.test_client()
        self.ext = app.extensions["yjy"]

    def link(self, ref: str) -> str:
        from bot.bookings import links, orders

        booking = orders.get(self.ext.db, ref)
        assert booking is not None, ref
        return links.booking_url(self.ext.config, booking).removeprefix(
            self.ext.config.public_base_url)

    def checkout(self, ref: str):  # type: ignore[no-untyped-def]
        path, _, query = self.link(ref).partition("?")
        return self.client.post(f"{path}/pay?{query}")

    def notify(self, n):  # type: ignore[no-untyped-def]
        """POST a fake's notification as WeChat Pay would, then run the jobs it queued."""
        response = self.client.post("/pay/notify", data=n.body, headers=n.headers)
        self.run_jobs()
        return response

    def pay(self, ref: str):  # type: ignore[no-untyped-def]
        page = self.checkout(ref)
        assert page.status_code == 200, page.get_data(as_text=True)
        return self.notify(self.fake.pay(ref))

    def finish_refunds(self, ref: str, status: str = "SUCCESS") -> list[Any]:
        """Every refund of `ref` WeChat Pay accepted ends with `status`; the app's answers to the notifications."""
        self.run_jobs()
        numbers = [n for n, r in self.fake.refunds.items() if r["out_trade_no"] == ref and r["status"] == "PROCESSING"]
        return [self.notify(self.fake.finish_refund(n, status)) for n in numbers]

    def run_jobs(self) -> None:
        if not self.ext.config.embedded_redis:
            from bot.infra.queue import BurstWorker

            with self.app.app_context():
                BurstWorker([self.ext.queue], connection=self.ext.redis).work(burst=True)


def unreachable_redis() -> Any:
    """A Redis client nothing answers (no server listens on port 1), failing at once: no retries, no backoff."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
