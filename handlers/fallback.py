"""Anything no other handler understood: a helpful nudge, never silence."""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("fallback")


@router.fallback()
def not_understood(msg: Incoming, ctx: Context) -> Reply:
    return ctx.cards.text("fallback", ctx.lang, kind=msg.kind)
