"""Mobile pages the cards link to: small, no scripts, readable on slow roaming data."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, current_app, request

from .cards import DEFAULT_LANG

bp = Blueprint("pages", __name__, url_prefix="/p")


def _lang() -> str:
    cards = current_app.extensions["yjy"].cards
    return cards.lang(request.args.get("lang", DEFAULT_LANG))


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=300"  # the open/closed line ages
    return response


@bp.get("/attractions/<place_id>")
def attraction(place_id: str) -> Response:
    s = current_app.extensions["yjy"].services
    lang = _lang()
    place = s.content.places.get(place_id)
    if place is None:
        return not_found()
    now = s.clock.now()
    name_zh = quote(place.name["zh-CN"])
    return _html(s.cards.page(
        "attraction", lang, place=place, checked=s.content.places.checked,
        status=s.cards.status_line(place.status(now), lang, now),
        navigate_url=(f"https://uri.amap.com/marker?position={place.lng},{place.lat}&name={name_zh}"
                      "&coordinate=wgs84&callnative=1&src=yijiyou"),
        naver_url=f"https://map.naver.com/p/search/{quote(place.name.get('ko') or place.name['en'])}",
        map_url=f"https://www.openstreetmap.org/?mlat={place.lat}&mlon={place.lng}#map=17/{place.lat}/{place.lng}",
    ))


@bp.get("/info/<topic_id>")
def info(topic_id: str) -> Response:
    s = current_app.extensions["yjy"].services
    lang = _lang()
    if topic_id == "tax_refund":
        return _html(s.cards.page("tax", lang, rules=s.content.tax))
    topic = s.content.topics.items.get(topic_id)
    if topic is None:
        return not_found()
    return _html(s.cards.page("info", lang, topic=topic))


@bp.app_errorhandler(404)
def not_found(_exc: Exception | None = None) -> Response:
    cards = current_app.extensions["yjy"].cards
    return _html(cards.page("not_found", _lang()), status=404)
