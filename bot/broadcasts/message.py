"""The message part of a mass-send or preview body, for the broadcasts that need no upload (text, media_id).

Its own module so that sending (which sends it) and news (which falls back to it) both import it and not
each other. News is composed (and uploaded) by `bot.broadcasts.news.NewsComposer.payload`.
"""
from __future__ import annotations

from typing import Any, Callable

DEFAULT_LANG = "zh-CN"

# (validated spec, language) -> message part; a news broadcast's uploads happen inside it.
Compose = Callable[[dict[str, Any], str], dict[str, Any]]


def message_payload(spec: dict[str, Any], lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """The message from a validated broadcast spec, in `lang` if it has texts per language."""
    if "news" in spec:
        raise ValueError("a news broadcast needs bot.broadcasts.news.NewsComposer to compose it")
    if "text" in spec:
        text = spec["text"]
        if isinstance(text, dict):
            text = text.get(lang) or text[DEFAULT_LANG]
        return {"msgtype": "text", "text": {"content": text}}
    return {"msgtype": "mpnews", "mpnews": {"media_id": spec["media_id"]}, "send_ignore_reprint": 0}
