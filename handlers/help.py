"""帮助 / help: what the assistant can do."""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("help")


@router.on_intent("help")
@router.on_click("HELP")
def show_help(msg: Incoming, ctx: Context) -> Reply:
    return ctx.cards.text("help", ctx.lang)
