"""The custom menu: content/menu.yaml checked against WeChat's rules, every button answered through the
real webhook, and `menu push` against the fake WeChat API."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.devtools import sender as build
from bot.infra.db.models import AdminAudit
from bot.infra.yamlfile import SourceError
from bot.wechat.menu import load_menu, unanswered, width

MENU = Path(__file__).resolve().parent.parent / "content" / "menu.yaml"


def test_the_shipped_menu_follows_wechats_rules():
    menu = load_menu(MENU)
    body = menu.to_wechat("https://yjy.example.com")
    assert 1 <= len(body["button"]) <= 3
    for top in body["button"]:
        assert width(top["name"]) <= 8 and 1 <= len(top.get("sub_button", [top])) <= 5
        for item in top.get("sub_button", []):
            assert width(item["name"]) <= 16 and item["type"] in ("click", "view", "location_select")
    assert {"type": "location_select", "name": "附近好去处", "key": "NEARBY_PICK"} in body["button"][0]["sub_button"]


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


@pytest.mark.parametrize("text,line,message", [
    ("buttons: []\n", 1, "1 to 3 top buttons"),
    ("buttons:\n  - {name: a, click: A}\n  - {name: b, click: B}\n  - {name: c, click: C}\n  - {name: d, click: D}\n",
     1, "1 to 3 top buttons, got 4"),
    ("buttons:\n  - {name: 首尔吃喝玩乐, click: A}\n", 2, "at most 4 Chinese characters"),
    ("buttons:\n  - name: 玩\n    sub:\n      - {name: 一二三四五六七八九, click: A}\n", 4, "at most 8 Chinese"),
    ("buttons:\n  - name: 玩\n    sub: []\n", 3, "1 to 5 items"),
    ("buttons:\n  - {name: 玩, teleport: A}\n", 2, "exactly one of click, view, location"),
    ("buttons:\n  - {name: 玩, click: 'A B'}\n", 2, "letters, digits and _"),
    ("buttons:\n  - {name: 玩, view: 'javascript:alert(1)'}\n", 2, "http(s) URL"),
    ("buttons:\n  - {name: a, click: HELP}\n  - {name: b, click: HELP}\n", 3, "already used on line 2"),
])
def test_menu_mistakes_name_the_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as info:
        load_menu(path)
    assert f"menu.yaml, line {line}" in str(info.value) and message in str(info.value), str(info.value)


def test_a_click_key_no_handler_answers_is_found(app, tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text("buttons:\n  - {name: 帮助, click: HELP}\n  - {name: 天气, click: WEATHER}\n", encoding="utf-8")
    assert unanswered(load_menu(path), app.extensions["yjy"].dispatcher) == [("WEATHER", 3)]


def test_menu_push_sends_the_menu_to_wechat(app, fake_api):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["menu", "show"])
    assert shown.exit_code == 0 and '"name": "玩首尔"' in shown.output
    pushed = runner.invoke(args=["menu", "push"])
    assert pushed.exit_code == 0 and "menu pushed: 3 buttons, 13 keys" in pushed.output, pushed.output
    (call,) = fake_api.calls_to("menu/create")
    assert call.body == app.extensions["yjy"].content.menu.to_wechat("https://yjy.example.com")
    fake_api.fail("menu/create", errcode=40018)
    refused = runner.invoke(args=["menu", "push"])
    assert refused.exit_code == 1 and "WeChat refused the menu: 40018" in refused.output
    with app.extensions["yjy"].db.session() as s:
        audit = s.scalars(select(AdminAudit).where(AdminAudit.method == "CLI").order_by(AdminAudit.id))
        rows = [(a.path, a.status) for a in audit]
    assert rows[-2:] == [("menu push", 0), ("menu push", 1)]
