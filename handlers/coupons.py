"""Campaign coupons: claimed by typing the campaign word or by following through a campaign QR code."""
from __future__ import annotations

from bot.bookings import coupons
from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("coupons")


@router.on_intent("coupon", io=True)
def claim(msg: Incoming, ctx: Context) -> Reply:
    coupon = ctx.services.content.coupons.items[ctx.captures["coupon"]]
    today = ctx.services.clock.now().date()
    if not coupon.valid_on(today):
        return ctx.cards.text("coupon_claimed", ctx.lang, coupon=coupon, status="expired" if today > coupon.valid_until
                              else "not_yet")
    added = coupons.claim(ctx.services.db, msg.openid, coupon)
    return ctx.cards.text("coupon_claimed", ctx.lang, coupon=coupon, status="new" if added else "already")


@router.on_intent("coupons", io=True)
def overview(msg: Incoming, ctx: Context) -> Reply:
    """"有优惠吗" / "我的优惠券": the coupons this traveler holds, and the campaigns running now."""
    today = ctx.services.clock.now().date()
    every = ctx.services.content.coupons.items
    held = coupons.unused(ctx.services.db, msg.openid) if msg.openid else set()
    mine = [c for cid, c in every.items() if cid in held and c.valid_on(today)]
    running = [c for c in every.values() if c.valid_on(today) and c.id not in held]
    return ctx.cards.text("coupons_overview", ctx.lang, mine=mine, running=running)


def claim_for_scene(ctx: Context, openid: str, scene: str) -> list[coupons.Coupon]:
    """Coupons newly given to a follower who came through campaign QR code `scene`."""
    today = ctx.services.clock.now().date()
    return [c for c in ctx.services.content.coupons.by_scene(scene)
            if c.valid_on(today) and coupons.claim(ctx.services.db, openid, c)]
