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

KINDS = ("greeting", "thanks", "goodbye", "identity", "emoji", "ack")


@router.on_intent(*KINDS, "agree")
def small_talk(msg: Incoming, ctx: Context) -> Reply:
    """"好的" (agree) outside a flow, where it confirms nothing, is an acknowledgement like "收到"."""
    kind = "ack" if ctx.intent == "agree" else ctx.intent
    return ctx.cards.text("smalltalk", ctx.lang, kind=kind)
