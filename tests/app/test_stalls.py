"""A stalled database (issue #14): PostgreSQL behind a TCP proxy the test pauses. A message that only needs an
answer gets it without waiting for the database: a follower's activity and interests are written in the
background, and a follower's stored language is waited for briefly."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot import create_app
from bot.bookings.orders import sync_catalogue
from bot.devtools import sender as build
from bot.infra.db.models import Follower
from tests.pausable_proxy import PausableProxy
from tests.support import REDIS_URL, Backend, WeChat, make_config


@pytest.mark.servers
def test_a_hung_database_does_not_hold_up_answers_that_do_not_need_it(pg_migrated_db, real_redis, fake_api):
    url = make_url(pg_migrated_db)
    with PausableProxy(url.host or "127.0.0.1", int(url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = create_app(make_config(Backend("servers", REDIS_URL, proxied), fake_api))
        ext = app.extensions["yjy"]
        try:
            sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
            wx = WeChat(app)
            assert "一机游首尔" in wx.say("oWARM00000000000000000000000", "帮助")["Content"]  # pool connected
            proxy.pause()
            times = []
            for n, text in enumerate(["帮助", "景福宫几点开门", "100人民币换多少韩元"]):
                req = wx.sender.request(build.text(f"oSTALL{n:022d}", text))
                started = time.monotonic()
                response = wx.client.post("/wechat", query_string=req.query, data=req.body, content_type="text/xml")
                times.append(time.monotonic() - started)
                assert response.status_code == 200 and response.data != b"success"  # answered, not deferred
            assert max(times) < 1.5, times  # the language read waits 0.5 s at most; writes wait in the background
            proxy.resume()
            assert ext.services.background.drain(timeout=10)
            with ext.db.session() as session:
                seen = set(session.scalars(select(Follower.openid).where(Follower.openid.like("oSTALL%"))))
            assert len(seen) == 3  # the visits were written once the database came back
        finally:
            proxy.resume()
            ext.services.close()


@pytest.mark.servers
def test_a_statement_or_lock_wait_past_the_timeout_fails_instead_of_holding_a_worker(pg_migrated_db, real_redis,
                                                                                  fake_api):
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    config = make_config(Backend("servers", REDIS_URL, pg_migrated_db), fake_api,
                         database__statement_timeout_seconds=0.3)
    ext = create_app(config).extensions["yjy"]
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"), ext.db.session() as session:
            session.execute(text("SELECT pg_sleep(2)"))
        assert time.monotonic() - started < 1.5
        with ext.db.session() as session:  # the pool recovers: the next statement runs
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        ext.services.close()
