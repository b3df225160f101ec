"""Channels (influencers, campaigns, hotel desks): attribution kept from every follow and scan, their QR codes made
through WeChat's API, and the report per channel and period. Both back-ends."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select, text

from bot.devtools import sender as build
from bot.followers import records as followers
from bot.infra.db import Database
from bot.infra.db.models import ChannelScan


def _scans(db: Database, openid: str) -> list[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(select(ChannelScan.channel, ChannelScan.event).where(ChannelScan.openid == openid)
                         .order_by(ChannelScan.at, ChannelScan.id))
        return [(r.channel, r.event) for r in rows]


def test_first_channel_is_kept_and_last_channel_follows_every_scan(wechat, openid):
    db = wechat.app.extensions["yjy"].db
    now = int(time.time())
    wechat.reply(build.event(openid, "subscribe", "qrscene_kol_a", create_time=now - 300))
    row = followers.get(db, openid)
    assert (row.first_channel, row.last_channel, row.qrscene) == ("kol_a", "kol_a", "kol_a")

    # A follower scanning another channel's code: SCAN's EventKey has no prefix.
    wechat.post(build.event(openid, "SCAN", "hotel_desk-7", Ticket="T", create_time=now - 200))
    row = followers.get(db, openid)
    assert (row.first_channel, row.last_channel, row.qrscene) == ("kol_a", "hotel_desk-7", "kol_a")

    # Unfollow and follow again through a third channel: qrscene as before, first channel kept.
    wechat.post(build.event(openid, "unsubscribe", create_time=now - 100))
    wechat.reply(build.event(openid, "subscribe", "qrscene_kol_b", create_time=now - 50))
    row = followers.get(db, openid)
    assert (row.first_channel, row.last_channel, row.qrscene) == ("kol_a", "kol_b", "kol_b")
    assert _scans(db, openid) == [("kol_a", "subscribe"), ("hotel_desk-7", "scan"), ("kol_b", "subscribe")]


def test_a_retried_event_records_one_scan(wechat, openid):
    db = wechat.app.extensions["yjy"].db
    now = int(time.time())
    for _ in range(2):
        wechat.post(build.event(openid, "subscribe", "qrscene_kol_a", create_time=now - 10))
        wechat.post(build.event(openid, "SCAN", "kol_c", create_time=now))
    # ... even one the delivery dedup missed (Redis restarted): the delivery key is unique in the table.
    from bot.wechat.inbound import to_incoming
    from bot.wechat.protocol import parse_xml

    followers.note_scan(db, to_incoming(parse_xml(build.event(openid, "SCAN", "kol_c", create_time=now).encode())))
    assert _scans(db, openid) == [("kol_a", "subscribe"), ("kol_c", "scan")]


def test_a_follow_without_a_scene_and_a_scan_of_an_unknown_follower(wechat, openid):
    db = wechat.app.extensions["yjy"].db
    wechat.post(build.event(openid, "subscribe", "", create_time=int(time.time()) - 10))
    row = followers.get(db, openid)
    assert (row.first_channel, row.last_channel) == (None, None)
    assert _scans(db, openid) == []

    stranger = openid + "-x"  # their subscribe never reached us: the scan still counts, and names them
    wechat.post(build.event(stranger, "SCAN", "kol_d"))
    row = followers.get(db, stranger)
    assert row.subscribed and (row.first_channel, row.last_channel, row.qrscene) == ("kol_d", "kol_d", None)


def test_migration_copies_the_scene_into_first_and_last_channel(backend):  # type: ignore[no-untyped-def]
    from alembic import command

    from bot.infra.db import alembic_config

    db = Database(backend.database_url)
    try:
        db.upgrade()
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM followers WHERE openid LIKE 'o-mig-%'"))
        command.downgrade(alembic_config(db.url), "0012")
        with db.engine.begin() as conn:
            for openid, scene in (("o-mig-1", "kol_old"), ("o-mig-2", None)):
                conn.execute(text("INSERT INTO followers (openid, subscribed, qrscene, language, tags, created_at) "
                                  "VALUES (:o, true, :s, 'zh-CN', '[]', :now)"),
                             {"o": openid, "s": scene, "now": datetime(2026, 11, 1, tzinfo=UTC)})
        db.upgrade()
        with db.engine.begin() as conn:
            rows = conn.execute(text("SELECT openid, first_channel, last_channel FROM followers "
                                     "WHERE openid LIKE 'o-mig-%' ORDER BY openid")).all()
            conn.execute(text("DELETE FROM followers WHERE openid LIKE 'o-mig-%'"))
        assert [tuple(r) for r in rows] == [("o-mig-1", "kol_old", "kol_old"), ("o-mig-2", None, None)]
    finally:
        db.dispose()


# --- channels and their QR codes ---------------------------------------------------------------------------


def test_create_makes_a_permanent_qrcode_once(app, fake_api):
    from bot.followers import channels

    runner = app.test_cli_runner()
    out = runner.invoke(args=["channels", "create", "kol_hallyu_01", "--name", "韩流KOL 01", "--by", "mei"])
    assert out.exit_code == 0, out.output
    calls = fake_api.calls_to("qrcode/create")
    assert [c.body for c in calls] == [{"action_name": "QR_LIMIT_STR_SCENE",
                                        "action_info": {"scene": {"scene_str": "kol_hallyu_01"}}}]
    stored = channels.get(app.extensions["yjy"].db, "kol_hallyu_01")
    ticket = calls[0].response["ticket"]
    assert (stored.name, stored.ticket, stored.url) == ("韩流KOL 01", ticket, calls[0].response["url"])
    assert ticket.endswith("==") and stored.image_url == (
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + ticket.replace("=", "%3D"))
    assert "created: kol_hallyu_01" in out.output and stored.image_url in out.output

    again = runner.invoke(args=["channels", "create", "kol_hallyu_01", "--name", "another name"])
    assert again.exit_code == 0 and "exists already" in again.output
    assert len(fake_api.calls_to("qrcode/create")) == 1  # WeChat not asked again
    assert channels.get(app.extensions["yjy"].db, "kol_hallyu_01").ticket == ticket

    listed = runner.invoke(args=["channels", "list"])
    assert "kol_hallyu_01" in listed.output and "韩流KOL 01" in listed.output and "1 channel" in listed.output


def test_create_refuses_a_bad_scene_and_reports_wechat_errors(app, fake_api):
    from bot.followers import channels

    runner = app.test_cli_runner()
    for bad in ("", "a" * 65, "kol 01", "韩流", "kol/01"):
        out = runner.invoke(args=["channels", "create", bad])
        assert out.exit_code == 2 and "scene" in out.output, (bad, out.output)
    assert fake_api.calls_to("qrcode/create") == []
    assert runner.invoke(args=["channels", "create", "a" * 64]).exit_code == 0

    fake_api.fail("qrcode/create", errcode=45009)
    out = runner.invoke(args=["channels", "create", "hotel_desk_1"])
    assert out.exit_code == 1 and "WeChat refused the QR code: 45009" in out.output
    assert channels.get(app.extensions["yjy"].db, "hotel_desk_1") is None  # nothing stored: a retry asks again
    assert runner.invoke(args=["channels", "create", "hotel_desk_1"]).exit_code == 0


# --- the report --------------------------------------------------------------------------------------------

SEOUL_DAY = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 12:00 in Seoul, inside 2026-12-01..07
BEFORE = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 23:00 on 2026-11-30 in Seoul: outside
LATE = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)  # 23:30 on 2026-12-07 in Seoul: inside


def _at(when: datetime) -> int:
    return int(when.timestamp())


def _booking(s, ref: str, openid: str, status: str, created_at: datetime, price: int = 100000,  # type: ignore[no-untyped-def]
             discount: int = 0) -> None:
    from datetime import date

    from bot.infra.db.models import Booking

    s.add(Booking(ref=ref, idempotency_key=f"k-{ref}", openid=openid, product_id="nanta_show",
                  day=date(2026, 12, 20), slot="20:00", adults=2, children=0, contact_name="张伟",
                  phone="+8613812345678", created_at=created_at, product_name="乱打秀", price_krw=price,
                  discount_krw=discount, status=status, payment="wechat", lang="zh-CN"))


def _report_data(wechat, openid: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from bot.infra.db.models import CouponClaim, Follower, ProductRow

    app = wechat.app
    runner = app.test_cli_runner()
    assert runner.invoke(args=["channels", "create", "kol_a", "--name", "=HYPERLINK(\"x\")"]).exit_code == 0
    assert runner.invoke(args=["channels", "create", "kol_zero", "--name", "韩流KOL 01"]).exit_code == 0
    a, b, c, d = (f"{openid}-{n}" for n in "abcd")
    wechat.post(build.event(a, "subscribe", "qrscene_kol_a", create_time=_at(SEOUL_DAY)))
    wechat.post(build.event(b, "subscribe", "qrscene_kol_a", create_time=_at(BEFORE)))  # before: not counted
    wechat.post(build.event(b, "SCAN", "hotel_x", create_time=_at(SEOUL_DAY)))
    wechat.post(build.event(b, "unsubscribe", create_time=_at(LATE)))
    db = app.extensions["yjy"].db
    with db.session() as s:
        if s.get(ProductRow, "nanta_show") is None:  # the app syncs content/products.yaml: it is there already
            s.add(ProductRow(id="nanta_show", name="乱打秀", data={}, retired=False, synced_at=BEFORE))
            s.flush()
        s.add(Follower(openid=c, subscribed=True, first_channel="kol_a", last_channel="kol_a", qrscene="kol_a",
                       language="zh-CN", tags=[], last_active_at=BEFORE, created_at=BEFORE))
        s.add(Follower(openid=d, subscribed=True, language="zh-CN", tags=[], last_active_at=SEOUL_DAY,
                       created_at=BEFORE))
        _booking(s, "YJA00001", a, "paid", SEOUL_DAY, discount=10000)  # 90,000 paid
        _booking(s, "YJA00002", a, "redeemed", LATE, price=50000)  # 50,000 paid
        _booking(s, "YJA00003", a, "pending_payment", SEOUL_DAY)  # not booked yet
        _booking(s, "YJC00001", c, "confirmed", SEOUL_DAY)  # on site: a booking, no revenue here
        _booking(s, "YJC00002", c, "cancelled", SEOUL_DAY)
        _booking(s, "YJC00003", c, "paid", BEFORE)  # before the period
        _booking(s, "YJD00001", d, "paid", SEOUL_DAY)  # no channel
        s.add_all([CouponClaim(openid=a, coupon_id="winter", claimed_at=SEOUL_DAY, used_ref="YJA00001"),
                   CouponClaim(openid=c, coupon_id="winter", claimed_at=SEOUL_DAY),
                   CouponClaim(openid=c, coupon_id="autumn", claimed_at=BEFORE, used_ref="YJC00003"),
                   CouponClaim(openid=d, coupon_id="winter", claimed_at=SEOUL_DAY, used_ref="YJD00001")])
    return {"a": a, "b": b, "c": c}


def test_report_per_channel_and_period(wechat, openid, tmp_path):
    from bot.followers import channels

    _report_data(wechat, openid)
    lines = {line.channel: line for line in
             channels.report(wechat.app.extensions["yjy"].db, datetime(2026, 12, 1).date(), datetime(2026, 12, 7).date())}
    assert set(lines) == {"kol_a", "kol_zero", "hotel_x"}  # a scene with no stored channel shows too
    # b followed through kol_a before the period, scanned hotel_x in it (activity), unfollowed late on the 7th.
    assert lines["kol_a"].counts() == {"scans": 1, "follows": 1, "unfollows": 1, "active": 2, "bookings": 3,
                                       "revenue_krw": 140000, "coupon_claims": 2, "coupons_used": 1}
    assert lines["hotel_x"].counts() == {"scans": 1, "follows": 0, "unfollows": 1, "active": 1, "bookings": 0,
                                         "revenue_krw": 0, "coupon_claims": 0, "coupons_used": 0}
    assert not any(lines["kol_zero"].counts().values()) and lines["kol_zero"].name == "韩流KOL 01"

    # One day earlier: b's follow through kol_a counts, the late booking and b's unfollow do not.
    early = {line.channel: line for line in channels.report(wechat.app.extensions["yjy"].db,
                                                             datetime(2026, 11, 30).date(), datetime(2026, 12, 6).date())}
    assert (early["kol_a"].scans, early["kol_a"].follows, early["kol_a"].unfollows) == (2, 2, 0)
    assert (early["kol_a"].bookings, early["kol_a"].revenue_krw) == (3, 190000)  # c's paid booking of 11-30


def test_report_command_prints_a_table_and_writes_csv(wechat, openid, tmp_path):
    import csv

    _report_data(wechat, openid)
    path = tmp_path / "out.csv"
    out = wechat.app.test_cli_runner().invoke(
        args=["channels", "report", "--from", "2026-12-01", "--to", "2026-12-07", "--csv", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "channels 2026-12-01 to 2026-12-07 (Seoul)"
    assert lines[1].split() == ["channel", "name", "scans", "follows", "unfollows", "active", "bookings",
                                "revenue", "KRW", "coupons", "used"]
    row = next(line for line in lines if line.startswith("kol_a "))
    assert row.split()[2:] == ["1", "1", "1", "2", "3", "140,000", "2", "1"]
    assert lines[-3].split() == ["total", "2", "1", "2", "3", "3", "140,000", "2", "1"]
    assert lines[-1] == f"written to {path}"
    assert len({len(line) for line in lines[1:4]}) <= 2  # columns line up (a Chinese name is two columns a character)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["channel", "name", "scans", "follows", "unfollows", "active", "bookings", "revenue_krw",
                       "coupon_claims", "coupons_used"]
    assert ["kol_a", "'=HYPERLINK(\"x\")", "1", "1", "1", "2", "3", "140000", "2", "1"] in rows  # formula made inert

    bad = wechat.app.test_cli_runner().invoke(args=["channels", "report", "--from", "2026-12-07", "--to", "2026-12-01"])
    assert bad.exit_code == 2 and "before it starts" in bad.output
    bad = wechat.app.test_cli_runner().invoke(args=["channels", "report", "--from", "12/01", "--to", "2026-12-01"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
