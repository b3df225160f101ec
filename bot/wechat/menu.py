"""The WeChat custom menu (自定义菜单) from `content/menu.yaml`, checked against WeChat's rules.

    buttons:                       # 1 to 3 across the bottom of the chat
      - name: 玩首尔               # at most 4 Chinese characters (8 Latin) on a top button
        sub:                       # 1 to 5 items; an item shows at most 8 Chinese characters (16 Latin)
          - {name: 景点推荐, click: RECOMMEND}          # a CLICK event with this key, answered by a handler
          - {name: 附近好去处, location: NEARBY_PICK}   # WeChat's location picker (a location_select event)
          - {name: 首尔攻略, view: "{base_url}/p/info/transit"}   # opens a page; {base_url}: ours
      - {name: 帮助, click: HELP}

Every click key must be answered by a handler: `menu push` refuses a menu with a button that would
only get the fallback reply (`unanswered`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.infra import yamlfile

ACTIONS = ("click", "view", "location")
WECHAT_TYPES = {"click": "click", "view": "view", "location": "location_select"}
_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Button:
    name: str
    action: str = ""  # click | view | location; "" for a top button with a sub-menu
    value: str = ""  # the key, or the URL
    sub: tuple[Button, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Menu:
    buttons: tuple[Button, ...]
    file: str

    def keys(self) -> list[tuple[str, int]]:
        """(event key, line) of every click and location button."""
        flat = [b for top in self.buttons for b in (top.sub or (top,))]
        return [(b.value, b.line) for b in flat if b.action in ("click", "location")]

    def to_wechat(self, base_url: str) -> dict[str, Any]:
        """The body of WeChat's menu/create call."""
        def one(b: Button) -> dict[str, Any]:
            if b.sub:
                return {"name": b.name, "sub_button": [one(s) for s in b.sub]}
            field = "url" if b.action == "view" else "key"
            value = b.value.replace("{base_url}", base_url.rstrip("/"))
            return {"type": WECHAT_TYPES[b.action], "name": b.name, field: value}
        return {"button": [one(b) for b in self.buttons]}


def unanswered(menu: Menu, dispatcher: Any) -> list[tuple[str, int]]:
    """(key, line) of click buttons no handler answers. Location buttons are answered as locations."""
    flat = [b for top in menu.buttons for b in (top.sub or (top,))]
    return [(b.value, b.line) for b in flat if b.action == "click" and not dispatcher.answers_click(b.value)]


def width(text: str) -> int:
    """Display width as WeChat cuts menu names: a Chinese character counts 2, a Latin one 1."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def load_menu(path: Path) -> Menu:
    """The menu in `path`, or SourceError naming the file, line and field."""
    doc = yamlfile.load(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("buttons"), list):
        raise doc.error("buttons", "expected a list 'buttons:' of 1 to 3 buttons")
    if not 1 <= len(data["buttons"]) <= 3:
        raise doc.error("buttons", f"WeChat shows 1 to 3 top buttons, got {len(data['buttons'])}")
    tops = []
    for i, raw in enumerate(data["buttons"]):
        p = f"buttons.{i}"
        if isinstance(raw, dict) and "sub" in raw:
            if set(raw) - {"name", "sub"}:
                raise doc.error(p, "a button with a sub-menu has only name and sub")
            subs = raw["sub"]
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                raise doc.error(f"{p}.sub", "expected 1 to 5 items")
            items = tuple(_leaf(doc, s, f"{p}.sub.{j}", 16) for j, s in enumerate(subs))
            tops.append(Button(_name(doc, raw, p, 8), sub=items, line=doc.line(p) or 0))
        else:
            tops.append(_leaf(doc, raw, p, 8))
    menu = Menu(tuple(tops), str(path))
    seen: dict[str, int] = {}
    for key, line in menu.keys():  # noqa: SIM118 - Menu.keys() lists (key, line) pairs; Menu is no dict
        if key in seen:
            raise yamlfile.SourceError(path, line, f"key {key} is already used on line {seen[key]}")
        seen[key] = line
    return menu


def _name(doc: yamlfile.Located, raw: Any, path: str, limit: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise doc.error(f"{path}.name", "expected the button's name")
    if width(name) > limit:
        raise doc.error(f"{path}.name", f"{name!r} is too long for WeChat: at most {limit // 2} Chinese "
                                        f"characters ({limit} Latin) here")
    return name.strip()


def _leaf(doc: yamlfile.Located, raw: Any, path: str, limit: int) -> Button:
    if not isinstance(raw, dict):
        raise doc.error(path, f"expected a mapping with name and one of {', '.join(ACTIONS)}")
    name = _name(doc, raw, path, limit)
    actions = [a for a in ACTIONS if a in raw]
    if len(actions) != 1 or set(raw) - {"name", *ACTIONS}:
        raise doc.error(path, f"expected name and exactly one of {', '.join(ACTIONS)}")
    action, value = actions[0], raw[actions[0]]
    if not isinstance(value, str):
        raise doc.error(f"{path}.{action}", "expected a string")
    if action == "view":
        if not re.match(r"^(https?://|\{base_url\}/)", value) or len(value.encode()) > 1024:
            raise doc.error(f"{path}.view", "expected an http(s) URL or {base_url}/... of at most 1024 bytes")
    elif not _KEY.match(value):
        raise doc.error(f"{path}.{action}", "expected a key of letters, digits and _ (at most 64)")
    return Button(name, action, value, line=doc.line(path) or 0)
