"""News broadcasts composed from content/: articles rendered, thumbnails and articles uploaded to the fake
WeChat API over real HTTP, and sent as mpnews, on both back-ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.broadcasts import news as broadcast_news
from bot.broadcasts import planning as broadcasts

SPEC = {"name": "冬日首尔", "audience": {"all": True},
        "news": [{"attraction": "gyeongbokgung"}, {"product": "nanta_show"}, {"campaign": "kol_hallyu_10"}]}


def test_message_kinds_and_languages_are_checked():
    with pytest.raises(broadcasts.SpecError, match="exactly one of text, news or media_id"):
        broadcasts.validate_spec({**SPEC, "text": "hi"})
    with pytest.raises(broadcasts.SpecError, match="only for news"):
        broadcasts.validate_spec({"name": "x", "audience": {"all": True}, "text": "hi", "languages": ["en"]})
    with pytest.raises(broadcasts.SpecError, match="need zh-CN among them"):
        broadcasts.validate_spec({**SPEC, "languages": ["en", "ja"]})


def test_thumbnails_are_checked_like_wechat_checks_them(tmp_path):
    (tmp_path / "big.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 70_000)
    (tmp_path / "fake.jpg").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(broadcast_news.ComposeError, match="68 KB; WeChat takes at most 64 KB"):
        broadcast_news.read_thumb(tmp_path / "big.jpg")
    with pytest.raises(broadcast_news.ComposeError, match="not a JPEG"):
        broadcast_news.read_thumb(tmp_path / "fake.jpg")

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "content" / "broadcasts").glob("*.yaml"))


def test_there_are_example_broadcast_files():
    assert len(EXAMPLES) >= 3
