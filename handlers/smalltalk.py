"""Small talk: greetings, thanks, goodbyes, "你是谁" and a message of only emoji.

A short friendly answer in the traveler's language with one hint of what the assistant can do. The
intents are exact words and never global (content/intents.yaml), so a flow's step keeps the answers
it takes; one it does not take is answered here with the flow's reminder.
"""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("smalltalk")

KINDS = ("greeting", "thanks", "goodbye", "identity", "emoji")


@router.on_intent(*KINDS)
def small_talk(msg: Incoming, ctx: Context) -> Reply:
    return ctx.cards.text("smalltalk", ctx.lang, kind=ctx.intent)
