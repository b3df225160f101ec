"""Broadcast planning: segments over followers and the audience frozen into batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from bot.broadcasts import planning as broadcasts
from bot.broadcasts.planning import PlanError
from bot.broadcasts.segments import Segment, parse_segment
from bot.infra.db import Database
from bot.infra.db.models import Booking, BroadcastBatch, Follower
from tests.builders import BOOKING_TABLES

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
def db(backend):  # type: ignore[no-untyped-def]
    database = Database(backend.database_url)
    database.upgrade()
    with database.session() as s:
        for table in ("broadcast_batches", "broadcasts", *BOOKING_TABLES, "followers"):
            s.execute(text(f"DELETE FROM {table}"))
        rows = [
            dict(openid="o-zh-kol", subscribed=True, language="zh-CN", qrscene="kol_1", first_channel="kol_1",
                 last_channel="kol_1", tags=[7],
                 last_active_at=NOW - timedelta(days=2)),
            dict(openid="o-zh-old", subscribed=True, language="zh-CN", qrscene=None, tags=[],
                 last_active_at=NOW - timedelta(days=90)),
            # came through kol_1, later scanned a hotel desk's code (and followed again through it)
            dict(openid="o-en", subscribed=True, language="en", qrscene="hotel_1", first_channel="kol_1",
                 last_channel="hotel_1", tags=[7, 8],
                 last_active_at=NOW - timedelta(days=1)),
            dict(openid="o-gone", subscribed=False, language="zh-CN", qrscene="kol_1", first_channel="kol_1",
                 last_channel="kol_1", tags=[7],
                 last_active_at=NOW - timedelta(days=1)),
        ]
        s.execute(insert(Follower), [{**r, "created_at": NOW} for r in rows])
        s.execute(text("INSERT INTO products (id, name, data, retired, synced_at) VALUES "
                       "('dmz_tour', 'DMZ', '{}', false, :now)"), {"now": NOW})
        s.add(Booking(ref="YJAAAAAA", idempotency_key="k1", openid="o-zh-old", product_id="dmz_tour",
                      product_name="DMZ", day=NOW.date(), slot="07:30", adults=1, children=0, contact_name="x",
                      phone="+8613812345678", price_krw=1, discount_krw=0, status="confirmed", lang="zh-CN",
                      created_at=NOW))
    yield database
    database.dispose()


@pytest.mark.parametrize("raw,expected", [
    ({"all": True}, ["o-en", "o-zh-kol", "o-zh-old"]),  # never the unsubscribed one
    ({"language": "zh-CN"}, ["o-zh-kol", "o-zh-old"]),
    ({"channel": ["kol_1"]}, ["o-en", "o-zh-kol"]),  # first or last channel, as the channel report counts them
    ({"channel": ["hotel_1"]}, ["o-en"]),
    ({"active_days": 30}, ["o-en", "o-zh-kol"]),
    ({"booked": ["dmz_tour"]}, ["o-zh-old"]),
    ({"tag": 7}, ["o-en", "o-zh-kol"]),
    ({"tag": 8, "language": "en"}, ["o-en"]),
    ({"openids": ["o-gone", "o-en", "o-nobody"]}, ["o-en"]),
])
def test_segments_select_subscribed_followers(db, raw, expected):
    segment = parse_segment(raw)
    assert list(segment.openids_in(db, NOW)) == expected
    assert segment.count(db, NOW) == len(expected)


def test_plan_freezes_the_audience_into_batches_with_their_own_clientmsgid(db):
    plan = broadcasts.create(db, "winter", {"text": "hi"}, parse_segment({"channel": "kol_1"}), "tester", NOW)
    assert (plan.mode, plan.audience, plan.batches) == ("openids", 2, 1)
    pending = broadcasts.pending(db, plan.broadcast_id)
    assert [b.openids for b in pending] == [["o-en", "o-zh-kol"]]
    assert pending[0].clientmsgid == f"yjy-{plan.broadcast_id}-0"

    everyone = broadcasts.create(db, "all", {"text": "hi"}, Segment(all=True), "tester", NOW)
    assert (everyone.mode, everyone.audience) == ("all", 3)
    with db.session() as s:
        ids = list(s.scalars(select(BroadcastBatch.clientmsgid)))
    assert len(ids) == len(set(ids)) == 2


def test_plans_that_cannot_be_sent_are_refused_and_leave_nothing(db):
    with pytest.raises(PlanError, match="empty"):
        broadcasts.create(db, "x", {}, parse_segment({"language": "ko"}), "tester", NOW)
    with pytest.raises(PlanError, match="at least 2"):
        broadcasts.create(db, "x", {}, parse_segment({"booked": ["dmz_tour"]}), "tester", NOW)
    with db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM broadcasts")) == 0


def test_categories_travelers_ask_about_become_interests(app, openid):
    from tests.support import WeChat

    db = app.extensions["yjy"].db
    with db.session() as s:  # the servers back-end shares one schema with other tests' followers
        s.execute(text("DELETE FROM follower_interests"))
    wx = WeChat(app)
    wx.say(openid, "推荐美食")
    wx.say(openid, "推荐美食")  # asked twice: recorded once
    wx.say(openid, "韩流打卡")
    assert list(parse_segment({"interests": ["food"]}).openids_in(db)) == [openid]
    assert list(parse_segment({"interests": ["hallyu", "shopping"]}).openids_in(db)) == [openid]
    assert list(parse_segment({"interests": ["shopping"]}).openids_in(db)) == []
    other = openid[:-1] + ("x" if openid[-1] != "x" else "y")
    wx.say(other, "景福宫几点开门")  # a place's card: interest in its primary category
    assert list(parse_segment({"interests": ["palace_history"]}).openids_in(db)) == [other]
