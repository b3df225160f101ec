"""How crowded a place is now ("明洞人多吗", "is Myeongdong crowded now"), and the place card's crowd line.

Rendering only: readings, their freshness and the quieter place nearby come from `bot/live/crowds.py`.
"""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.live import crowds
from bot.live.store import LiveStore
from bot.travel.places import Place
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("crowds")


@router.on_intent("crowd", io=True)  # Redis, and with nothing cached one call to the source (at most 1.5 s)
def crowd(msg: Incoming, ctx: Context) -> Reply:
    places = ctx.services.content.places
    place_id = ctx.captures.get("place") or ctx.state.get("last_place")  # "人多吗" after a card: that place
    place = places.get(place_id) if place_id else None
    if place is None:
        return ctx.cards.text("crowd_which", ctx.lang)
    ctx.state["last_place"] = place.id  # "几点开门" next is about it too
    ctx.state["near"] = "place"
    if not place.hotspot:
        return ctx.cards.text("crowd", ctx.lang, place=place, answer=None, dashboard=crowds.DASHBOARD)
    now = ctx.services.clock.now()
    service = crowds.of(ctx.services)
    answer = service.read(place.hotspot, now)
    quieter = service.quieter_near(place, answer, places, now)
    return ctx.cards.text("crowd", ctx.lang, place=place, answer=answer, minutes=answer.age_minutes(now) or 0,
                          upcoming=answer.upcoming(now), quieter=quieter, dashboard=crowds.DASHBOARD,
                          distance=ctx.cards.distance(quieter.metres, ctx.lang) if quieter else "")


def card_line(place: Place, ctx: Context, store: LiveStore | None = None) -> str:
    """The place card's crowd line: only for a place with a hotspot and a fresh live reading (cache only; `store`:
    a `live.cards.peek` read ahead)."""
    if not place.hotspot:
        return ""
    service = crowds.of(ctx.services).reading_from(store) if store else crowds.of(ctx.services)
    if service.source.sample:
        return ""  # a recorded sample is never shown on a card, only asked for ("明洞人多吗") and labelled
    now = ctx.services.clock.now()
    answer = service.read(place.hotspot, now, fetch=False)
    if answer.state != crowds.LIVE:
        return ""
    return ctx.cards.render("crowd_line", ctx.lang, answer=answer, minutes=answer.age_minutes(now) or 0)
