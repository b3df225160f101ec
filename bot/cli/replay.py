"""`yijiyou replay`: play conversation fixtures against the bot and report each turn.

    yijiyou replay tests/conversations/                       # in-process, on throwaway storage
    yijiyou replay core.yaml --url https://host/wechat --token T [--appid A --aes-key K]   # a live server
    yijiyou replay core.yaml --junit report.xml               # and a JUnit report for CI
    yijiyou replay drafts.yaml --record recorded.yaml         # write what the bot answered as a new fixture

Exit code: 0 when every check held, 1 when one failed (or a server did not answer), 2 for a bad fixture
or bad arguments. Against a live server the token, AppID and AES key come from the options, else from
WECHAT_TOKEN / WECHAT_APPID / WECHAT_ENCODING_AES_KEY, else from the config file (BOT_CONFIG or config.yaml).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from bot.infra import yamlfile
from bot.infra.yamlfile import SourceError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay conversation fixtures (in-process or against --url)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path, help="fixture files, or folders of *.yaml fixtures")
    p.add_argument("--url", help="a live webhook, e.g. https://bot.example.com/wechat (default: in-process)")
    p.add_argument("--token", help="the account's WeChat token (live)")
    p.add_argument("--appid", help="the account's AppID (live, compatible or safe mode)")
    p.add_argument("--aes-key", help="the EncodingAESKey: messages are encrypted as WeChat does (live)")
    p.add_argument("--mode", choices=("plain", "compatible", "safe"),
                   help="message mode (default: safe with an AES key, else plain; in-process: safe)")
    p.add_argument("-k", dest="select", help="only conversations whose file::name contains this")
    p.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    p.add_argument("--record", type=Path, help="write the bot's answers to this new fixture file, for review")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failed turns and the summary")
    p.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="the in-process bot's log level (default: WARNING, so turns are readable)")


def _wechat_settings(args: argparse.Namespace) -> dict[str, str]:
    """Token, AppID, AES key and mode: options, then the environment, then the config file."""
    file_values: dict[str, Any] = {}
    config_path = Path(os.environ.get("BOT_CONFIG", "config.yaml"))
    if config_path.is_file():
        try:
            data = yamlfile.load(config_path).data
            file_values = (data.get("wechat") or {}) if isinstance(data, dict) else {}
        except SourceError:
            file_values = {}
    pick = lambda option, env, key: option or os.environ.get(env) or str(file_values.get(key) or "")  # noqa: E731
    return {"token": pick(args.token, "WECHAT_TOKEN", "token"), "appid": pick(args.appid, "WECHAT_APPID", "appid"),
            "aes_key": pick(args.aes_key, "WECHAT_ENCODING_AES_KEY", "encoding_aes_key"),
            "mode": args.mode or ""}


def _load(paths: list[Path], select: str | None) -> list[Any]:
    from bot.devtools import conversations

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(path, None, "no such file or folder")
    if not files:
        raise SourceError(paths[0], None, "no *.yaml fixtures here")
    found = [c for f in files for c in conversations.load(f)]
    return [c for c in found if not select or select in c.id]


def run(args: argparse.Namespace) -> int:
    from bot.devtools import replay

    try:
        selected = _load(args.paths, args.select)
    except SourceError as exc:
        print(f"fixture error: {exc}", file=sys.stderr)
        return 2
    if not selected:
        print("no conversation matches", file=sys.stderr)
        return 2

    close: Callable[[], None] | None = None
    if args.url:
        settings = _wechat_settings(args)
        if not settings["token"]:
            print("a live replay needs the token: --token or WECHAT_TOKEN", file=sys.stderr)
            return 2
        try:
            target: Any = replay.Live(args.url, settings["token"], settings["appid"], settings["aes_key"],
                                      settings["mode"] or None)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    else:
        bot_log = logging.getLogger("bot")
        level = bot_log.level
        bot_log.setLevel(args.log_level)
        app, shutdown = replay.embedded_app(args.mode or "safe")
        target = replay.InProcess.of(app)

        def close() -> None:  # the caller's logging as it was (a test session, say)
            shutdown()
            bot_log.setLevel(level)

    recorded_at = datetime.now().astimezone().replace(microsecond=0)
    if args.record and not args.url:  # the recording is replayed at the clock it was made with
        selected = [replace(c, clock=c.clock or recorded_at) for c in selected]

    def report(result: Any) -> None:
        if result.passed and args.quiet:
            return
        print(replay.format_result(result, verbose=not args.quiet), flush=True)

    print(f"replaying {len(selected)} conversations against {target.name}", flush=True)
    started = time.perf_counter()
    try:
        results = replay.replay(selected, target, on_result=report)
    finally:
        if close:
            close()
    elapsed = time.perf_counter() - started
    print(replay.summary(results, elapsed))
    if args.junit:
        args.junit.write_bytes(replay.junit_xml(results, target.name))
        print(f"JUnit report: {args.junit}")
    if args.record:
        args.record.write_text(replay.dump_fixture(replay.recorded(results, recorded_at)), encoding="utf-8")
        print(f"recorded {sum(len(r.turns) for r in results)} turns to {args.record}: review it before committing")
        return 1 if any(r.error for r in results) else 0
    return 0 if all(r.passed for r in results) else 1
