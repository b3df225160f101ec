"""Followers are kept current from subscribe / unsubscribe / messages, on SQLite and PostgreSQL."""
from __future__ import annotations

import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.devtools import sender as build
from bot.followers import records as followers
from bot.infra.db.models import Base


def test_subscribe_message_unsubscribe_lifecycle(wechat, openid):
    db = wechat.app.extensions["yjy"].db
    now = int(time.time())
    wechat.reply(build.event(openid, "subscribe", "qrscene_kol42", create_time=now - 100))
    row = followers.get(db, openid)
    assert row.subscribed and row.qrscene == "kol42" and row.language == "zh-CN"
    assert row.subscribed_at is not None and row.last_active_at is not None

    wechat.post(build.event(openid, "unsubscribe", create_time=now - 50))
    row = followers.get(db, openid)
    assert not row.subscribed and row.unsubscribed_at is not None and row.qrscene == "kol42"

    wechat.post(build.event(openid, "subscribe", "", create_time=now))
    assert followers.get(db, openid).subscribed


def test_a_message_creates_a_missing_follower_and_touches_last_active(app_factory, openid):
    from tests.support import WeChat

    app = app_factory(followers__touch_every_seconds=0)
    wx = WeChat(app)
    db = app.extensions["yjy"].db
    wx.say(openid, "帮助", create_time=int(time.time()) - 10)
    first = followers.get(db, openid).last_active_at
    wx.say(openid, "帮助")
    assert followers.get(db, openid).last_active_at > first


def test_touches_are_throttled_through_the_state(wechat, openid):
    db = wechat.app.extensions["yjy"].db
    wechat.say(openid, "帮助", create_time=int(time.time()) - 10)
    first = followers.get(db, openid).last_active_at
    wechat.say(openid, "帮助")  # within touch_every_seconds (600): no write
    assert followers.get(db, openid).last_active_at == first


def test_system_events_do_not_create_followers(wechat):
    wechat.post(build.event("gh_system", "MASSSENDJOBFINISH", MsgID="1", Status="send success"))
    assert followers.get(wechat.app.extensions["yjy"].db, "gh_system") is None


def test_migrations_match_the_models(app):
    db = app.extensions["yjy"].db
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
