"""Sending broadcasts against the fake WeChat API over real HTTP: batches, resume, retries, quota stop,
job-finish accounting."""

from __future__ import annotations

import pytest


def test_texts_per_language_need_the_default_one():
    from bot.broadcasts.planning import SpecError, validate_spec

    with pytest.raises(SpecError) as info:
        validate_spec({"name": "x", "audience": {"all": True}, "text": {"en": "hi"}})
    assert info.value.field == "text.zh-CN"
    with pytest.raises(SpecError) as info:
        validate_spec({"name": "x", "audience": {"all": True}, "text": {"zh-CN": "你好", "en": ""}})
    assert info.value.field == "text.en"
