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


@pytest.mark.servers
def test_a_hand_off_the_database_refuses_is_queued_and_recorded_by_a_worker_once_it_is_back(pg_migrated_db,
                                                                                         real_redis, fake_api):
    from bot.infra.db.models import HandoffRequest
    from bot.infra.queue import BurstWorker

    down = make_config(Backend("servers", REDIS_URL, "postgresql://postgres@127.0.0.1:9/test"), fake_api,
                       handoff__kf_enabled=False)
    app = create_app(down)  # its database refuses connections: as when PostgreSQL is down
    ext = app.extensions["yjy"]
    later = create_app(make_config(Backend("servers", REDIS_URL, pg_migrated_db), fake_api))  # a worker, later
    try:
        ext.queue.empty()
        reply = WeChat(app).say("oHANDOFF0000000000000000000", "转人工")
        assert "已转告工作人员" in reply["Content"]  # true: the queue holds it until the database takes it
        assert ext.queue.count == 1
        with later.app_context():
            BurstWorker([later.extensions["yjy"].queue], connection=ext.redis).work(burst=True)
            BurstWorker([later.extensions["yjy"].queue], connection=ext.redis).work(burst=True)  # nothing twice
        with later.extensions["yjy"].db.session() as session:
            rows = session.scalars(select(HandoffRequest).where(
                HandoffRequest.openid == "oHANDOFF0000000000000000000")).all()
        assert [(r.kind, r.text, r.source is not None) for r in rows] == [("handoff", "转人工", True)]
    finally:
        ext.services.close()
        later.extensions["yjy"].services.close()


def test_a_hand_off_neither_stored_nor_queued_is_not_called_passed_on(fake_api):
    """The database and Redis both refuse connections: the traveler is asked to try again, not told it was passed on."""
    app = create_app(make_config(Backend("servers", "redis://127.0.0.1:9/0", "postgresql://nobody@127.0.0.1:9/x"),
                                 fake_api, handoff__kf_enabled=False))
    try:
        reply = WeChat(app).say("oNOWHERE000000000000000000", "转人工")
        assert "没能把您的请求转给工作人员" in reply["Content"] and "已转告" not in reply["Content"]
    finally:
        app.extensions["yjy"].services.close()
