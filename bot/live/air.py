"""Fine dust from AirKorea's real-time measurements (에어코리아 대기오염정보, ArpltnInforInqireSvc).

    air = Air.from_config(config.live, content_dir, store, clock)
    reading = air.read(37.5636, 126.9827)    # the nearest district station, or Seoul's average
    air.refresh()                            # cron / job: one call brings every Seoul station

One call (`getCtprvnRltmMesureDnsty`, sidoName=서울, ver=1.4) answers ~40 stations, so Seoul is one reading. A
place or location is answered by the nearest of the 25 district (city-air) stations within STATION_KM
(`content/live/air_stations.yaml`); otherwise, or when that station has no value this hour ("-", a flag such as
통신장애), by the average of the district stations that have one. Grades are Korea's four (좋음 보통 나쁨 매우나쁨),
from the hourly concentration by the official bands (the `...Grade` fields are 24-hour grades, and an average has
none); values land around HH:15 (unconfirmed), so a refresh calls only when a newer hour may be out.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from bot.infra import yamlfile
from bot.infra.clock import SEOUL, Clock
from bot.infra.config import LiveConfig
from bot.live import datagokr
from bot.live.datagokr import GatewayError
from bot.live.store import LiveError, LiveStore, Wanted

log = logging.getLogger(__name__)

KIND, SOURCE, KEY = "air", "airkorea", "seoul"
CARD_KEYS: tuple[list[Wanted], list[Wanted]] = ([(KIND, KEY)], [(KIND, KEY)])  # what read(fetch=False) reads, marks
OPERATION = "getCtprvnRltmMesureDnsty"
PUBLISHED_AFTER = timedelta(minutes=15)  # an hour's values are out around HH:15
STATION_KM = 5.0  # farther from every district station: Seoul's average (a district station covers ~5 km)
REQUEST_TIMEOUT = 1.5  # a traveler's request, when nothing is cached yet
GRADES = ("good", "moderate", "unhealthy", "very_unhealthy")  # 1-4: 좋음 보통 나쁨 매우나쁨
PM10_BANDS = (30, 80, 150)  # ㎍/㎥ upper bounds of 좋음, 보통, 나쁨
PM25_BANDS = (15, 35, 75)


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine); kept here so bot.live depends on no domain package."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def grade(value: float | None, bands: tuple[int, int, int]) -> int | None:
    """1 좋음 .. 4 매우나쁨 for a concentration, None without one."""
    if value is None:
        return None
    return next((n for n, upper in enumerate(bands, 1) if value <= upper), 4)


def grade_name(n: int | None) -> str:
    return GRADES[n - 1] if n else ""


@dataclass(frozen=True)
class Station:
    name: str
    at: str  # ISO hour of the values (KST)
    pm10: int | None  # ㎍/㎥, None when the station has no value ("-")
    pm25: int | None
    flag: str  # why a value is missing (통신장애, 점검및교정 ...), "" when fine


@dataclass(frozen=True)
class AirReport:
    """Every Seoul station's values of one hour, as fetched."""

    stations: tuple[Station, ...]
    sample: str = ""  # the date a recorded sample was made ("" = live)

    @property
    def at(self) -> str:
        return max((s.at for s in self.stations if s.at), default="")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AirReport:
        return cls(tuple(Station(**s) for s in data["stations"]), data.get("sample", ""))


def _value(raw: Any) -> int | None:
    try:
        n = float(str(raw).strip())
    except (TypeError, ValueError):
        return None  # "-", null: no value this hour
    return int(round(n)) if n >= 0 else None


def _hour(raw: Any) -> str:
    """AirKorea's "2026-12-05 09:00" (midnight may come as "24:00" of the day before) as ISO."""
    text = str(raw or "").strip()
    try:
        if text.endswith("24:00"):
            return (datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=SEOUL) + timedelta(days=1)).isoformat()
        return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SEOUL).isoformat()
    except ValueError:
        return ""


def parse(rows: list[dict[str, Any]]) -> AirReport:
    stations = []
    for r in rows:
        name = str(r.get("stationName") or "").strip()
        if not name:
            continue
        flags = [str(r.get(k)) for k in ("pm10Flag", "pm25Flag") if r.get(k)]
        stations.append(Station(name, _hour(r.get("dataTime")), _value(r.get("pm10Value")), _value(r.get("pm25Value")),
                                flags[0] if flags else ""))
    if not any(s.pm10 is not None or s.pm25 is not None for s in stations):
        raise GatewayError("", "no station with a PM10 or PM2.5 value")
    return AirReport(tuple(stations))


@lru_cache(maxsize=4)
def district_stations(path: Path) -> dict[str, tuple[float, float]]:
    """The district stations and where they are (content/live/air_stations.yaml)."""
    doc = yamlfile.load(path)
    raw = doc.data.get("stations") if isinstance(doc.data, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise doc.error("stations", "expected a mapping of station name -> [lat, lng]")
    out = {}
    for name, where in raw.items():
        if not (isinstance(where, list) and len(where) == 2 and all(isinstance(n, (int, float)) for n in where)):
            raise doc.error(f"stations.{name}", "expected [lat, lng]")
        out[str(name)] = (float(where[0]), float(where[1]))
    return out


@dataclass(frozen=True)
class AirReading:
    """Fine dust as served: at one station (`station`) or Seoul's average (`station` ""), with its hour."""

    station: str
    pm10: int | None
    pm25: int | None
    at: str  # ISO hour of the values
    fetched_at: float
    failure: str = ""  # the last refresh's failure ("" none): quota, key, no_data, error
    sample: str = ""
    averaged: int = 0  # stations in the average
    station_down: str = ""  # the nearest station, when it had no value and the average stands in

    @property
    def pm10_grade(self) -> int | None:
        return grade(self.pm10, PM10_BANDS)

    @property
    def pm25_grade(self) -> int | None:
        return grade(self.pm25, PM25_BANDS)

    @property
    def grade(self) -> int | None:
        """The worse of the two: what the advice follows."""
        grades = [g for g in (self.pm10_grade, self.pm25_grade) if g]
        return max(grades) if grades else None


class Provider(Protocol):
    sample: bool

    def rows(self, timeout: float) -> list[dict[str, Any]]:
        """Every Seoul station's row of the latest hour; raises LiveError."""


class HttpProvider:
    sample = False

    def __init__(self, url: str, key: str, store: LiveStore, quota: int, clock: Clock) -> None:
        self.url, self.key, self.store, self.quota, self.clock = url.rstrip("/"), key, store, quota, clock

    def rows(self, timeout: float) -> list[dict[str, Any]]:
        # `ver` is needed: without it PM2.5 is missing (reference §3); 1.4 is what current clients send.
        params = {"serviceKey": self.key, "returnType": "json", "numOfRows": 100, "pageNo": 1, "sidoName": "서울",
                  "ver": "1.4"}
        budget = datagokr.Budget(SOURCE, self.quota, self.clock.now().date().isoformat(), timeout)
        return datagokr.call(f"{self.url}/{OPERATION}", params, self.store, budget)


class FixtureProvider:
    """The recorded answer in `content/live/airkorea/` (no key configured): labelled a sample, never live."""

    sample = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def rows(self, timeout: float) -> list[dict[str, Any]]:
        try:
            return datagokr.rows((self.directory / f"{OPERATION}.json").read_bytes())
        except OSError as exc:
            raise LiveError(f"recorded {OPERATION}: {exc}") from None


class Air:
    def __init__(self, provider: Provider, store: LiveStore, clock: Clock, stations: dict[str, tuple[float, float]],
                 timeout: float = 3.0) -> None:
        self.provider, self.store, self.clock, self.stations, self.timeout = provider, store, clock, stations, timeout

    @classmethod
    def from_config(cls, live: LiveConfig, content_dir: Path, store: LiveStore, clock: Clock) -> Air:
        """The HTTP provider with a data.go.kr key, else the recorded sample."""
        provider: Provider = (HttpProvider(live.airkorea_url, live.data_go_kr_key, store, live.quotas["airkorea"],
                                           clock)
                              if live.data_go_kr_key else FixtureProvider(content_dir / "live" / "airkorea"))
        return cls(provider, store, clock, district_stations(content_dir / "live" / "air_stations.yaml"),
                   live.timeout_seconds)

    def read(self, lat: float | None = None, lng: float | None = None, fetch: bool = True) -> AirReading | None:
        """Fine dust near (lat, lng), or Seoul's average; the source only when nothing was ever cached (and
        `fetch`)."""
        self.store.asked(KIND, KEY, now=self._ts())
        stored = self.store.load(KIND, KEY)
        if stored is None and fetch and self.store.claim(KIND, KEY, seconds=5):
            self.refresh(timeout=min(REQUEST_TIMEOUT, self.timeout))
            stored = self.store.load(KIND, KEY)
        report = _report(stored.data) if stored else None
        if stored is None or report is None:
            return None
        failure = str(stored.data.get("failure", ""))
        nearest = self.nearest(lat, lng) if lat is not None and lng is not None else None
        down = ""
        if nearest:
            station = next((s for s in report.stations if s.name == nearest), None)
            if station and station.pm10 is not None and station.pm25 is not None:
                return AirReading(station.name, station.pm10, station.pm25, station.at, stored.fetched_at, failure,
                                  report.sample)
            down = nearest
        return self._average(report, stored.fetched_at, failure, down)

    def nearest(self, lat: float, lng: float) -> str | None:
        """The district station within STATION_KM of the point, nearest first."""
        found = min(self.stations.items(), key=lambda s: distance_km(lat, lng, *s[1]), default=None)
        if found is None or distance_km(lat, lng, *found[1]) > STATION_KM:
            return None
        return found[0]

    def refresh(self, timeout: float | None = None) -> str:
        """Fetch Seoul's stations unless the cached hour is the latest out; a failure keeps the last good values.
        Returns fresh | updated | failed:<kind>."""
        stored = self.store.load(KIND, KEY)
        old = _report(stored.data) if stored else None
        due = (self.clock.now() - PUBLISHED_AFTER).replace(minute=0, second=0, microsecond=0)
        if old is not None and not self.provider.sample and old.at and datetime.fromisoformat(old.at) >= due:
            return "fresh"
        try:
            report = parse(self.provider.rows(self.timeout if timeout is None else timeout))
        except LiveError as exc:
            kind = exc.kind if isinstance(exc, GatewayError) else "error"
            log.warning("air %s: %s", KEY, exc)
            if stored is not None:
                self.store.save(KIND, KEY, {**stored.data, "failure": kind}, stored.fetched_at)
            return f"failed:{kind}"
        if self.provider.sample:
            report = AirReport(report.stations, report.at[:10])
        self.store.save(KIND, KEY, {**report.to_dict(), "failure": ""}, fetched_at=self._ts())
        return "updated"

    def _average(self, report: AirReport, fetched_at: float, failure: str, down: str) -> AirReading | None:
        districts = [s for s in report.stations if s.name in self.stations]
        pm10 = [s.pm10 for s in districts if s.pm10 is not None]
        pm25 = [s.pm25 for s in districts if s.pm25 is not None]
        if not pm10 and not pm25:
            return None
        at = max((s.at for s in districts if s.pm10 is not None or s.pm25 is not None), default=report.at)
        return AirReading("", round(sum(pm10) / len(pm10)) if pm10 else None,
                          round(sum(pm25) / len(pm25)) if pm25 else None, at, fetched_at, failure, report.sample,
                          max(len(pm10), len(pm25)), down)

    def _ts(self) -> float:
        return self.clock.now().timestamp()


def _report(data: dict[str, Any]) -> AirReport | None:
    try:
        return AirReport.from_dict(data)
    except (KeyError, TypeError, ValueError):
        log.warning("air: unreadable cached reading ignored")
        return None
