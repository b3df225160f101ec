"""Shared fixtures.

Two storage back-ends: "embedded" (fakeredis + SQLite, what `dev.py run` uses) and "servers" (the
real Redis and PostgreSQL named by REDIS_URL and DATABASE_URL, which `.ci/run` sets). Tests marked
`servers` need the real ones. With the variables unset they are deselected and reported, except in
CI (CI=true), where a missing server is an error: CI must fail, never pass by skipping.

Speed: every app a test builds starts from a migrated database without running Alembic for it. The
migrations run once per session on a template (a SQLite file, a PostgreSQL database) and each test gets
a copy (tests/_db.py); the catalogue is synced per app as before. Compiled templates and content are
shared per process by the app itself (`Cards`, `Content.load`).
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import create_app
from bot.bookings.orders import sync_catalogue
from bot.devtools import sender as build
from bot.devtools.fake_api import FakeWeChatAPI
from bot.devtools.sender import WeChatSender
from bot.infra.config import load_config
from tests._db import PgTemplate, copy_sqlite, migrate_sqlite

TOKEN = "yjyTestToken2026"
APPID = "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SECRET = "test-app-secret-value-0001"
HERE = Path(__file__).resolve().parent

REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SERVERS_CONFIGURED = bool(REDIS_URL and DATABASE_URL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SERVERS_CONFIGURED or IN_CI:
        return
    needs = [i for i in items if i.get_closest_marker("servers")]
    if needs:
        config.hook.pytest_deselected(items=needs)
        items[:] = [i for i in items if not i.get_closest_marker("servers")]
        config._yjy_deselected = len(needs)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    n = getattr(config, "_yjy_deselected", 0)
    if n:
        terminalreporter.write_line(
            f"NOTE: {n} tests need real Redis and PostgreSQL and did not run: set REDIS_URL and "
            "DATABASE_URL (as .ci/run does) to run them.", yellow=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["embedded", pytest.param("servers", marks=pytest.mark.servers)],
                             indirect=True)


# --- servers ---------------------------------------------------------------------------------------
def _require_servers() -> None:
    if not SERVERS_CONFIGURED:
        pytest.fail("REDIS_URL and DATABASE_URL must be set in CI (real Redis and PostgreSQL)")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private schema in the PostgreSQL database, dropped afterwards (parallel runs do not collide)."""
    _require_servers()
    schema = f"yjy_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(DATABASE_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(DATABASE_URL).set(drivername="postgresql+psycopg").update_query_dict(
        {"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[PgTemplate]:
    """A PostgreSQL database migrated once per session; `pg_template.copy()` is a fresh copy of it."""
    _require_servers()
    template = PgTemplate(DATABASE_URL)
    yield template
    template.close()


@pytest.fixture
def pg_migrated_db(pg_template: PgTemplate) -> Iterator[str]:
    """This test's own PostgreSQL database, at head and empty (a copy of the template), dropped afterwards."""
    url = pg_template.copy()
    yield url
    pg_template.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; app_factory copies it as each test's database."""
    return migrate_sqlite(tmp_path_factory.mktemp("db-template") / "migrated.sqlite3")


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    _require_servers()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# --- the app -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as api:
        yield api


@dataclass
class Backend:
    name: str
    redis_url: str
    database_url: str
    # embedded: the SQLite file app_factory fills with a copy of the migrated template if it is still absent
    sqlite_path: Path | None = field(default=None, repr=False)
    # servers: database_url is this test's own copy of the migrated template (no Alembic run needed)
    migrated: bool = field(default=False, repr=False)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "servers":
        request.getfixturevalue("real_redis")
        if "app_factory" in request.fixturenames:  # the app's tests: a database of their own, at head
            return Backend("servers", REDIS_URL, request.getfixturevalue("pg_migrated_db"), migrated=True)
        # the rest migrate (or clean) the session's schema themselves, as they always have
        return Backend("servers", REDIS_URL, request.getfixturevalue("pg_url"))
    path = tmp_path / "bot.sqlite3"
    return Backend("embedded", f"memory://{uuid.uuid4().hex}", f"sqlite:///{path}", sqlite_path=path)


def make_config(backend: Backend, fake_api: FakeWeChatAPI, **overrides: Any):  # type: ignore[no-untyped-def]
    values = {
        "wechat.token": TOKEN, "wechat.appid": APPID, "wechat.encoding_aes_key": AES_KEY,
        "wechat.appsecret": SECRET, "wechat.api_base_url": fake_api.base_url,
        "redis.url": backend.redis_url, "database.url": backend.database_url,
        "public_base_url": "https://yjy.example.com",
        **{k.replace("__", "."): v for k, v in overrides.items()},
    }
    # The embedded back-end in tests is the dev runner's storage without its generated secrets.
    return load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1"}, overrides=values, dev=False)


@pytest.fixture
def app_factory(request: pytest.FixtureRequest, backend: Backend, fake_api: FakeWeChatAPI):  # type: ignore[no-untyped-def]
    """Build apps on this test's back-end; `app_factory(webhook__reply_deadline_seconds=0.2)`.

    Each app's database is at head with the catalogue synced, as `ext.db.upgrade()` + `sync_catalogue`
    leave it; the head comes from the session's migrated template when the database is the back-end's.
    """
    apps = []

    def factory(**overrides: Any):  # type: ignore[no-untyped-def]
        own_db = not any(k.replace("__", ".") == "database.url" for k in overrides)
        migrated = own_db and backend.migrated
        if own_db and backend.sqlite_path is not None and not backend.sqlite_path.exists():
            copy_sqlite(request.getfixturevalue("sqlite_template"), backend.sqlite_path)
            backend.migrated = migrated = True
        app = create_app(make_config(backend, fake_api, **overrides))
        ext = app.extensions["yjy"]
        if not migrated:
            ext.db.upgrade()
        sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["yjy"].services.close()
    fake_api.reset()


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    return app_factory()


class WeChat:
    """Plays WeChat's servers against the app: signed (and in safe mode encrypted) requests."""

    def __init__(self, app, mode: str = "plain") -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.client = app.test_client()
        self.sender = WeChatSender(TOKEN, APPID, AES_KEY, mode)

    def post(self, xml: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        req = self.sender.request(xml, **kwargs)
        return self.client.post("/wechat", query_string=req.query, data=req.body,
                                content_type="text/xml")

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


@pytest.fixture
def wechat(app) -> WeChat:  # type: ignore[no-untyped-def]
    return WeChat(app)


@pytest.fixture
def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]
