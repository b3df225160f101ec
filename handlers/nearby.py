"""What is near: a location message, a LOCATION event, the menu's location picker, or "附近..."."""
from __future__ import annotations

from typing import Any

from bot.conversation.router import Context, Router
from bot.travel.places import distance_m
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply, no_reply

from . import weather
from .attractions import show_list

router = Router("nearby")
RESULTS = 15  # kept in the state for "更多"
MOVED_METRES = 1000  # a LOCATION event this far from the last one is worth a new list
# Farther than this from every place we know, the traveler is not in Seoul yet (at home, in transit):
# a list of places hundreds of kilometres away helps nobody. Incheon airport (~50 km) is well inside.
FAR_METRES = 100_000


def _far_from_everything(ctx: Context, lat: float, lng: float) -> float | None:
    """The distance to the nearest place we know, when that is beyond FAR_METRES."""
    nearest = ctx.services.content.places.nearest(lat, lng, limit=1)
    return nearest[0][1] if nearest and nearest[0][1] > FAR_METRES else None


def nearby_list(ctx: Context, lat: float, lng: float, *, category: str | None, anchor: str | None,
                exclude: frozenset[str] = frozenset()) -> Reply:
    """The places nearest (lat, lng), or a hint when that is nowhere near Seoul."""
    if (far := _far_from_everything(ctx, lat, lng)) is not None:
        return ctx.cards.text("nearby_far", ctx.lang, km=int(far // 1000))
    return _places_list(ctx, lat, lng, category=category, anchor=anchor, exclude=exclude)


def _places_list(ctx: Context, lat: float, lng: float, *, category: str | None, anchor: str | None,
                 exclude: frozenset[str] = frozenset()) -> Reply:
    found = ctx.services.content.places.nearest(lat, lng, category=category, limit=RESULTS, exclude=exclude)
    extras = {place.id: ctx.cards.distance(metres, ctx.lang) for place, metres in found}
    return show_list(ctx, [place.id for place, _ in found], kind="nearby", category=category,
                     anchor=anchor, extras=extras, note=weather.card_line(ctx, lat, lng))


def _remember(ctx: Context, lat: float, lng: float, label: str, *, newest: bool = True) -> None:
    """Keep the location; `newest`: it is now where "附近..." means (not a place card shown before it)."""
    ctx.state["loc"] = {"lat": lat, "lng": lng, "label": label}
    if newest:
        ctx.state["near"] = "loc"


def anchor_place(captures: dict[str, Any], state: dict[str, Any]) -> str | None:
    """The place "附近..." is around: the one named, else the place card shown last, unless a location was
    sent after it (then the location is where the traveler is)."""
    named = captures.get("place")
    if named:
        return str(named)
    last = state.get("last_place")
    return str(last) if last and (state.get("near") == "place" or not state.get("loc")) else None


@router.on_location()
def at_location(msg: Incoming, ctx: Context) -> Reply:
    loc = msg.location
    assert loc is not None  # the router only sends messages with a location here
    _remember(ctx, loc.lat, loc.lng, loc.label)
    category = ctx.state.pop("want_category", None)
    return nearby_list(ctx, loc.lat, loc.lng, category=category, anchor=loc.label or None)


@router.on_event("location")
def reported_location(msg: Incoming, ctx: Context) -> Reply:
    """WeChat reports the location when the chat opens: answer only when it is news."""
    loc = msg.location
    if loc is None:
        return no_reply()
    last = ctx.state.get("loc")
    _remember(ctx, loc.lat, loc.lng, "", newest=False)  # a silent report moves no place card's "附近"
    if last and distance_m(last["lat"], last["lng"], loc.lat, loc.lng) < MOVED_METRES:
        return no_reply()
    if _far_from_everything(ctx, loc.lat, loc.lng) is not None:
        return no_reply()  # opening the chat at home is no question: say nothing
    ctx.state["near"] = "loc"
    return _places_list(ctx, loc.lat, loc.lng, category=None, anchor=None)


@router.on_intent("nearby")
@router.on_click("NEARBY")
def near(msg: Incoming, ctx: Context) -> Reply:
    category = ctx.captures.get("category")
    # "附近有什么吃的" after a place card is around that place; the menu button is around the traveler.
    place_id = anchor_place(ctx.captures, ctx.state) if msg.kind != "event" else ctx.captures.get("place")
    place = ctx.services.content.places.get(place_id) if place_id else None
    if place is not None:
        return nearby_list(ctx, place.lat, place.lng, category=category, anchor=place.t("name", ctx.lang),
                           exclude=frozenset({place.id}))
    loc = ctx.state.get("loc")
    if loc:
        return nearby_list(ctx, loc["lat"], loc["lng"], category=category, anchor=loc.get("label") or None)
    ctx.state["want_category"] = category
    categories = ctx.services.content.categories.items
    return ctx.cards.text("ask_location", ctx.lang, category=categories.get(category) if category else None)
