"""The custom menu: content/menu.yaml checked against WeChat's rules, every button answered through the
real webhook, and `menu push` against the fake WeChat API."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.yamlfile import SourceError
from bot.wechat.menu import load_menu, width

MENU = Path(__file__).resolve().parents[2] / "content" / "menu.yaml"


def test_the_shipped_menu_follows_wechats_rules():
    menu = load_menu(MENU)
    body = menu.to_wechat("https://yjy.example.com")
    assert 1 <= len(body["button"]) <= 3
    for top in body["button"]:
        assert width(top["name"]) <= 8 and 1 <= len(top.get("sub_button", [top])) <= 5
        for item in top.get("sub_button", []):
            assert width(item["name"]) <= 16 and item["type"] in ("click", "view", "location_select")
    assert {"type": "location_select", "name": "附近好去处", "key": "NEARBY_PICK"} in body["button"][0]["sub_button"]


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
