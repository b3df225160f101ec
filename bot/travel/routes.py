"""A way from one place to another, from what we know of both: each one's subway station, the distance
between them, a walk or taxi estimate from the fares in `content/routes.yaml`, and a map link that
plans the trip (Kakao Map's route URL; Korean maps give transit directions, most foreign ones do not)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bot.infra import yamlfile
from bot.travel.places import Place, distance_m


@dataclass(frozen=True)
class Fares:
    """Taxi fare rules and walking speed for the estimates, with their source."""

    base_krw: int
    base_km: float
    step_krw: int
    step_m: int
    road_factor: float  # road distance / straight line in the city
    walk_m_per_min: int
    walk_max_m: int  # farther than this, walking is not suggested
    source: str
    checked: str

    def taxi_krw(self, metres: float) -> int:
        road = metres * self.road_factor
        steps = max(0, math.ceil((road - self.base_km * 1000) / self.step_m))
        return int(round(self.base_krw + steps * self.step_krw, -2))


@dataclass(frozen=True)
class Way:
    origin: Place
    destination: Place
    metres: float
    walk_minutes: int | None
    taxi_krw: int
    map_url: str


def _kakao_point(place: Place) -> str:
    name = place.name.get("ko") or place.name["en"]
    return f"{quote(name.split('(')[0].strip())},{place.lat},{place.lng}"


def way(origin: Place, destination: Place, fares: Fares) -> Way:
    metres = distance_m(origin.lat, origin.lng, destination.lat, destination.lng)
    road = metres * fares.road_factor
    walk = math.ceil(road / fares.walk_m_per_min) if metres <= fares.walk_max_m else None
    url = f"https://map.kakao.com/link/from/{_kakao_point(origin)}/to/{_kakao_point(destination)}"
    return Way(origin, destination, metres, walk, fares.taxi_krw(metres), url)


def load_fares(path: Path) -> Fares:
    doc = yamlfile.load(path)
    data = doc.data if isinstance(doc.data, dict) else None
    if data is None:
        raise doc.error("", "expected taxi fares, walking speed, source and checked")
    try:
        taxi, walk = data["taxi"], data["walking"]
        return Fares(int(taxi["base_krw"]), float(taxi["base_km"]), int(taxi["step_krw"]), int(taxi["step_m"]),
                     float(taxi["road_factor"]), int(walk["metres_per_minute"]), int(walk["suggest_up_to_metres"]),
                     str(data["source"]), str(data["checked"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise doc.error("", f"missing or wrong value: {exc}") from None
