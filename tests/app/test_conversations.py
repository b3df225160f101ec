"""Every conversation in tests/conversations/*.yaml, through the real webhook, on both back-ends.

Run one alone: pytest tests/app/test_conversations.py -k "attractions.yaml::palace_hours"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.devtools import conversations, replay

FILES = sorted((Path(__file__).resolve().parents[1] / "conversations").glob("*.yaml"))

ALL = [c for path in FILES for c in conversations.load(path)]


@pytest.mark.parametrize("conversation", ALL, ids=[c.id for c in ALL])
def test_conversation(conversation, app, fake_api, fake_pay):
    result = replay.play(conversation, replay.InProcess(app, fake_api, fake_pay))
    if not result.passed:
        pytest.fail(replay.format_result(result, verbose=False), pytrace=False)
