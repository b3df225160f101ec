"""The console in headless Chromium (Debian's, through Playwright), against the app served over real HTTP: log in,
open every page from the menu, switch to English, fit a phone's screen; and a traveler's 转人工 answered from
the inbox page end to end (the webhook, the page's form, the fake WeChat API's kf message, the item answered)."""
from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest
from werkzeug.serving import make_server

from bot.devtools import sender as build
from tests.support import WeChat

MEI = "mei-token-0123456789abcdef"


@pytest.fixture
def served(app_factory) -> Iterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[f"mei:{MEI}"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def tab(browser, served) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.problems = []  # what the browser complained about: a CSP violation, a missing file
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.goto(served[1] + "/admin/")  # not logged in: the login form, which comes back here
    page.fill("#token", MEI)
    page.click("#login")
    page.wait_for_selector("h1:has-text('概览')")
    yield page
    context.close()


def test_every_page_from_the_menu_in_both_languages_and_on_a_phone(tab):
    assert tab.inner_text("[data-testid=who]") == "mei"
    for link, heading in (("未答问题", "未答问题"), ("客服收件箱", "客服收件箱"), ("群发", "群发"), ("渠道", "渠道报表"),
                          ("概览", "概览")):
        tab.click(f"nav.main >> text={link}")
        tab.wait_for_selector(f"h1:has-text('{heading}')")
        assert tab.locator("nav.main a.on").inner_text() == link
    assert tab.locator("[data-testid=daily] .empty").is_visible()
    tab.click("[data-testid=lang]")
    tab.wait_for_selector("h1:has-text('Dashboard')")
    tab.click("nav.main >> text=Broadcasts")
    tab.click("#new-broadcast")
    tab.wait_for_selector("h1:has-text('New broadcast')")

    tab.set_viewport_size({"width": 390, "height": 844})
    for path in ("/admin/", "/admin/broadcasts/new", "/admin/channels"):
        tab.goto(tab.url.split("/admin/")[0] + path)
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    button = tab.locator("nav.main a").first.bounding_box()
    assert button is not None and button["height"] >= 40  # a finger's tap target

    assert tab.problems == []
    tab.click("text=Log out")
    tab.wait_for_selector("h1:has-text('Staff login')")
    tab.goto(tab.url.split("/admin/")[0] + "/admin/inbox")
    tab.wait_for_selector("#token")  # the session is gone


def test_a_hand_off_answered_from_the_inbox_page(tab, served, fake_api):
    app, _ = served
    traveler = "oBrowserTraveler01"
    wechat = WeChat(app)
    wechat.reply(build.event(traveler, "subscribe"))
    wechat.say(traveler, "转人工 我的DMZ订单要改时间")
    tab.click("nav.main >> text=客服收件箱")
    tab.click("[data-testid=inbox] a >> text=转人工 我的DMZ订单要改时间")
    tab.wait_for_selector("[data-testid=status]:has-text('待处理')")
    assert "还可发 5 条" in tab.inner_text("[data-testid=window]")
    tab.fill("#reply", "您好，已为您改到下午3点")
    tab.click("#send-reply")
    tab.wait_for_selector("[data-testid=done]:has-text('回复已发出')")
    assert tab.inner_text("[data-testid=status]") == "已回复"
    assert "您好，已为您改到下午3点" in tab.inner_text("[data-testid=messages]")
    (sent,) = fake_api.calls_to("message/custom/send")
    assert sent.body == {"touser": traveler, "msgtype": "text", "text": {"content": "您好，已为您改到下午3点"}}
