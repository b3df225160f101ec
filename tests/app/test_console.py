"""The operators' console at /admin/ through Flask's test client, on both back-ends: login (named tokens, the
session cookie, CSRF, the failed-login limit, logout), every page with and without data, English, the broadcast
steps (dry run, create, a confirmation that refuses a wrong number, the send reaching the fake WeChat API, a
preview), the inbox (a traveler's 转人工 answered from the console), the channel CSV, and storage failures."""
from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import insert, select, text

from bot.devtools import sender as build
from bot.infra.config import ConfigError, find_admin, load_config
from bot.infra.db.models import AdminAudit, ChannelScan, Follower, HandoffRequest
from bot.insights.report import DayFigures
from bot.web.console import auth, charts, texts
from tests.support import CONTENT, WeChat, drain_queue, unreachable_redis

MEI = "mei-token-0123456789abcdef"
JUN = "jun-token-abcdefghijklmnop"
BARE = "bare-token-9876543210zyxw"
TOKENS = [f"mei:{MEI}", f"jun:{JUN}", BARE]
NOW = datetime.now(UTC)


@pytest.fixture
def console(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=TOKENS)
    with app.extensions["yjy"].db.session() as s:
        for table in ("admin_audit", "broadcast_batches", "broadcasts", "mass_receipts", "channel_scans",
                      "handoff_requests", "followers"):
            s.execute(text(f"DELETE FROM {table}"))
    return app


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def login(client: Any, token: str = MEI, **kwargs: Any) -> Any:
    form = csrf_of(client.get("/admin/login"))
    return client.post("/admin/login", data={"csrf": form, "token": token, "next": "/admin/"}, **kwargs)


def logged_in(app: Any, token: str = MEI) -> Any:
    client = app.test_client()
    assert login(client, token).status_code == 303
    return client


def post(client: Any, path: str, page: str = "/admin/", **data: Any) -> Any:
    """A form posted as the browser does: with the CSRF token of a page it showed."""
    return client.post(path, data={"csrf": csrf_of(client.get(page)), **data})


def audit_rows(app: Any) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    with app.extensions["yjy"].db.session() as s:
        return [(a.actor, a.method, a.path, a.status, a.detail)
                for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]


def body(response: Any) -> str:
    return response.get_data(as_text=True)


def seed_followers(app: Any, n: int, prefix: str = "oFan") -> list[str]:
    openids = [f"{prefix}{i:04d}" for i in range(n)]
    with app.extensions["yjy"].db.session() as s:
        s.execute(insert(Follower), [dict(openid=o, subscribed=True, language="zh-CN", tags=[], created_at=NOW,
                                          last_active_at=NOW) for o in openids])
    return openids


# --- login ---------------------------------------------------------------------------------------------
def test_pages_need_a_login(console):
    client = console.test_client()
    for path in ("/admin/", "/admin/inbox", "/admin/broadcasts/new", "/admin/channels.csv"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/admin/login?next=" + path
    refused = client.post("/admin/broadcasts/1/cancel", data={"csrf": "x"})
    assert refused.status_code == 403 and "登录已过期" in body(refused)
    assert audit_rows(console) == []


def test_a_named_token_logs_in_with_a_strict_session_cookie(console):
    client = console.test_client()
    page = client.get("/admin/login")
    assert page.status_code == 200 and "员工登录" in body(page) and page.headers["Cache-Control"] == "private, no-store"
    response = client.post("/admin/login", data={"csrf": csrf_of(page), "token": MEI, "next": "/admin/inbox?kind=group"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/inbox?kind=group"
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(auth.COOKIE + "=")]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert {"httponly", "secure"} <= set(attributes)  # the test app's public base URL is https
    assert attributes["samesite"] == "SameSite=Strict" and attributes["path"] == "Path=/admin"
    assert 12 * 3600 - 60 < int(attributes["max-age"].split("=")[1]) <= 12 * 3600
    assert MEI not in cookie
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200 and '<span data-testid="who">mei</span>' in body(dashboard)
    assert audit_rows(console) == [("staff:mei", "POST", "/admin/login", 303, {})]
    api = console.test_client().post("/admin/api/broadcasts/999/cancel", headers={"Authorization": f"Bearer {JUN}"})
    assert api.status_code == 404  # the admin API names a named token's actor the same way
    assert audit_rows(console)[-1][:4] == ("staff:jun", "POST", "/admin/api/broadcasts/999/cancel", 404)


def test_a_bare_token_is_named_by_its_fingerprint_and_a_login_leads_only_to_our_pages(console):
    client = logged_in(console, BARE)
    assert re.search(r'data-testid="who">token:[0-9a-f]{8}<', body(client.get("/admin/")))
    assert audit_rows(console)[0][0].startswith("token:") and BARE not in str(audit_rows(console))
    client = console.test_client()
    for target in ("https://evil.example/", "//evil.example/admin/", "/admin/\\evil", "/p/x"):
        response = client.post("/admin/login", data={"csrf": csrf_of(client.get("/admin/login")), "token": MEI,
                                                     "next": target})
        assert response.headers["Location"] == "/admin/", target
        client.post("/admin/logout", data={"csrf": csrf_of(client.get("/admin/"))})


def test_a_wrong_token_is_refused_and_logged_without_it(console, caplog):
    client = console.test_client()
    with caplog.at_level(logging.INFO):
        response = login(client, "mei-token-0123456789abcdeX")
    assert response.status_code == 401 and "令牌不对" in body(response)
    assert auth.COOKIE + "=" not in str(response.headers.getlist("Set-Cookie"))
    assert "console login failed from 127.0.0.1: unknown token" in caplog.text
    assert "mei-token" not in caplog.text and audit_rows(console) == []
    assert client.get("/admin/").status_code == 302


def test_failed_logins_are_limited_per_address(console, monkeypatch, caplog):
    client = console.test_client()
    here, there = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.2"}
    for _ in range(auth.MAX_FAILURES):
        assert login(client, "x" * 20, environ_base=here).status_code == 401
    blocked = login(client, MEI, environ_base=here)  # even the right token now waits
    assert blocked.status_code == 429 and "失败次数太多，请 15 分钟后再试" in body(blocked)
    assert login(console.test_client(), MEI, environ_base=there).status_code == 303  # another address is not

    # Redis down (nothing listens on port 1): logins go on, and the log says so
    monkeypatch.setattr(console.extensions["yjy"].services, "redis", unreachable_redis())
    with caplog.at_level(logging.WARNING):
        assert login(console.test_client(), MEI, environ_base=here).status_code == 303
    assert "console login limit unknown (Redis: ConnectionError)" in caplog.text


def test_the_login_form_and_every_post_check_csrf_and_origin(console):
    client = console.test_client()
    stale = client.post("/admin/login", data={"csrf": "forged", "token": MEI})
    assert stale.status_code == 403 and "登录页面已过期" in body(stale)
    foreign = client.post("/admin/login", data={"csrf": csrf_of(client.get("/admin/login")), "token": MEI},
                          headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403

    client = logged_in(console)
    refused = client.post("/admin/broadcasts/1/cancel", data={"csrf": "not-the-token"})
    assert refused.status_code == 403 and "安全校验未通过" in body(refused)
    cross = client.post("/admin/broadcasts/1/cancel", data={"csrf": csrf_of(client.get("/admin/"))},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    ours = client.post("/admin/broadcasts/999/cancel", data={"csrf": csrf_of(client.get("/admin/"))},
                       headers={"Origin": "https://yjy.example.com"})
    assert ours.status_code == 404 and "没有编号为 999 的群发" in body(ours)
    assert [r[2:4] for r in audit_rows(console)[1:]] == [("/admin/broadcasts/1/cancel", 403),
                                                         ("/admin/broadcasts/1/cancel", 403),
                                                         ("/admin/broadcasts/999/cancel", 404)]
    assert audit_rows(console)[1][4] == {"refused": "csrf"}


def test_a_session_ends_at_logout_or_12_hours_after_the_login(console, monkeypatch):
    client = logged_in(console)
    kept = client.get_cookie(auth.COOKIE, path="/admin").value
    response = post(client, "/admin/logout")
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/login")
    assert client.get_cookie(auth.COOKIE, path="/admin") is None
    assert client.get("/admin/").status_code == 302
    assert audit_rows(console)[-1][:4] == ("staff:mei", "POST", "/admin/logout", 303)
    # A copy of the cookie kept from before the logout is refused too (the logout is remembered in Redis).
    client.set_cookie(auth.COOKIE, kept, path="/admin")
    assert client.get("/admin/").status_code == 302
    other = logged_in(console)  # another login of the same staff member is not affected
    assert other.get("/admin/").status_code == 200
    later = time.time() + auth.SESSION_SECONDS + 5
    monkeypatch.setattr(auth.time, "time", lambda: later)
    assert other.get("/admin/").status_code == 302  # 12 hours after the login


def test_a_changed_token_ends_its_sessions(console, app_factory):
    client = logged_in(console)
    cookie = client.get_cookie(auth.COOKIE, path="/admin").value
    same_secret = console.extensions["yjy"].config.console_secret
    rotated = app_factory(admin__tokens=["mei:" + "n" * 24], admin__console_secret=same_secret).test_client()
    rotated.set_cookie(auth.COOKIE, cookie, path="/admin")
    assert rotated.get("/admin/").status_code == 302
    unchanged = app_factory(admin__tokens=TOKENS, admin__console_secret=same_secret).test_client()
    unchanged.set_cookie(auth.COOKIE, cookie, path="/admin")
    assert unchanged.get("/admin/").status_code == 200


# --- configuration -------------------------------------------------------------------------------------
def test_admin_tokens_take_names():
    config = load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1", "ADMIN_TOKENS": f"mei:{MEI}, {BARE},jun:{JUN}"},
                         dev=False, overrides={"wechat.token": "tok123456"})
    assert config.admin_tokens == (MEI, BARE, JUN)
    assert [(login.name, login.actor) for login in config.admin_logins][::2] == [("mei", "staff:mei"),
                                                                               ("jun", "staff:jun")]
    assert config.admin_logins[1].name == "" and config.admin_logins[1].actor.startswith("token:")
    assert find_admin(config.admin_logins, JUN).name == "jun" and find_admin(config.admin_logins, "") is None
    assert MEI in config.secrets and len(config.console_secret) >= 32 and config.console_secret in config.secrets
    for bad, why in ((f"mei:{MEI},mei:{JUN}", "'mei' is listed twice"), ("mei:short", "at least 16 characters")):
        with pytest.raises(ConfigError, match=why):
            load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1", "ADMIN_TOKENS": bad}, dev=False,
                        overrides={"wechat.token": "tok123456"})
    with pytest.raises(ConfigError, match="admin.console_secret: must be at least 32"):
        load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1", "CONSOLE_SECRET": "short"}, dev=False,
                    overrides={"wechat.token": "tok123456"})


# --- pages ---------------------------------------------------------------------------------------------
PAGES = ("/admin/", "/admin/unanswered?days=7", "/admin/inbox", "/admin/broadcasts", "/admin/broadcasts/new",
         "/admin/channels")


def test_every_page_says_what_to_do_when_there_is_no_data_in_both_languages(console):
    client = logged_in(console)
    shown = {path: client.get(path) for path in PAGES}
    assert {path: r.status_code for path, r in shown.items()} == dict.fromkeys(PAGES, 200)
    assert all('<meta name="viewport"' in body(r) and "<script" not in body(r) for r in shown.values())
    dashboard = body(shown["/admin/"])
    for empty in ("还没有消息数据", "没有待处理的请求", "本周没有答不上的问题", "还没有渠道", "还没有群发"):
        assert empty in dashboard
    assert "近 7 天没有答不上的问题" in body(shown["/admin/unanswered?days=7"])
    assert "没有符合条件的请求" in body(shown["/admin/inbox"])
    assert "还没有群发" in body(shown["/admin/broadcasts"])
    assert "这个时间段没有渠道数据" in body(shown["/admin/channels"])
    assert client.get("/admin/static/console.css").status_code == 200

    english = client.get("/admin/inbox?lang=en")  # English: a toggle kept in the session
    assert english.status_code == 200 and "Staff inbox" in body(english) and '<html lang="en">' in body(english)
    assert "Nothing is waiting." in body(client.get("/admin/")) and "Broadcasts" in body(client.get("/admin/broadcasts"))
    assert "Staff login" in body(console.test_client().get("/admin/login?lang=en"))
    assert "概览" in body(client.get("/admin/?lang=zh-CN"))


def test_bad_parameters_are_pages_with_the_reason(console):
    client = logged_in(console)
    cases = {"/admin/unanswered?days=3": (400, "时间范围只能是 1, 7, 14, 30 天之一"),
             "/admin/inbox?status=lost": (400, "没有这种状态或类型"),
             "/admin/inbox/H999999": (404, "no inbox item H999999"),
             "/admin/inbox/nonsense": (404, "no inbox item"),
             "/admin/broadcasts/424242": (404, "没有编号为 424242 的群发"),
             "/admin/broadcasts/424242/send": (404, "没有编号为 424242 的群发"),
             "/admin/channels?from=2026-12-09&to=2026-12-01": (400, "结束日期早于开始日期"),
             "/admin/channels?from=yesterday": (400, "YYYY-MM-DD")}
    for path, (status, words) in cases.items():
        response = client.get(path)
        assert (response.status_code, words in body(response)) == (status, True), path
        assert "Traceback" not in body(response)


def test_the_dashboard_and_unanswered_list_show_what_travelers_asked(console):
    wechat = WeChat(console)
    wechat.say("oTraveler0001", "景福宫几点开门")
    for who in ("oTraveler0001", "oTraveler0002"):
        wechat.say(who, "zorblax quintessa flurb")  # nothing understands this
    client = logged_in(console)
    page = body(client.get("/admin/"))
    daily = page.split('data-testid="daily"')[1].split("</section>")[0]
    assert '<div class="big">3</div>' in daily and '<div class="big">33%</div>' in daily  # 1 of 3 answered
    assert "<svg" in daily and 'fill="#333">3</text>' in daily and ">33%</text>" in daily  # today's bar
    top = page.split('data-testid="top-questions"')[1].split("</section>")[0]
    assert "zorblax quintessa flurb" in top and "2 次 · 2 位旅客" in top
    asked = page.split('data-testid="intents"')[1].split("</section>")[0]
    today = console.extensions["yjy"].clock.now().date()
    assert f'<th class="n">{today.day}</th></tr>' in asked  # the last column is today
    place_row = next(r for r in asked.split("<tr>") if r.startswith("<td>place</td>")).split("</tr>")[0]
    assert place_row.count('<td class="n">') == 1 + 7 and place_row.endswith('<td class="n">1</td>')  # total, 7 days
    listed = body(client.get("/admin/unanswered?days=14"))
    row = listed.split('data-testid="questions"')[1]
    assert "zorblax quintessa flurb" in row and "景福宫" not in row


def test_the_dashboard_shows_channels_and_broadcast_results(console):
    ext = console.extensions["yjy"]
    seed_followers(console, 3)
    with ext.db.session() as s:
        s.execute(insert(ChannelScan), [dict(channel="kol_hallyu_01", openid=f"oFan{i:04d}", event=event,
                                             source=f"d{i}{event}", at=NOW - timedelta(hours=1))
                                        for i, event in ((0, "subscribe"), (1, "subscribe"), (2, "scan"))])
    client = logged_in(console)
    created = post(client, "/admin/broadcasts/create", yaml="name: 周末快讯\naudience: {all: true}\ntext: 周末好\n")
    assert created.status_code == 303
    page = body(client.get("/admin/"))
    funnel = page.split('data-testid="funnel"')[1].split("</section>")[0]
    assert "kol_hallyu_01" in funnel and '<span class="num">3</span>' in funnel and "2 · 67%" in funnel
    recent = page.split('data-testid="recent-broadcasts"')[1].split("</section>")[0]
    assert "周末快讯" in recent and "已创建，未发送" in recent and "3 人 · 送达 0 · 失败 0" in recent


# --- broadcasts ----------------------------------------------------------------------------------------
WINTER = "name: 冬日首尔\naudience: {language: zh-CN}\ntext: 首尔下雪啦\n"


def test_a_broadcast_from_dry_run_to_a_confirmed_send(console, fake_api):
    seed_followers(console, 3)
    client = logged_in(console)
    dry = post(client, "/admin/broadcasts/new", "/admin/broadcasts/new", yaml=WINTER)
    assert dry.status_code == 200 and "将发给 3 位关注者，分 1 批" in body(dry)
    assert "首尔下雪啦" in body(dry) and "oFan0000" in body(dry) and "每月最多收到 4 次群发" in body(dry)
    assert client.get("/admin/broadcasts").get_data(as_text=True).count("冬日首尔") == 0  # a dry run stores nothing

    created = post(client, "/admin/broadcasts/create", yaml=csrf_free_yaml(dry))
    assert created.status_code == 303
    bid = int(re.search(r"/admin/broadcasts/(\d+)\?done=created", created.headers["Location"]).group(1))
    shown = body(client.get(created.headers["Location"]))
    assert "已创建（还没有发送）" in shown and "已创建，未发送" in shown and fake_api.mass_sends() == []

    confirm = client.get(f"/admin/broadcasts/{bid}/send")
    assert confirm.status_code == 200 and "「冬日首尔」将发给 3 位关注者（1 批待发）" in body(confirm)
    assert "首尔下雪啦" in body(confirm)
    wrong = client.post(f"/admin/broadcasts/{bid}/send", data={"csrf": csrf_of(confirm), "confirm": "30"})
    assert wrong.status_code == 422 and "请输入人数 3。没有发送" in body(wrong)
    drain_queue_if_any(console)
    assert fake_api.mass_sends() == []

    sent = client.post(f"/admin/broadcasts/{bid}/send", data={"csrf": csrf_of(confirm), "confirm": "3"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/admin/broadcasts/{bid}?done=queued")
    drain_queue(console)
    (call,) = fake_api.mass_sends()
    assert sorted(call.body["touser"]) == ["oFan0000", "oFan0001", "oFan0002"]
    assert call.body["text"]["content"] == "首尔下雪啦"
    after = body(client.get(f"/admin/broadcasts/{bid}"))
    assert '<span class="pill sent" data-testid="status">已发送</span>' in after
    again = client.get(f"/admin/broadcasts/{bid}/send")
    assert again.status_code == 409 and "这个群发已发送，不能再发送" in body(again)
    listed = body(client.get("/admin/broadcasts"))
    assert "冬日首尔</a>" in listed and '<span class="pill sent">已发送</span>' in listed
    trail = [(r[0], r[2], r[3]) for r in audit_rows(console)]
    assert trail[1:] == [("staff:mei", "/admin/broadcasts/new", 200), ("staff:mei", "/admin/broadcasts/create", 303),
                         ("staff:mei", f"/admin/broadcasts/{bid}/send", 422),
                         ("staff:mei", f"/admin/broadcasts/{bid}/send", 303)]
    with console.extensions["yjy"].db.session() as s:
        assert s.scalar(text("SELECT created_by FROM broadcasts")) == "staff:mei"


def csrf_free_yaml(page: Any) -> str:
    """The file the dry-run page carries to its create form."""
    import html

    found = re.search(r'<textarea name="yaml" hidden>(.*?)</textarea>', body(page), re.S)
    assert found
    return html.unescape(found.group(1))


def drain_queue_if_any(app: Any) -> None:
    """Run any job a refused send might have queued (servers back-end); the embedded queue runs them inline."""
    ext = app.extensions["yjy"]
    if not ext.config.embedded_redis and ext.queue.count:
        drain_queue(app)


def test_the_name_confirms_a_send_too_and_a_cancelled_one_is_refused(console, fake_api):
    seed_followers(console, 2)
    client = logged_in(console)
    created = post(client, "/admin/broadcasts/create", yaml=WINTER)
    bid = int(created.headers["Location"].split("/")[-1].split("?")[0])
    cancelled = post(client, f"/admin/broadcasts/{bid}/cancel", f"/admin/broadcasts/{bid}")
    assert cancelled.status_code == 303 and "已取消" in body(client.get(cancelled.headers["Location"]))
    refused = post(client, f"/admin/broadcasts/{bid}/send", f"/admin/broadcasts/{bid}", confirm="冬日首尔")
    assert refused.status_code == 409 and "cancelled" in body(refused)
    assert fake_api.mass_sends() == []

    second = post(client, "/admin/broadcasts/create", yaml=WINTER.replace("冬日首尔", "春日首尔"))
    bid = int(second.headers["Location"].split("/")[-1].split("?")[0])
    by_name = post(client, f"/admin/broadcasts/{bid}/send", f"/admin/broadcasts/{bid}", confirm="春日首尔")
    assert by_name.status_code == 303
    drain_queue(console)
    assert len(fake_api.mass_sends()) == 1


def test_a_bad_file_an_upload_and_an_audience_too_small(console):
    client = logged_in(console)
    bad = post(client, "/admin/broadcasts/new", yaml="name: x\naudience: {all: true}\nnews: [{attraction: atlantis}]\n")
    assert bad.status_code == 400 and "第 3 行" in body(bad) and "no attraction &#39;atlantis&#39;" in body(bad)
    assert post(client, "/admin/broadcasts/new", yaml="  ").status_code == 400
    seed_followers(console, 1)
    from io import BytesIO

    upload = client.post("/admin/broadcasts/new", data={
        "csrf": csrf_of(client.get("/admin/")), "yaml": "",
        "file": (BytesIO(WINTER.encode()), "winter.yaml")}, content_type="multipart/form-data")
    assert upload.status_code == 422 and "at least 2 recipients" in body(upload)  # one follower is no broadcast
    huge = client.post("/admin/broadcasts/new", data={
        "csrf": csrf_of(client.get("/admin/")), "file": (BytesIO(b"#" * 300_000), "huge.yaml")},
        content_type="multipart/form-data")
    assert huge.status_code == 413 and "上传的文件太大" in body(huge)
    example = client.get("/admin/broadcasts/new?example=winter_palaces.yaml")
    assert "winter_palaces.yaml" in body(example) and "audience:" in body(example)


def test_a_preview_goes_to_the_staff_members_own_phone(console, fake_api):
    seed_followers(console, 2)
    client = logged_in(console)
    bad = post(client, "/admin/broadcasts/preview", yaml=WINTER, openid="me")
    assert bad.status_code == 400 and "openid" in body(bad)
    shown = post(client, "/admin/broadcasts/preview", yaml=WINTER, openid="oMeiPhone001")
    assert shown.status_code == 200 and "预览已发到你的微信" in body(shown)
    (call,) = fake_api.calls_to("message/mass/preview")
    assert call.body["touser"] == "oMeiPhone001" and call.body["text"]["content"] == "首尔下雪啦"
    again = post(client, "/admin/broadcasts/new", yaml=WINTER)  # the next dry run offers it: kept in the session
    assert 'name="openid" value="oMeiPhone001"' in body(again)
    assert audit_rows(console)[-2][2:] == ("/admin/broadcasts/preview", 200,
                                           {"preview": "冬日首尔", "to": 1, "refused": 0})


# --- inbox ---------------------------------------------------------------------------------------------
def test_a_hand_off_answered_from_the_console(console, fake_api):
    wechat = WeChat(console)
    traveler = "oTravelerInbox01"
    wechat.reply(build.event(traveler, "subscribe"))
    wechat.say(traveler, "转人工")
    with console.extensions["yjy"].db.session() as s:
        (row,) = s.scalars(select(HandoffRequest).where(HandoffRequest.openid == traveler))
    item = f"H{row.id}"
    client = logged_in(console)
    listed = body(client.get("/admin/inbox?status=open"))
    assert f'data-testid="item-{item}"' in listed and "转人工" in listed
    page = client.get(f"/admin/inbox/{item}")
    assert page.status_code == 200 and traveler in body(page) and "还可发 5 条" in body(page)
    assigned = client.post(f"/admin/inbox/{item}/assign", data={"csrf": csrf_of(page)})
    assert assigned.status_code == 303 and "已分配给你" in body(client.get(assigned.headers["Location"]))
    assert f'data-testid="item-{item}"' in body(client.get("/admin/inbox?mine=1"))

    empty = client.post(f"/admin/inbox/{item}/reply", data={"csrf": csrf_of(page), "text": "  "})
    assert empty.status_code == 400 and "回复不能为空" in body(empty)
    replied = client.post(f"/admin/inbox/{item}/reply", data={"csrf": csrf_of(page), "text": "您好，我是客服小美"})
    assert replied.status_code == 303 and replied.headers["Location"].endswith(f"/admin/inbox/{item}?done=replied")
    (sent,) = fake_api.calls_to("message/custom/send")
    assert sent.body == {"touser": traveler, "msgtype": "text", "text": {"content": "您好，我是客服小美"}}
    shown = body(client.get(replied.headers["Location"]))
    assert "回复已发出" in shown and '<span class="pill answered" data-testid="status">已回复</span>' in shown
    assert "您好，我是客服小美" in shown

    closed = client.post(f"/admin/inbox/{item}/close", data={"csrf": csrf_of(page)})
    assert closed.status_code == 303
    again = client.post(f"/admin/inbox/{item}/close", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "closed already" in body(again)
    late = client.post(f"/admin/inbox/{item}/reply", data={"csrf": csrf_of(page), "text": "还在吗"})
    assert late.status_code == 409 and "is closed" in body(late)
    assert len(fake_api.calls_to("message/custom/send")) == 1
    trail = [(r[2], r[3]) for r in audit_rows(console) if r[1] == "POST"][1:]
    assert trail == [(f"/admin/inbox/{item}/assign", 303), (f"/admin/inbox/{item}/reply", 400),
                     (f"/admin/inbox/{item}/reply", 303), (f"/admin/inbox/{item}/close", 303),
                     (f"/admin/inbox/{item}/close", 409), (f"/admin/inbox/{item}/reply", 409)]
    reads = [r for r in audit_rows(console) if r[1] == "GET"]
    assert reads and all(r[0] == "staff:mei" for r in reads)  # travelers' messages shown: audited


def test_a_reply_wechat_would_refuse_is_shown_with_its_reason(console, fake_api):
    ext = console.extensions["yjy"]
    with ext.db.session() as s:
        s.execute(insert(Follower), [dict(openid="oGone000001", subscribed=False, language="zh-CN", tags=[],
                                          created_at=NOW, last_active_at=NOW, unsubscribed_at=NOW)])
        s.add(HandoffRequest(openid="oGone000001", kind="complaint", status="open", text="出租车多收钱",
                             created_at=NOW))
    with ext.db.session() as s:
        item = f"H{s.scalar(select(HandoffRequest.id))}"
    client = logged_in(console)
    page = client.get(f"/admin/inbox/{item}")
    refused = client.post(f"/admin/inbox/{item}/reply", data={"csrf": csrf_of(page), "text": "您好"})
    assert refused.status_code == 409 and "回复没有发出" in body(refused) and "您好</textarea>" in body(refused)
    assert "旅客已取消关注公众号" in body(refused) and "unfollowed" not in body(refused)  # said in the page's language
    in_english = client.post(f"/admin/inbox/{item}/reply?lang=en", data={"csrf": csrf_of(page), "text": "hello"})
    assert "the traveler unfollowed the account" in body(in_english)
    assert fake_api.calls_to("message/custom/send") == []


# --- channels ------------------------------------------------------------------------------------------
def test_the_channel_csv_is_what_the_cli_writes(console, tmp_path):
    seed_followers(console, 2)
    ext = console.extensions["yjy"]
    with ext.db.session() as s:
        s.execute(insert(ChannelScan), [dict(channel="=HYPERLINK(1)", openid="oFan0000", event="subscribe",
                                             source="d-1", at=NOW)])
    today = ext.clock.now().date()
    first = (today - timedelta(days=6)).isoformat()
    client = logged_in(console)
    page = client.get(f"/admin/channels?from={first}&to={today}")
    assert page.status_code == 200 and "=HYPERLINK(1)" in body(page)
    download = client.get(f"/admin/channels.csv?from={first}&to={today}")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == f'attachment; filename="channels-{first}-{today}.csv"'
    out = tmp_path / "report.csv"
    result = console.test_cli_runner().invoke(args=["channels", "report", "--from", first, "--to", today.isoformat(),
                                                    "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert download.data == out.read_bytes() and b"'=HYPERLINK(1)" in download.data
    assert audit_rows(console)[-1][2:4] == ("/admin/channels.csv", 200)


# --- failures ------------------------------------------------------------------------------------------
def test_storage_down_is_a_page_saying_the_data_is_unavailable(console, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from bot.broadcasts.service import BroadcastService

    client = logged_in(console)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(BroadcastService, "newest", down)
    response = client.get("/admin/broadcasts")
    assert response.status_code == 503 and "数据暂时无法读取" in body(response) and "Traceback" not in body(response)

    def redis_down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Redis is marked down")

    monkeypatch.setattr("bot.inbox.service.Inbox.items", redis_down)
    assert client.get("/admin/inbox").status_code == 503


# --- texts and charts ----------------------------------------------------------------------------------
def test_every_language_has_every_text():
    content = CONTENT
    found = texts.languages(content)
    assert set(found) == {"zh-CN", "en"}

    def keys(node: Any, prefix: str = "") -> set[str]:
        return {k for key, value in node.items()
                for k in (keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"})}

    import yaml

    own = yaml.safe_load((texts.folder(content) / "en.yaml").read_text(encoding="utf-8"))
    assert keys(own) == keys(found["zh-CN"])  # nothing in English falls back to Chinese


def test_a_text_zh_cn_lacks_is_an_error_naming_the_line(tmp_path):
    from bot.infra.yamlfile import SourceError

    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "zh-CN.yaml").write_text("nav:\n  dashboard: 概览\n", encoding="utf-8")
    (tmp_path / "console" / "en.yaml").write_text("nav:\n  dashbaord: Dashboard\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"en.yaml, line 2: nav.dashbaord: zh-CN.yaml has no text"):
        texts.languages(tmp_path)


def test_the_daily_chart_carries_its_numbers():
    from datetime import date

    days = [DayFigures(date(2026, 12, 1), 1234, 1000), DayFigures(date(2026, 12, 2), 0, 0),
            DayFigures(date(2026, 12, 3), 15000, 7500)]
    svg = str(charts.daily_svg(days, title="t <x>", messages_label="m", answered_label="a"))
    assert svg.startswith("<svg") and "t &lt;x&gt;" in svg
    assert ">1.2k</text>" in svg and ">15k</text>" in svg and ">0</text>" in svg
    assert ">81%</text>" in svg and ">50%</text>" in svg and ">–</text>" in svg
    assert ">12/1</text>" in svg and 'fill="#666">2</text>' in svg  # the month on the first day only
    assert svg.count("<rect") == 4  # two bars each for the days with messages
    assert charts.width(0, 10) == "0%" and charts.width(1, 1000) == "1.5%" and charts.width(5, 10) == "50.0%"
