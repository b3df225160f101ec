"""Live data a place card or a nearby list may show in one line (weather, air, crowds), read in one round trip.

    store = cards.peek(services, lat, lng, hotspot="POI014")
    weather_line(..., store=store); crowd_line(..., store=store)   # no further Redis reads for these

A card never calls a source: it shows what the refresh jobs cached (see `bot.live.store.Peek`).
"""
from __future__ import annotations

from typing import Any

from bot.live import air, crowds, weather
from bot.live.store import Peek


def peek(services: Any, lat: float, lng: float, hotspot: str | None = None) -> Peek:
    """The cached weather and air for (lat, lng) and the crowd of `hotspot`, with their "asked" marks."""
    parts = [weather.card_keys(lat, lng), air.CARD_KEYS, *([crowds.card_keys(hotspot)] if hotspot else [])]
    wanted = [w for reads, _ in parts for w in reads]
    asked = [a for _, marks in parts for a in marks]
    return services.live_store.peek(wanted, asked, now=services.clock.now().timestamp())
