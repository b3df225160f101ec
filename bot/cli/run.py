"""`yijiyou run`: the bot on embedded defaults (SQLite, in-process Redis) for a laptop with no servers, with
the chat simulator mounted. Development only: it prints the secrets a WeChat test account needs."""
from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="start the bot on embedded defaults (SQLite, in-process Redis)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5000)


def run(args: argparse.Namespace) -> int:
    from bot import create_app
    from bot.devtools import pay_setup, simulator
    from bot.infra.config import ConfigError, load_config, work_dir

    overrides: dict[str, Any] = {"public_base_url": f"http://{args.host}:{args.port}", "simulator.enabled": True}
    fake_pay = None
    try:
        config = load_config(dev=True, overrides=overrides)
        if not config.pay.enabled:  # no merchant account: the embedded fake takes the payments, and says so
            fake_pay, pay_overrides = pay_setup.embedded_pay(work_dir() / "var" / "dev-pay", appid=config.wechat.appid)
            config = load_config(dev=True, overrides={**overrides, **pay_overrides})
        app = create_app(config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    simulator.init_app(app)
    if fake_pay is not None:
        pay_setup.init_app(app, fake_pay)
    w = config.wechat
    dev_login = next((login for login in config.admin_logins if login.name == "dev"), None)
    console_login = f"(log in with {dev_login.token})" if dev_login else "(log in with a token of ADMIN_TOKENS)"
    print(f"""
一机游首尔 bot, development mode (embedded Redis stand-in, database {config.database_url})
  webhook URL      : http://{args.host}:{args.port}/wechat
  Token            : {w.token}
  EncodingAESKey   : {w.encoding_aes_key}
  AppID            : {w.appid}
  message mode     : {w.mode}
  chat simulator   : http://{args.host}:{args.port}/simulator
  staff console    : http://{args.host}:{args.port}/admin/  {console_login}
  WeChat Pay       : {f"embedded fake at {config.pay.api_base_url}: no money moves" if fake_pay else config.pay.mode}
Paste these into the WeChat test account's "接口配置信息" (behind a tunnel), or drive it with the tests.
""", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0
