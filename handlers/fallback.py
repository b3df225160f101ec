"""Anything no other handler understood: a helpful nudge, never silence."""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("fallback")


@router.fallback()
def not_understood(msg: Incoming, ctx: Context) -> Reply:
    return ctx.cards.text("fallback", ctx.lang, kind=msg.kind)


@router.on_intent("suggest")
def suggest(msg: Incoming, ctx: Context) -> Reply:
    """Not understood, but close to questions the bot answers: offer them by number ("你是想问…？")."""
    meanings = ctx.services.content.meanings.items
    offers = [i for i in ctx.captures.get("offers", []) if i < len(meanings)]
    ctx.state["list"] = {"kind": "suggest", "offers": offers, "ids": [], "end": len(offers)}
    return ctx.cards.text("suggest", ctx.lang, says=[meanings[i].say.get(ctx.lang) or meanings[i].say["zh-CN"]
                                                     for i in offers])
