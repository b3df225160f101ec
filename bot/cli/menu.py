"""`flask --app wsgi menu show | push`: the WeChat custom menu (content/menu.yaml)."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.cli.common import audited

menu_cli = AppGroup("menu", help="The WeChat custom menu (content/menu.yaml).")


@menu_cli.command("show")
def menu_show() -> None:
    """Print the menu as WeChat's menu/create body."""
    import json

    ext = current_app.extensions["yjy"]
    click.echo(json.dumps(ext.content.menu.to_wechat(ext.config.public_base_url), ensure_ascii=False, indent=2))


@menu_cli.command("push")
@audited
def menu_push() -> None:
    """Replace the account's menu with content/menu.yaml (WeChat shows it to followers within minutes)."""
    from wechatpy.exceptions import WeChatClientException

    from bot.wechat.menu import unanswered

    ext = current_app.extensions["yjy"]
    menu = ext.content.menu
    if missing := unanswered(menu, ext.dispatcher):
        raise click.ClickException("; ".join(f"{menu.file}, line {line}: no handler answers click key {key}"
                                             for key, line in missing))
    try:
        ext.wechat.create_menu(menu.to_wechat(ext.config.public_base_url))
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"menu pushed: {len(menu.buttons)} buttons, {len(menu.keys())} keys ({menu.file})")


def init_app(app: Flask) -> None:
    app.cli.add_command(menu_cli)
