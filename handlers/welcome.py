"""Subscribe (关注), including through a campaign QR code: greet the new follower."""
from __future__ import annotations

from bot.conversation.router import Context, Outcome, Router
from bot.followers import records as followers
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply, no_reply

from .coupons import claim_for_scene

router = Router("welcome")


@router.on_event("subscribe", io=True)
def welcome(msg: Incoming, ctx: Context) -> Reply:
    gifts = claim_for_scene(ctx, msg.openid, msg.scene) if msg.scene else []
    return ctx.cards.text("welcome", ctx.lang, scene=msg.scene, gifts=gifts)


@router.on_event("scan", io=True)
def scanned(msg: Incoming, ctx: Context) -> Reply:
    """A follower scanning a campaign QR code: give that campaign's coupons, say nothing otherwise. The scan is
    recorded for the channel's report in the background (the follow of a new one was, before the welcome)."""
    if msg.scene:
        ctx.services.background.submit("channel scan", followers.note_scan, ctx.services.db, msg)
    gifts = claim_for_scene(ctx, msg.openid, msg.scene) if msg.scene else []
    if not gifts:
        return no_reply()
    return ctx.cards.text("coupon_claimed", ctx.lang, coupon=gifts[0], status="new")


@router.on_event("unsubscribe", io=True)
def goodbye(msg: Incoming, ctx: Context) -> Outcome:
    """WeChat shows nothing after an unsubscribe; forget the conversation in progress."""
    return Outcome(no_reply(), None)
