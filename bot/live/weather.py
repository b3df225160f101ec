"""Weather from KMA's short-term forecast (기상청 단기예보, VilageFcstInfoService_2.0), per 5 km grid cell.

    weather = Weather.from_config(config.live, content_dir, store, clock)
    reading = weather.read(37.5636, 126.9827)     # cached; the source only when this cell was never fetched
    weather.refresh()                             # cron / job: Seoul and the cells travelers asked about

Two operations per cell: `getUltraSrtNcst` (observed now, base HH00, out ~HH:10) and `getVilageFcst` (hourly to
day+3, bases 02 05 08 ... 23, out ~10 minutes after). A refresh calls only what has a newer base than the cached
reading, so its cost per cell is ~32 calls a day however often it runs (24 observations + 8 forecasts). Decisions
on what the reference leaves unconfirmed: an observation is asked from HH:10 and a NO_DATA (03) steps back one
hour (some saw it only at HH:40); TMN/TMX exist only in a forecast issued before 06:00/15:00, so a later forecast
keeps the day's min/max from the previous reading of that day, else says they cover the hours left.
"""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bot.infra.clock import SEOUL, Clock
from bot.infra.config import LiveConfig
from bot.live import datagokr
from bot.live.datagokr import GatewayError
from bot.live.store import LiveError, LiveStore, Wanted

log = logging.getLogger(__name__)

KIND, SOURCE = "weather", "kma"
Cell = tuple[int, int]
SEOUL_CELL: Cell = (60, 127)  # City Hall, Jongno, Gyeongbokgung, Myeongdong (reference §2.4)
NCST, VILAGE = "getUltraSrtNcst", "getVilageFcst"
NCST_DELAY = timedelta(minutes=10)
VILAGE_DELAY = timedelta(minutes=10)
VILAGE_HOURS = (2, 5, 8, 11, 14, 17, 20, 23)
REQUEST_BUDGET = 1.5  # seconds a traveler's request may wait on KMA, every call included (empty cache only)
MIN_CALL_SECONDS = 0.2  # less time than this left: no call at all
MAX_CELLS = 20  # a refresh: Seoul and at most this many cells travelers asked about lately
HOURS_KEPT = 30  # forecast hours kept after the forecast's base (the sky now, the next hours)

SKY = {"1": "clear", "3": "cloudy", "4": "overcast"}
# PTY: observation and very-short forecasts use 0-3 and 5-7; the short-term forecast 0-4 (4 = shower).
PRECIP = {"0": "", "1": "rain", "2": "sleet", "3": "snow", "4": "shower", "5": "drizzle", "6": "drizzle_snow",
          "7": "flurry"}
SNOWY = {"sleet", "snow", "drizzle_snow", "flurry"}


# --- the grid --------------------------------------------------------------------------------------------------
def grid(lat: float, lng: float) -> Cell:
    """KMA's 5 km Lambert conformal conic grid (constants and formula from the reference, §2.4)."""
    re_, grid_km, slat1, slat2, olon, olat, xo, yo = 6371.00877, 5.0, 30.0, 60.0, 126.0, 38.0, 43, 136
    d = math.pi / 180.0
    re_, s1, s2, olon, olat = re_ / grid_km, slat1 * d, slat2 * d, olon * d, olat * d
    sn = math.log(math.cos(s1) / math.cos(s2)) / math.log(
        math.tan(math.pi / 4 + s2 / 2) / math.tan(math.pi / 4 + s1 / 2))
    sf = math.tan(math.pi / 4 + s1 / 2) ** sn * math.cos(s1) / sn
    ro = re_ * sf / math.tan(math.pi / 4 + olat / 2) ** sn
    ra = re_ * sf / math.tan(math.pi / 4 + lat * d / 2) ** sn
    theta = (lng * d - olon + math.pi) % (2 * math.pi) - math.pi
    theta *= sn
    return math.floor(ra * math.sin(theta) + xo + 0.5), math.floor(ro - ra * math.cos(theta) + yo + 0.5)


def cell_for(lat: float, lng: float) -> Cell | None:
    """The cell of a point KMA covers (the Korean peninsula and its seas), else None (a traveler still at home)."""
    nx, ny = grid(lat, lng)
    return (nx, ny) if 1 <= nx <= 149 and 1 <= ny <= 253 else None


def card_keys(lat: float, lng: float) -> tuple[list[Wanted], list[Wanted]]:
    """What `Weather.read(lat, lng, fetch=False)` reads (the cell's reading, Seoul's in its stead) and marks asked."""
    cell = cell_for(lat, lng) or SEOUL_CELL
    return [(KIND, cell_key(cell)), (KIND, cell_key(SEOUL_CELL))], [(KIND, cell_key(cell))]


def cell_key(cell: Cell) -> str:
    return f"{cell[0]}_{cell[1]}"


# --- base times ----------------------------------------------------------------------------------------------
def observation_base(now: datetime) -> datetime:
    """The latest `getUltraSrtNcst` base out at `now` (KST): this hour from HH:10, else the previous one."""
    return (now.astimezone(SEOUL) - NCST_DELAY).replace(minute=0, second=0, microsecond=0)


def forecast_base(now: datetime) -> datetime:
    """The latest `getVilageFcst` base out at `now`: 02:00, 05:00 ... 23:00, each 10 minutes after."""
    t = now.astimezone(SEOUL) - VILAGE_DELAY
    hours = [h for h in VILAGE_HOURS if h <= t.hour]
    if not hours:  # 00:00-02:09: yesterday's 23:00
        return (t - timedelta(days=1)).replace(hour=23, minute=0, second=0, microsecond=0)
    return t.replace(hour=hours[-1], minute=0, second=0, microsecond=0)


def _step_back(operation: str, base: datetime) -> datetime:
    return base - timedelta(hours=1 if operation == NCST else 3)


# --- the forecast, typed ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """KMA's observation for the cell (초단기실황)."""

    at: str  # ISO time (KST)
    temp: float | None
    precip: str  # "" none, else a PRECIP value
    humidity: int | None
    wind: float | None  # m/s


@dataclass(frozen=True)
class Hour:
    at: str
    temp: float | None
    sky: str
    precip: str
    pop: int | None


@dataclass(frozen=True)
class Day:
    date: str  # YYYY-MM-DD
    tmin: float | None
    tmax: float | None
    whole_day: bool  # min/max are KMA's TMN/TMX for the day; False: the hours of it the forecast still covers
    pop: int | None  # the highest chance of precipitation, %
    sky: str  # the most common sky of its daytime hours (08-19)
    precip: str  # "" none, rain, snow, sleet, shower: what falls most often
    precip_from: int | None  # first and last hour with precipitation
    precip_to: int | None

    @property
    def rain(self) -> bool:
        return bool(self.precip) and self.precip not in ("snow", "flurry")

    @property
    def snow(self) -> bool:
        return self.precip in SNOWY


@dataclass(frozen=True)
class Forecast:
    cell: Cell
    observed: Observed | None
    hours: tuple[Hour, ...]
    days: tuple[Day, ...]
    observed_base: str = ""  # ISO base of the observation ("" none)
    forecast_base: str = ""  # ISO base of the forecast
    sample: str = ""  # the date the recorded sample was made ("" = live data)

    def day(self, on: date) -> Day | None:
        return next((d for d in self.days if d.date == on.isoformat()), None)

    def hour(self, at: datetime) -> Hour | None:
        """The forecast hour covering `at` (or the first after it)."""
        at = at.astimezone(SEOUL).replace(minute=0, second=0, microsecond=0)
        return next((h for h in self.hours if datetime.fromisoformat(h.at) >= at), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Forecast:
        obs = data.get("observed")
        return cls((int(data["cell"][0]), int(data["cell"][1])), Observed(**obs) if obs else None,
                   tuple(Hour(**h) for h in data.get("hours", ())), tuple(Day(**d) for d in data.get("days", ())),
                   data.get("observed_base", ""), data.get("forecast_base", ""), data.get("sample", ""))


def _number(value: Any) -> float | None:
    try:
        n = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return None if n <= -900 or n >= 900 else n  # KMA marks a missing value with -999 / 999+


def _when(day: Any, hhmm: Any) -> datetime:
    return datetime.strptime(f"{day}{str(hhmm).zfill(4)}", "%Y%m%d%H%M").replace(tzinfo=SEOUL)


def _base_of(rows: list[dict[str, Any]]) -> datetime:
    try:
        return _when(rows[0]["baseDate"], rows[0]["baseTime"])
    except (KeyError, ValueError) as exc:
        raise GatewayError("", f"rows without a readable baseDate/baseTime: {exc}") from None


def parse_observation(rows: list[dict[str, Any]]) -> Observed:
    values = {str(r.get("category")): r.get("obsrValue") for r in rows}
    if "T1H" not in values:
        raise GatewayError("", "observation without T1H")
    humidity = _number(values.get("REH"))
    return Observed(_base_of(rows).isoformat(), _number(values.get("T1H")),
                    PRECIP.get(str(values.get("PTY", "0")).strip(), ""),
                    int(humidity) if humidity is not None else None, _number(values.get("WSD")))


def parse_forecast(rows: list[dict[str, Any]]) -> tuple[tuple[Hour, ...], tuple[Day, ...]]:
    """Hourly rows of `getVilageFcst` into the next hours and one summary per day."""
    by_hour: dict[datetime, dict[str, str]] = {}
    tmn: dict[str, float] = {}
    tmx: dict[str, float] = {}
    for r in rows:
        try:
            at = _when(r["fcstDate"], r["fcstTime"])
        except (KeyError, ValueError):
            continue
        category, value = str(r.get("category")), str(r.get("fcstValue", "")).strip()
        if category in ("TMN", "TMX") and (n := _number(value)) is not None:
            (tmn if category == "TMN" else tmx)[at.date().isoformat()] = n
        by_hour.setdefault(at, {})[category] = value
    if not by_hour:
        raise GatewayError("", "forecast without hourly rows")
    hours = []
    for at in sorted(by_hour):
        v = by_hour[at]
        pop = _number(v.get("POP"))
        hours.append(Hour(at.isoformat(), _number(v.get("TMP")), SKY.get(v.get("SKY", ""), ""),
                          PRECIP.get(v.get("PTY", "0"), ""), int(pop) if pop is not None else None))
    days = []
    for day in sorted({h.at[:10] for h in hours}):
        of_day = [h for h in hours if h.at[:10] == day]
        temps = [h.temp for h in of_day if h.temp is not None]
        pops = [h.pop for h in of_day if h.pop is not None]
        wet = [h for h in of_day if h.precip]
        daytime = [h.sky for h in of_day if 8 <= int(h.at[11:13]) <= 19 and h.sky] or [h.sky for h in of_day if h.sky]
        whole = day in tmn and day in tmx
        days.append(Day(day, tmn.get(day, min(temps) if temps else None), tmx.get(day, max(temps) if temps else None),
                        whole, max(pops) if pops else None, Counter(daytime).most_common(1)[0][0] if daytime else "",
                        Counter(h.precip for h in wet).most_common(1)[0][0] if wet else "",
                        int(wet[0].at[11:13]) if wet else None, int(wet[-1].at[11:13]) if wet else None))
    base = min(by_hour)
    kept = tuple(h for h in hours if datetime.fromisoformat(h.at) < base + timedelta(hours=HOURS_KEPT))
    return kept, tuple(days)


def _merge_days(new: tuple[Day, ...], old: tuple[Day, ...]) -> tuple[Day, ...]:
    """A later forecast no longer carries today's TMN/TMX: keep the earlier reading's whole-day values."""
    earlier = {d.date: d for d in old if d.whole_day}
    out = []
    for d in new:
        prior = earlier.get(d.date)
        if not d.whole_day and prior is not None:
            d = Day(d.date, prior.tmin, prior.tmax, True, d.pop, d.sky, d.precip, d.precip_from, d.precip_to)
        out.append(d)
    return tuple(out)


# --- providers -------------------------------------------------------------------------------------------------
class Provider(Protocol):
    sample: bool

    def rows(self, operation: str, base: datetime, cell: Cell, timeout: float) -> list[dict[str, Any]]:
        """The rows of one operation for a base and cell; raises LiveError."""


class HttpProvider:
    """KMA through the data.go.kr gateway (`serviceKey`: the "Decoding" key; requests encodes it)."""

    sample = False

    def __init__(self, url: str, key: str, store: LiveStore, quota: int, clock: Clock) -> None:
        self.url, self.key, self.store, self.quota, self.clock = url.rstrip("/"), key, store, quota, clock

    def rows(self, operation: str, base: datetime, cell: Cell, timeout: float) -> list[dict[str, Any]]:
        params = {"serviceKey": self.key, "pageNo": 1, "numOfRows": 1000, "dataType": "JSON",
                  "base_date": base.strftime("%Y%m%d"), "base_time": base.strftime("%H%M"),
                  "nx": cell[0], "ny": cell[1]}
        budget = datagokr.Budget(SOURCE, self.quota, self.clock.now().date().isoformat(), timeout)
        return datagokr.call(f"{self.url}/{operation}", params, self.store, budget)


class FixtureProvider:
    """Recorded answers in `content/live/kma/<operation>.json` (no key configured): labelled a sample, never live.
    One recording (Seoul's centre cell) answers for every cell; its rows say which cell and base it is."""

    sample = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def rows(self, operation: str, base: datetime, cell: Cell, timeout: float) -> list[dict[str, Any]]:
        try:
            body = (self.directory / f"{operation}.json").read_bytes()
        except OSError as exc:
            raise LiveError(f"recorded {operation}: {exc}") from None
        return datagokr.rows(body)


# --- reading and refreshing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """A forecast as served: when this service got it, the last refresh's failure ("" none: quota, key, ...)."""

    forecast: Forecast
    fetched_at: float
    failure: str = ""
    asked: Cell = SEOUL_CELL  # the cell asked for (the forecast may be Seoul's when that one was unavailable)


@dataclass
class Refreshed:
    cell: Cell
    outcome: str  # fresh (nothing newer out yet) | updated | failed:<kind>
    calls: list[str] = field(default_factory=list)


class Weather:
    def __init__(self, provider: Provider, store: LiveStore, clock: Clock, timeout: float = 3.0) -> None:
        self.provider, self.store, self.clock = provider, store, clock
        self.timeout = timeout  # one call of a refresh; a traveler's request waits REQUEST_BUDGET at most

    @classmethod
    def from_config(cls, live: LiveConfig, content_dir: Path, store: LiveStore, clock: Clock) -> Weather:
        """The HTTP provider with a data.go.kr key, else the recorded sample."""
        provider: Provider = (HttpProvider(live.kma_url, live.data_go_kr_key, store, live.quotas["kma"], clock)
                              if live.data_go_kr_key else FixtureProvider(content_dir / "live" / "kma"))
        return cls(provider, store, clock, live.timeout_seconds)

    def read(self, lat: float | None = None, lng: float | None = None, fetch: bool = True) -> Reading | None:
        """The cached forecast for the cell of (lat, lng), default Seoul's centre. The source is called only when
        this cell was never fetched (and `fetch`), within REQUEST_BUDGET; then Seoul's cached one stands in;
        else None."""
        cell = (cell_for(lat, lng) if lat is not None and lng is not None else None) or SEOUL_CELL
        self.store.asked(KIND, cell_key(cell), now=self._ts())
        reading = self._cached(cell)
        if reading is None and fetch and self.store.claim(KIND, cell_key(cell), seconds=5):
            self.refresh_cell(cell, budget=min(REQUEST_BUDGET, self.timeout))
            reading = self._cached(cell)
        if reading is None and cell != SEOUL_CELL:
            reading = self._cached(SEOUL_CELL)
        return Reading(reading.forecast, reading.fetched_at, reading.failure, cell) if reading else None

    def refresh(self, cells: list[Cell] | None = None) -> list[Refreshed]:
        """Seoul's centre and the cells travelers asked about in the last hours (or `cells`)."""
        if cells is None:
            cells = [SEOUL_CELL]
            for key in self.store.recently_asked(KIND, now=self._ts()):
                try:
                    nx, ny = (int(n) for n in key.split("_"))
                except ValueError:
                    continue
                if (nx, ny) not in cells and len(cells) <= MAX_CELLS:
                    cells.append((nx, ny))
        # No lock here: the periodic job runs once per period across workers (bot.infra.queue), and a traveler's
        # first read of a cell (which takes one) at the same moment costs at most one call more.
        return [self.refresh_cell(cell) for cell in cells]

    def refresh_cell(self, cell: Cell, budget: float | None = None) -> Refreshed:
        """Fetch what has a newer base than the cached reading; keep the rest. A failure keeps the last good
        reading (with its fetch time) and records what failed."""
        now = self.clock.now()
        deadline = time.monotonic() + budget if budget is not None else None
        stored = self.store.load(KIND, cell_key(cell))
        old = _forecast(stored.data) if stored else None
        result = Refreshed(cell, "fresh")
        parts: dict[str, Any] = {}
        failures: list[str] = []
        for operation, due in ((VILAGE, forecast_base(now)), (NCST, observation_base(now))):
            have = (old.forecast_base if operation == VILAGE else old.observed_base) if old else ""
            if have and not self.provider.sample and datetime.fromisoformat(have) >= due:
                continue
            try:
                fetched = self._fetch(operation, due, cell, deadline, result,
                                      datetime.fromisoformat(have) if have else None)
                if fetched is not None:
                    parts[operation] = fetched
            except LiveError as exc:
                kind = exc.kind if isinstance(exc, GatewayError) else "error"
                log.warning("weather %s %s: %s", cell_key(cell), operation, exc)
                failures.append(kind)
        if not parts:
            if failures and stored is not None:
                self.store.save(KIND, cell_key(cell), {**stored.data, "failure": failures[0]}, stored.fetched_at)
            result.outcome = f"failed:{failures[0]}" if failures else "fresh"
            return result
        forecast = self._combine(cell, parts, old)
        data = {**forecast.to_dict(), "failure": failures[0] if failures else ""}
        self.store.save(KIND, cell_key(cell), data, fetched_at=self._ts())
        result.outcome = "updated" if not failures else f"updated, failed:{failures[0]}"
        return result

    def _fetch(self, operation: str, due: datetime, cell: Cell, deadline: float | None, result: Refreshed,
               have: datetime | None) -> tuple[datetime, Any] | None:
        """(base, parsed) of the due base, or of the one before when the due one is not out yet (03); None when
        the one before is what the cache has already (nothing newer: no call for it)."""
        base = due
        for attempt in range(2):
            if attempt and have is not None and base <= have:
                return None
            timeout = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
            if timeout < MIN_CALL_SECONDS:
                raise LiveError(f"{operation}: no time left in this request")
            result.calls.append(f"{operation} {base:%Y%m%d %H%M}")
            try:
                rows = self.provider.rows(operation, base, cell, timeout)
                return (_base_of(rows), parse_observation(rows) if operation == NCST else parse_forecast(rows))
            except GatewayError as exc:
                if exc.code != datagokr.NO_DATA or attempt == 1:
                    raise
                base = _step_back(operation, base)  # not out yet: the previous base
        raise AssertionError("unreachable: the loop returns or raises")

    def _combine(self, cell: Cell, parts: dict[str, Any], old: Forecast | None) -> Forecast:
        sample = ""
        if VILAGE in parts:
            fc_base, (hours, days) = parts[VILAGE]
            days = _merge_days(days, old.days if old else ())
            forecast_base_iso = fc_base.isoformat()
        elif old is not None:  # nothing newer fetched: the cached forecast is still the latest there is
            hours, days, forecast_base_iso = old.hours, old.days, old.forecast_base
        else:  # a first fetch whose forecast failed: the observation alone
            hours, days, forecast_base_iso = (), (), ""
        if NCST in parts:
            obs_base, observed = parts[NCST]
            observed_base_iso = obs_base.isoformat()
        else:
            observed, observed_base_iso = (old.observed, old.observed_base) if old else (None, "")
        if self.provider.sample:
            sample = (observed_base_iso or forecast_base_iso)[:10]
        return Forecast(cell, observed, hours, days, observed_base_iso, forecast_base_iso, sample)

    def _cached(self, cell: Cell) -> Reading | None:
        stored = self.store.load(KIND, cell_key(cell))
        forecast = _forecast(stored.data) if stored else None
        if stored is None or forecast is None:
            return None
        return Reading(forecast, stored.fetched_at, str(stored.data.get("failure", "")), cell)

    def _ts(self) -> float:
        return self.clock.now().timestamp()


def _forecast(data: dict[str, Any]) -> Forecast | None:
    try:
        return Forecast.from_dict(data)
    except (KeyError, TypeError, ValueError):
        log.warning("weather: unreadable cached reading ignored")
        return None
