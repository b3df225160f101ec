"""`yijiyou replay`: fixtures played in-process and against a live server (real HTTP, plain and safe
mode), per-turn report with diffs, exit codes, JUnit, recording."""
from __future__ import annotations

import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from bot.cli import main
from bot.devtools import conversations
from tests.support import AES_KEY, APPID, TOKEN

BIN = Path(sys.executable).parent
GOOD = """\
defaults: {clock: "2026-12-05T10:00:00+09:00"}
conversations:
  - name: palace
    steps:
      - send: {text: 景福宫几点开门}
        expect: {type: news, title_contains: 景福宫, url_regex: "/p/attractions/gyeongbokgung"}
      - send: {text: 你好}
        expect: {type: text}
  - name: follow_from_a_campaign_qr
    steps:
      - send: {event: subscribe, scene: campaign_winter_2026}
        expect: {type: text, contains: 首尔冬日立减}
"""
FAILING = """\
conversations:
  - name: wrong_words
    steps:
      - send: {text: 汇率}
        expect: {type: text, equals: "一个不会出现的回答\\n第二行"}
      - send: {text: 景福宫}
        expect: {type: text}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_in_process_replay_passes_and_prints_each_turn(tmp_path, capsys):
    fixture = write(tmp_path, "good.yaml", GOOD)
    assert main(["replay", str(fixture)]) == 0
    out = capsys.readouterr().out
    assert "against in-process (safe mode)" in out
    assert "PASS good.yaml::palace" in out and "  ok    1  text: 景福宫几点开门  ->  news「景福宫" in out
    assert "event: subscribe (scene=campaign_winter_2026)" in out
    assert "2 conversations, 3 turns: 2 passed, 0 failed" in out


@pytest.mark.parametrize("mode", ["plain", "compatible"])
def test_in_process_replay_in_each_mode_sends_what_wechat_sends(tmp_path, capsys, mode):
    fixture = write(tmp_path, "good.yaml", GOOD)
    assert main(["replay", str(fixture), "--mode", mode]) == 0
    out = capsys.readouterr().out
    assert f"against in-process ({mode} mode)" in out and "0 failed" in out


def test_a_failed_check_shows_a_diff_exits_1_and_lands_in_junit(tmp_path, capsys):
    fixture = write(tmp_path, "bad.yaml", FAILING)
    report = tmp_path / "report.xml"
    assert main(["replay", str(fixture), "--junit", str(report), "--mode", "plain"]) == 1
    out = capsys.readouterr().out
    assert "FAIL bad.yaml::wrong_words" in out and f"{fixture}:5" in out
    assert "--- expected" in out and "+++ reply" in out and "-一个不会出现的回答" in out and "+💱 参考汇率" in out
    assert "expected a text reply, got news" in out  # the second turn is reported too
    assert "1 conversations, 2 turns: 0 passed, 1 failed (2 failed turns" in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("name") == "bad.yaml" and suite.get("failures") == "1" and suite.get("tests") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message").startswith("expected the reply to be exactly")


@pytest.mark.parametrize("text,where", [
    ("conversations:\n  - name: x\n    steps:\n      - send: {teleport: 1}\n", "line 4"),
    ("conversations:\n  - name: x\n    steps:\n      - send: {location: {lat: 37.5}}\n", "line 4"),
    ("conversations:\n  - name: x\n    steps:\n      - send: {text: hi}\n        expect: [1]\n", "line 5"),
    ("conversations:\n  - name: x\n    rates: {CNY: -3}\n    steps:\n      - send: {text: hi}\n", "line 3"),
    ("conversations:\n  - name: x\n    steps: [\n", "line 4"),
])
def test_fixture_errors_name_the_file_and_line_and_exit_2(tmp_path, capsys, text, where):
    fixture = write(tmp_path, "broken.yaml", text)
    assert main(["replay", str(fixture)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and where in err, err


def test_an_in_process_replay_leaves_the_callers_logging_as_it_was(tmp_path):
    import logging

    bot_log = logging.getLogger("bot")
    bot_log.setLevel(logging.INFO)
    main(["replay", str(write(tmp_path, "good.yaml", GOOD))])
    assert bot_log.level == logging.INFO


def test_missing_paths_and_empty_selections_exit_2(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    fixture = write(tmp_path, "good.yaml", GOOD)
    assert main(["replay", str(fixture), "-k", "no-such-conversation"]) == 2


def test_fixture_rates_are_what_the_bot_converts_with(tmp_path, capsys):
    fixture = write(tmp_path, "rates.yaml", """\
defaults: {clock: "2026-11-25T10:00:00+09:00", rates: {CNY: 200}}
conversations:
  - name: fixture_rate
    steps:
      - send: {text: 100人民币换多少韩币}
        expect: {contains: ["20,000 韩元", "1 人民币 = 200.00 韩元", conversation fixture]}
  - name: own_rate
    rates: {CNY: 150.5}
    steps:
      - send: {text: 100人民币换多少韩币}
        expect: {contains: "15,050 韩元"}
""")
    assert main(["replay", str(fixture)]) == 0, capsys.readouterr().out


def test_record_writes_a_fixture_that_replays_green(tmp_path, capsys):
    drafts = write(tmp_path, "drafts.yaml", """\
conversations:
  - name: browse_and_pick
    steps:
      - send: {text: 推荐美食}
      - send: {text: "1"}
      - send: {location: {lat: 37.5636, lng: 126.9827, label: 明洞}}
      - send: {event: unsubscribe}
""")
    recorded = tmp_path / "recorded.yaml"
    assert main(["replay", str(drafts), "--record", str(recorded)]) == 0
    doc = recorded.read_text(encoding="utf-8")
    assert doc.startswith("# Recorded by `yijiyou replay --record`") and "equals: |" in doc and "no_reply: true" in doc
    (conversation,) = conversations.load(recorded)
    assert conversation.clock is not None and [s.expect.get("type") for s in conversation.steps][:2] == ["text", "news"]
    capsys.readouterr()
    assert main(["replay", str(recorded), "-q"]) == 0, capsys.readouterr().out


@pytest.fixture
def live(app_factory, request) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app behind a real HTTP server on 127.0.0.1, in the message mode the test asks for."""
    app = app_factory(wechat__mode=request.param)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/wechat"
    server.shutdown()


@pytest.mark.parametrize("live", ["safe"], indirect=True)
def test_live_server_in_safe_mode_gets_encrypted_messages(live, tmp_path, capsys):
    fixture = write(tmp_path, "good.yaml", GOOD)
    code = main(["replay", str(fixture), "--url", live, "--token", TOKEN, "--appid", APPID, "--aes-key", AES_KEY])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"against {live} (safe mode)" in out  # an AES key means WeChat's safe mode
    assert "note: the server's own clock was used, not 2026-12-05T10:00:00+09:00" in out
    # the server refuses what safe mode forbids: an unencrypted message
    assert main(["replay", str(fixture), "--url", live, "--token", TOKEN, "--mode", "plain"]) == 1
    assert "the webhook answered HTTP 4" in capsys.readouterr().out


@pytest.mark.parametrize("live", ["plain"], indirect=True)
def test_live_server_in_plain_mode_and_a_wrong_token(live, tmp_path, capsys):
    fixture = write(tmp_path, "good.yaml", GOOD)
    assert main(["replay", str(fixture), "--url", live, "--token", TOKEN]) == 0
    assert f"against {live} (plain mode)" in capsys.readouterr().out
    assert main(["replay", str(fixture), "--url", live, "--token", "wrongToken1"]) == 1
    out = capsys.readouterr().out
    assert "ERROR line 5: the webhook answered HTTP 403" in out and "0 passed, 2 failed" in out


def test_unreachable_live_server_is_an_error_not_a_pass(tmp_path, capsys):
    fixture = write(tmp_path, "good.yaml", GOOD)
    assert main(["replay", str(fixture), "--url", "http://127.0.0.1:9/wechat", "--token", TOKEN]) == 1
    assert "could not reach http://127.0.0.1:9/wechat" in capsys.readouterr().out


def test_the_installed_entry_point_replays_the_shipped_fixtures(tmp_path):
    report = tmp_path / "junit.xml"
    done = subprocess.run([str(BIN / "yijiyou"), "replay", "tests/conversations/", "-q", "--junit", str(report)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 failed" in done.stdout
    suites = ET.parse(report).getroot().findall("testsuite")
    assert {s.get("name") for s in suites} >= {"core.yaml", "attractions.yaml", "money.yaml"}
    assert all(s.get("failures") == "0" and s.get("errors") == "0" for s in suites)
