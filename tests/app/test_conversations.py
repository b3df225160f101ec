"""Every conversation in tests/conversations/*.yaml, through the real webhook, on both back-ends.

Run one alone: pytest tests/app/test_conversations.py -k "attractions.yaml::palace_hours"

On the servers back-end the conversations share one app (one PostgreSQL database, the real Redis flushed before
each): each has its own openid and sets its own clock, rates and starting state, and building an app per
conversation on PostgreSQL cost a quarter of a second each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from bot import create_app
from bot.bookings.orders import sync_catalogue
from bot.devtools import conversations, replay
from tests._db import PgTemplate
from tests.support import REDIS_URL, Backend, make_config

FILES = sorted((Path(__file__).resolve().parents[1] / "conversations").glob("*.yaml"))

ALL = [c for path in FILES for c in conversations.load(path)]


@pytest.fixture(scope="module")
def servers_app(pg_template: PgTemplate, fake_api, pay_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    url = pg_template.copy()
    app = create_app(make_config(Backend("servers", REDIS_URL, url, migrated=True), fake_api, pay=pay_server[1]))
    ext = app.extensions["yjy"]
    sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
    yield app
    mistakes = ext.pipeline.inline_mistakes if "pipeline" in ext.__dict__ else 0
    ext.services.close()
    pg_template.drop(url)
    assert not mistakes, "an inline handler did blocking I/O: register its route with io=True"


@pytest.mark.parametrize("conversation", ALL, ids=[c.id for c in ALL])
def test_conversation(conversation, backend, request, fake_api, fake_pay):  # type: ignore[no-untyped-def]
    app = request.getfixturevalue("servers_app" if backend.name == "servers" else "app")
    if backend.name == "servers":  # the shared app's calls are forgotten after each, as app_factory does
        request.addfinalizer(fake_api.reset)
        request.addfinalizer(fake_pay.reset)
    result = replay.play(conversation, replay.InProcess(app, fake_api, fake_pay))
    if not result.passed:
        pytest.fail(replay.format_result(result, verbose=False), pytrace=False)
