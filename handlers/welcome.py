"""Subscribe (关注), including through a campaign QR code: greet the new follower."""
from __future__ import annotations

from bot.inbound import Incoming
from bot.replies import Reply, no_reply
from bot.router import Context, Outcome, Router

router = Router("welcome")


@router.on_event("subscribe")
def welcome(msg: Incoming, ctx: Context) -> Reply:
    return ctx.cards.text("welcome", ctx.lang, scene=msg.scene)


@router.on_event("unsubscribe")
def goodbye(msg: Incoming, ctx: Context) -> Outcome:
    """WeChat shows nothing after an unsubscribe; forget the conversation in progress."""
    return Outcome(no_reply(), None)
