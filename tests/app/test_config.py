"""Configuration loading and validation: errors name the key and where it was set, never a secret."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.builders import CONFIG_YAML as BASE


def test_no_secret_reaches_the_logs_during_a_conversation(app_factory, caplog):
    from bot.devtools import sender as build
    from tests.support import AES_KEY, SECRET, TOKEN, WeChat

    with caplog.at_level(logging.DEBUG):
        app = app_factory(routers="tests.probe_handlers:ROUTERS")
        wx = WeChat(app, "safe")
        wx.say("o-logs", "帮助")
        wx.say("o-logs", "boom")
        wx.say("o-logs", f"echo:{TOKEN}")
        wx.post(build.text("o-logs", "x"), timestamp="1")  # refused, logged
    assert "webhook refused" in caplog.text and "probe handler exploded" in caplog.text
    for secret in (TOKEN, AES_KEY, SECRET):
        assert secret not in caplog.text


def test_a_bad_config_stops_the_cli_and_gunicorn_entry_point_with_the_place_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text(BASE.replace("  mode: safe\n", "  mode: secure\n"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "BOT_"))}
    env["BOT_CONFIG"] = str(config)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "routing"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"yijiyou: cannot start: {config}, line 8: wechat.mode: must be plain, compatible or safe" in done.stderr
    assert "s3cr3t-value-xyz" not in done.stderr + done.stdout
