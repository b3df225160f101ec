"""The chat simulator: its API, and the page end to end in headless Chromium (Debian's chromium, driven by
Playwright), against the app served over real HTTP in safe mode."""
from __future__ import annotations

import re
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

from bot.devtools import simulator
from bot.infra.clock import Clock

WINTER = datetime(2026, 12, 5, 11, 0, tzinfo=ZoneInfo("Asia/Seoul"))


@pytest.fixture
def sim_app(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(simulator__enabled=True, wechat__mode="safe")
    simulator.init_app(app)  # what the dev runner does; the app factory never mounts a dev tool
    app.extensions["yjy"].services.clock = Clock(WINTER)
    return app


def test_the_simulator_is_off_unless_configured(app):
    simulator.init_app(app)  # mounts nothing: simulator.enabled is off
    assert app.test_client().get("/simulator").status_code == 404
    assert app.test_client().post("/simulator/api/send", json={}).status_code == 404


def test_send_goes_through_the_signed_encrypted_webhook(sim_app):
    client = sim_app.test_client()
    out = client.post("/simulator/api/send", json={"openid": "oSIMapi000001", "send": {"text": "景福宫几点开门"}})
    assert out.status_code == 200 and out.json["encrypted"] is True and out.json["status"] == 200
    (article,) = out.json["articles"]
    assert article["title"].startswith("景福宫") and article["url"].endswith("/p/attractions/gyeongbokgung")
    bad = client.post("/simulator/api/send", json={"openid": "oSIMapi000001", "send": {"teleport": 1}})
    assert bad.status_code == 400 and bad.json["field"] == "send"
    assert client.post("/simulator/api/send", json={"openid": "x", "send": {"text": "hi"}}).status_code == 400
    incomplete = client.post("/simulator/api/send", json={"openid": "oSIMapi000001", "send": {"location": {}}})
    assert incomplete.status_code == 400 and "incomplete turn" in incomplete.json["error"]


@pytest.mark.parametrize("mode,encrypted", [("plain", False), ("compatible", True)])
def test_send_follows_the_accounts_message_mode(app_factory, mode, encrypted):
    app = app_factory(simulator__enabled=True, wechat__mode=mode)
    simulator.init_app(app)
    out = app.test_client().post("/simulator/api/send", json={"openid": "oSIMapi000002", "send": {"text": "你好"}})
    assert out.status_code == 200 and out.json["status"] == 200
    assert out.json["encrypted"] is encrypted and out.json["kind"] == "text"


def test_broadcast_preview_renders_without_sending(sim_app, fake_api):
    client = sim_app.test_client()
    ok = client.post("/simulator/api/broadcast-preview", json={"yaml": "name: 冬日\naudience: {all: true}\n"
                                                                       "news: [{product: nanta_show}]\n"})
    assert ok.status_code == 200 and ok.json["messages"][0]["articles"][0]["title"].startswith("明洞乱打秀")
    assert ok.json["messages"][0]["articles"][0]["picurl"] == "/simulator/images/default.jpg"
    assert client.get("/simulator/images/default.jpg").data[:3] == b"\xff\xd8\xff"
    assert client.get("/simulator/images/..%2Fmenu.yaml").status_code == 404
    bad = client.post("/simulator/api/broadcast-preview", json={"yaml": "name: x\naudience: {all: true}\n"
                                                                        "news: [{attraction: atlantis}]\n"})
    assert bad.status_code == 400 and bad.json["line"] == 3 and "no attraction 'atlantis'" in bad.json["error"]
    assert fake_api.calls == []  # a preview here uploads and sends nothing


@pytest.fixture
def page(sim_app, browser):  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, sim_app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    context = browser.new_context(viewport={"width": 900, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto(f"http://127.0.0.1:{server.server_port}/simulator")
    tab.wait_for_selector("text=模拟器已连接")
    yield tab
    context.close()
    server.shutdown()


def test_chatting_in_the_browser(page):
    page.fill("#text", "景福宫几点开门")
    page.press("#text", "Enter")
    card = page.wait_for_selector("[data-testid=news]")
    assert "Gyeongbokgung" in card.inner_text()
    assert card.query_selector("a").get_attribute("href").endswith("/p/attractions/gyeongbokgung")
    assert "加密" in page.inner_text(".wire")  # it went through the safe-mode webhook

    page.fill("#text", "100人民币换多少韩币")
    page.click("#send")
    page.wait_for_selector("[data-testid=reply]:has-text('韩元')")


def test_menu_buttons_location_and_campaign_follow(page):
    assert page.inner_text("#menubar").split() == ["≡", "玩首尔", "≡", "实用工具", "≡", "预订"]
    page.click("text=≡ 实用工具")
    page.click(".submenu.open >> text=汇率换算")
    page.wait_for_selector("[data-testid=reply]:has-text('参考汇率')")

    page.click("text=≡ 玩首尔")
    page.click(".submenu.open >> text=附近好去处")  # WeChat's location picker: pick a preset
    page.click("#presets button >> nth=0")
    page.wait_for_selector("[data-testid=reply]:has-text('离明洞最近的好去处')")

    page.select_option("#scene", "campaign_winter_2026")
    page.click("#subscribe")
    page.wait_for_selector("[data-testid=reply]:has-text('首尔冬日立减')")


def test_a_marketer_previews_a_broadcast_file(page):
    page.fill("#broadcast", "name: 冬日首尔\naudience: {all: true}\nnews:\n  - attraction: gyeongbokgung\n"
                            "  - campaign: winter_2026\n")
    page.click("#preview")
    assert re.search(r"「冬日首尔」将发给 \d+ 位关注者（all）", page.inner_text("[data-testid=preview-summary]"))
    card = page.wait_for_selector("[data-testid=news] >> nth=-1")
    assert "Gyeongbokgung" in card.inner_text() and "首尔冬日立减" in card.inner_text()
    page.select_option("#broadcast-example", label="hallyu_kol_fans.yaml")  # the shipped examples are offered
    assert "韩流达人粉丝" in page.input_value("#broadcast")
    page.click("#preview")
    summary = page.locator("[data-testid=preview-summary]", has_text="韩流达人粉丝")
    summary.wait_for()
    assert "（openids）" in summary.inner_text()
    page.fill("#broadcast", "name: 冬日首尔\naudience: {all: true}\ntext: 你好\ncolour: red\n")
    page.click("#preview")
    assert "第 4 行" in page.inner_text("[data-testid=preview-error]")


def test_a_non_boolean_switch_is_a_config_error_naming_the_key():
    from bot.infra.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="simulator.enabled: must be true or false"):
        load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1"}, dev=False, overrides={
            "wechat.token": "tok123456", "simulator.enabled": "yes"})
