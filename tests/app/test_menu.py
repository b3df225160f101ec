"""The custom menu: content/menu.yaml checked against WeChat's rules, every button answered through the
real webhook, and `menu push` against the fake WeChat API."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.devtools import sender as build
from bot.infra.db.models import AdminAudit
from bot.wechat.menu import load_menu, unanswered


def test_every_menu_button_gets_a_real_answer_not_the_fallback(app, wechat, openid):
    menu = app.extensions["yjy"].content.menu
    assert unanswered(menu, app.extensions["yjy"].dispatcher) == []
    for n, (key, _line) in enumerate(menu.keys()):
        if key == "NEARBY_PICK":
            xml = build.event(openid, "location_select", key, create_time=int(time.time()) + n,
                              SendLocationInfo={"Location_X": 37.5636, "Location_Y": 126.9827, "Scale": 15,
                                                "Label": "明洞", "Poiname": "明洞站"})
        else:
            xml = build.event(openid, "CLICK", key, create_time=int(time.time()) + n)
        reply = wechat.reply(xml)
        assert isinstance(reply, dict), f"{key}: no reply"
        text = str(reply.get("Content") or reply.get("Articles"))
        assert "这句我还没学会" not in text and "Sorry" not in text, f"{key} got the fallback: {text[:80]}"
        wechat.say(openid, "取消")  # leave any flow a button started (booking) before the next button


def test_a_click_key_no_handler_answers_is_found(app, tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text("buttons:\n  - {name: 帮助, click: HELP}\n  - {name: 天气, click: WEATHER}\n", encoding="utf-8")
    assert unanswered(load_menu(path), app.extensions["yjy"].dispatcher) == [("WEATHER", 3)]


def test_menu_push_sends_the_menu_to_wechat(app, fake_api):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["menu", "show"])
    assert shown.exit_code == 0 and '"name": "玩首尔"' in shown.output
    pushed = runner.invoke(args=["menu", "push"])
    assert pushed.exit_code == 0 and "menu pushed: 3 buttons, 14 keys" in pushed.output, pushed.output
    (call,) = fake_api.calls_to("menu/create")
    assert call.body == app.extensions["yjy"].content.menu.to_wechat("https://yjy.example.com")
    fake_api.fail("menu/create", errcode=40018)
    refused = runner.invoke(args=["menu", "push"])
    assert refused.exit_code == 1 and "WeChat refused the menu: 40018" in refused.output
    with app.extensions["yjy"].db.session() as s:
        audit = s.scalars(select(AdminAudit).where(AdminAudit.method == "CLI").order_by(AdminAudit.id))
        rows = [(a.path, a.status) for a in audit]
    assert rows[-2:] == [("menu push", 0), ("menu push", 1)]
