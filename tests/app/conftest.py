"""Fixtures of the app tests: storage back-ends, the fake WeChat API, apps built on them.

Two storage back-ends: "embedded" (fakeredis + SQLite, what `dev.py run` uses) and "servers" (the
real Redis and PostgreSQL named by REDIS_URL and DATABASE_URL). A test that takes `backend` (or `app`,
`app_factory`, `wechat`) runs on both; the servers variant is marked `servers`.

Speed: every app a test builds starts from a migrated database without running Alembic for it. The
migrations run once per session on a template (a SQLite file, a PostgreSQL database) and each test gets
a copy (tests/_db.py); the catalogue is synced per app as before. Compiled templates and content are
shared per process by the app itself (`Cards`, `Content.load`).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import create_app
from bot.bookings.orders import sync_catalogue
from bot.devtools.fake_api import FakeWeChatAPI
from bot.devtools.fake_pay import FakeWeChatPay
from bot.devtools.pay_setup import embedded_pay
from tests._db import PgTemplate, copy_sqlite, migrate_sqlite
from tests.support import APPID, DATABASE_URL, REDIS_URL, SERVERS_CONFIGURED, Backend, WeChat, make_config


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["embedded", pytest.param("servers", marks=pytest.mark.servers)],
                             indirect=True)


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


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as api:
        yield api


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the machine notes say: without these, Chromium's own background calls hit a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, launched once for the browser tests (simulator, pay page)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def pay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeWeChatPay, dict[str, Any]]]:
    """A fake WeChat Pay (Global, institutional mode) for the whole session, and the config that points at it."""
    fake, overrides = embedded_pay(tmp_path_factory.mktemp("pay"), appid=APPID, simulated=False)
    yield fake, overrides
    fake.close()


@pytest.fixture
def fake_pay(pay_server: tuple[FakeWeChatPay, dict[str, Any]]) -> FakeWeChatPay:
    return pay_server[0]


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


@pytest.fixture
def app_factory(request: pytest.FixtureRequest, backend: Backend, fake_api: FakeWeChatAPI,  # type: ignore[no-untyped-def]
                pay_server: tuple[FakeWeChatPay, dict[str, Any]]):
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
        app = create_app(make_config(backend, fake_api, pay=pay_server[1], **overrides))
        ext = app.extensions["yjy"]
        if not migrated:
            ext.db.upgrade()
        sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
        apps.append(app)
        return app

    yield factory
    mistakes = {}
    for app in apps:
        ext = app.extensions["yjy"]
        if "pipeline" in ext.__dict__:
            mistakes[id(app)] = ext.pipeline.inline_mistakes
        ext.services.close()
    fake_api.reset()
    pay_server[0].reset()
    # A handler run inline that tried the database or the WeChat API (its route lacks io=True): it was answered
    # from the pool, so the test may pass, but under a stalled database that reply would have no deadline.
    assert not any(mistakes.values()), "an inline handler did blocking I/O: register its route with io=True"


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    return app_factory()


@pytest.fixture
def wechat(app) -> WeChat:  # type: ignore[no-untyped-def]
    return WeChat(app)


@pytest.fixture
def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]
