"""Attractions: a place's card, browsing a category, picking from a numbered list, "more"."""
from __future__ import annotations

import functools
from typing import Any

from bot.conversation.router import Context, Router
from bot.followers import records as followers
from bot.live import cards as live_cards
from bot.travel.places import Place
from bot.travel.routes import way
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

from . import crowds, weather

router = Router("attractions")
PAGE = 5  # items per text list: short enough to read on a phone


def place_card(place: Place, ctx: Context, focus: str | None = None, crowd: str = "",
               weather_line: str = "") -> Reply:
    """The one-article news card that opens the place's page; asking about a place is interest in its
    primary category. The place is what a follow-up with no place in it is about ("门票呢", "附近有什么吃的")."""
    ctx.state["last_place"] = place.id
    ctx.state["near"] = "place"  # newer than a location sent before (handlers/nearby.py)
    if place.categories:
        _note_interest(ctx, place.categories[0])
    now = ctx.services.clock.now()
    return ctx.cards.news("attraction", ctx.lang, place=place, focus=focus, crowd=crowd, weather=weather_line,
                          status=ctx.cards.status_line(place.status(now), ctx.lang, now),
                          url=ctx.cards.page_url(place, ctx.lang))


def _note_interest(ctx: Context, category: str) -> None:
    """Record the category as an interest (a broadcast audience), once per conversation at most."""
    asked = ctx.state.setdefault("interests", [])
    if category in asked or not ctx.openid:
        return
    # In the background, with other travelers' in one statement: the reply does not wait for the database.
    if ctx.services.background.add("interests", functools.partial(followers.note_interests, ctx.services.db),
                                   (ctx.openid, category, ctx.services.clock.now())):
        asked.append(category)


def show_list(ctx: Context, ids: list[str], *, kind: str, category: str | None = None,
              anchor: str | None = None, extras: dict[str, str] | None = None, start: int = 0,
              collection: str | None = None, note: str = "") -> Reply:
    """A numbered text list (passive replies to messages show only one article, so lists are text).

    The whole result stays in the state so "2" opens the second item and "更多" continues.
    """
    places = ctx.services.content.places
    categories = ctx.services.content.categories.items
    extras = extras or {}
    if category:
        _note_interest(ctx, category)
    shown = ids[start:start + PAGE]
    ctx.state["list"] = {"ids": ids, "end": start + len(shown), "kind": kind, "category": category,
                         "anchor": anchor, "extras": extras, "collection": collection}
    heading = ctx.cards.render("list_heading", ctx.lang, kind=kind if start == 0 else "more",
                               category=categories.get(category) if category else None, anchor=anchor,
                               collection=ctx.services.content.collections.items.get(collection or ""))
    items = []
    for n, place_id in enumerate(shown, start=start + 1):
        place = places.get(place_id)
        if place is None:
            continue
        extra = extras.get(place_id) or place.t("district", ctx.lang)
        items.append({"n": n, "place": place, "url": ctx.cards.page_url(place, ctx.lang), "extra": extra})
    return ctx.cards.text("attraction_list", ctx.lang, heading=heading, items=items, note=note,
                          more=start + len(shown) < len(ids))


# Follow-up intents that are a focus by themselves ("how much" after a place card: its admission).
FOCUS_OF_INTENT = {"ask_price": "price"}


def follow_up(intent: str, captures: dict[str, Any], last_place: str | None) -> tuple[str | None, str | None]:
    """(place id, focus) a message is about: the place named in it, else the place shown last.

    "景福宫几点开门" names its place; "门票呢" / "几点关门" / "怎么去" (the understanding gives the focus and no
    place) and "how much" are about `last_place`.
    """
    return captures.get("place") or last_place, captures.get("focus") or FOCUS_OF_INTENT.get(intent)


# Inline, as the money answer: the crowd line is one read of the live cache (Redis, with its short timeout); the
# database and the WeChat API are what an inline handler must not touch.
@router.on_intent("place", *FOCUS_OF_INTENT)
def place(msg: Incoming, ctx: Context) -> Reply:
    place_id, focus = follow_up(ctx.intent, ctx.captures, ctx.state.get("last_place"))
    found = ctx.services.content.places.get(place_id) if place_id else None
    if found is None:
        return ctx.cards.text("which_place", ctx.lang)
    live = live_cards.peek(ctx.services, found.lat, found.lng, found.hotspot)  # one Redis round trip for both lines
    return place_card(found, ctx, focus, crowd=crowds.card_line(found, ctx, live),
                      weather_line=weather.card_line(ctx, found.lat, found.lng, live))


def category_menu(ctx: Context) -> Reply:
    return ctx.cards.text("category_menu", ctx.lang,
                          categories=list(ctx.services.content.categories.items.values()))


@router.on_intent("browse")
@router.on_click("RECOMMEND", "CAT_*")
def browse(msg: Incoming, ctx: Context) -> Reply:
    category = ctx.captures.get("category")
    if not category and msg.key.startswith("CAT_"):
        category = msg.key[len("CAT_"):].lower()
    if category not in ctx.services.content.categories.items:
        return category_menu(ctx)
    ids = [p.id for p in ctx.services.content.places.in_category(category)]
    return show_list(ctx, ids, kind="category", category=category)


@router.on_intent("pick")
def pick(msg: Incoming, ctx: Context) -> Reply:
    listing: dict[str, Any] = ctx.state.get("list") or {}
    number = ctx.captures["number"]
    shown = int(listing.get("end", 0))
    if not listing or not 1 <= number <= shown:
        return ctx.cards.text("pick_nothing", ctx.lang, count=shown)
    found = ctx.services.content.places.get(listing["ids"][number - 1])
    if found is None:  # removed from the content since the list was sent
        return ctx.cards.text("pick_nothing", ctx.lang, count=0)
    return place_card(found, ctx, ctx.captures.get("focus"))  # "第二个怎么去": its way there


@router.on_intent("more")
def more(msg: Incoming, ctx: Context) -> Reply:
    listing: dict[str, Any] = ctx.state.get("list") or {}
    if not listing or listing["end"] >= len(listing["ids"]):
        return category_menu(ctx)
    return show_list(ctx, listing["ids"], kind=listing["kind"], category=listing.get("category"),
                     anchor=listing.get("anchor"), extras=listing.get("extras"), start=listing["end"],
                     collection=listing.get("collection"))


@router.on_intent("collection")
def collection(msg: Incoming, ctx: Context) -> Reply:
    """Places of one kind ("首尔有什么寺庙", "带孩子去哪玩"), with the products that go with them."""
    content = ctx.services.content
    found = content.collections.items[ctx.captures["collection"]]
    products = [p for p in (content.products.get(pid) for pid in found.products) if p is not None]
    listing = show_list(ctx, list(found.places), kind="collection", collection=found.id)
    if not products:
        return listing
    names = [p.name.get(ctx.lang) or p.name["zh-CN"] for p in products]
    return ctx.cards.text("collection_products", ctx.lang, listing=listing.content, names=names)


@router.on_intent("route")
def route(msg: Incoming, ctx: Context) -> Reply:
    """"从明洞到弘大怎么走": each end's subway, the distance, a walk or taxi estimate, a map link that plans it."""
    places = ctx.services.content.places
    origin, destination = places.get(ctx.captures["origin"]), places.get(ctx.captures["destination"])
    if origin is None or destination is None:
        return ctx.cards.text("which_place", ctx.lang)
    ctx.state["last_place"] = destination.id
    found = way(origin, destination, ctx.services.content.fares)
    return ctx.cards.text("route", ctx.lang, way=found, distance=ctx.cards.distance(found.metres, ctx.lang),
                          fares=ctx.services.content.fares)
