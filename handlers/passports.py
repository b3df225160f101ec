"""Passport details after booking a product that needs them (the DMZ checkpoint list): one traveler per message."""
from __future__ import annotations

from bot.bookings import passports
from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("passports")


@router.on_intent("passport", io=True)
def passport_details(msg: Incoming, ctx: Context) -> Reply:
    s = ctx.services
    needs = s.content.products.needing_passports
    names = s.content.products.names(ctx.lang)
    now = s.clock.now()
    try:
        passport = passports.parse(msg.text or "", now.date())
    except passports.PassportProblem as exc:
        waiting = passports.needing(s.db, needs, msg.openid, now.date())
        if not waiting:
            return ctx.cards.text("passport_none", ctx.lang)
        return ctx.cards.text("passport_ask", ctx.lang, problem=str(exc), waiting=waiting, names=names)
    filed = passports.attach(s.db, needs, msg.openid, passport, now)
    if filed is None:
        return ctx.cards.text("passport_none", ctx.lang)
    return ctx.cards.text("passport_filed", ctx.lang, filed=filed, passport=passport, names=names,
                          party=filed.booking.adults + filed.booking.children)
