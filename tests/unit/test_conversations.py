"""The conversation fixtures themselves: enough of them, and a broken one named by file and line.
(tests/app/test_conversations.py plays each one through the webhook.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.devtools import conversations

FILES = sorted((Path(__file__).resolve().parents[1] / "conversations").glob("*.yaml"))

ALL = [c for path in FILES for c in conversations.load(path)]


def test_there_are_enough_traveler_utterances():
    texts = [s for c in ALL for s in c.steps if "text" in s.send or "voice" in s.send]
    assert len(texts) >= 40


def test_fixture_errors_name_file_and_line(tmp_path):
    from bot.infra.yamlfile import SourceError

    bad = tmp_path / "bad.yaml"
    bad.write_text("conversations:\n  - name: x\n    steps:\n      - send: {teleport: 1}\n")
    with pytest.raises(SourceError) as info:
        conversations.load(bad)
    assert "bad.yaml" in str(info.value) and "line 4" in str(info.value) and "teleport" in str(info.value)
    bad.write_text("conversations:\n  - name: x\n    steps:\n      - send: {text: hi}\n        expect: {colour: red}\n")
    with pytest.raises(SourceError) as info:
        conversations.load(bad)
    assert "line 5" in str(info.value) and "colour" in str(info.value)
