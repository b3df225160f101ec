"""How crowded a Seoul hotspot is now, from Seoul's real-time city data (서울시 실시간 도시데이터, "citydata").

    crowds = Crowds.from_config(config.live, content_dir, store)
    answer = crowds.read("명동 관광특구", now)      # cached; the source only when never fetched (≤ 1.5 s)
    crowds.refresh(areas, now)                      # cron every 10 min: asked-about areas first, within the quota

One call per area: GET {url}/{KEY}/json/citydata/1/5/{AREA_NM}. The answer's LIVE_PPLTN_STTS gives the level
(여유/보통/약간 붐빔/붐빔), a population range, its time (PPLTN_TIME, ~15 min behind) and hourly forecasts.
Decisions on what the reference leaves open: areas are called by name (codes were renumbered between list
versions); the daily quota resets at midnight KST and is `live.quotas.seoul` (1,000 by default; the real one is
unconfirmed); INFO-300 and ERROR-337 both mean "quota used up"; errors are read in three JSON shapes and as XML.

The schedule (121 areas every 10 minutes would be 17,424 calls a day): only the ~36 areas our places name; each
run may spend what is left of the day's quota, less 10 % kept for travelers' first questions, divided by the runs
left today (none 01-06 KST). At 1,000 a day that is <= 900 scheduled calls: the areas asked about in the last
three hours every run, the others in turn (every 45-70 minutes, as fewer or more were asked).
"""
from __future__ import annotations

import copy
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Protocol
from urllib.parse import quote

import requests
from defusedxml import ElementTree

from bot.infra import yamlfile
from bot.infra.clock import SEOUL
from bot.infra.config import LiveConfig
from bot.live.store import LiveError, LiveStore, Wanted
from bot.travel.places import Place, Places

log = logging.getLogger(__name__)

KIND, SOURCE = "crowd", "seoul"
STATUS_KIND = "crowd_source"  # the last refresh's outcome: why a reading is old
SERVICE = "citydata"
LEVELS = {"여유": "relaxed", "보통": "normal", "약간 붐빔": "slightly_busy", "붐빔": "busy"}
RANK = {"relaxed": 1, "normal": 2, "slightly_busy": 3, "busy": 4}
BUSY_FROM = 3  # from "slightly busy" up, an answer suggests a quieter place nearby
FRESH = timedelta(minutes=60)  # data older than this (the source lags ~15 min) is shown as old, never as now
REQUEST_TIMEOUT = 1.5  # a traveler's request waits at most this long, and only when nothing is cached
NEAR_METRES = 2000  # a quieter alternative is within a short walk or one subway stop
MAX_NEIGHBOURS = 8  # hotspots looked at for an alternative (cache reads only)
RESERVE = 0.1  # of the daily quota, left by the schedule for travelers' first questions (empty cache)
QUIET_HOURS = (1, 6)  # KST: the source often has no data 01-05 h and few travelers ask; no scheduled calls
OUTAGE_STOP = 2  # failed calls in one refresh before it stops (a source that is down does not eat the quota)
DASHBOARD = "https://data.seoul.go.kr/SeoulRtd/"  # the city's own live map: the fallback link

# Result codes (reference §4.4) by what the bot does about them.
_KINDS = {"INFO-200": "no_data", "INFO-100": "key", "INFO-400": "key", "INFO-300": "quota", "ERROR-337": "quota"}


class CrowdError(LiveError):
    """The source gave no reading. `kind`: no_data | key | quota | request | outage | bad_answer."""

    def __init__(self, kind: str, message: str, code: str = "") -> None:
        super().__init__(f"{code or kind}: {message}")
        self.kind, self.code = kind, code


def kind_of(code: str) -> str:
    if code in _KINDS:
        return _KINDS[code]
    if code.startswith("ERROR-3"):
        return "request"  # a bad URL, type or range: our mistake, not the traveler's
    return "outage"  # ERROR-500/600/601 and anything unknown: try again later


# --- readings -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forecast:
    time: datetime
    level: str  # relaxed | normal | slightly_busy | busy
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class CrowdReading:
    area: str
    level: str
    time: datetime  # PPLTN_TIME, Seoul time: when the estimate was made, not when we fetched it
    message: str = ""  # AREA_CONGEST_MSG (Korean; its wording varies: shown nowhere, matched on never)
    low: int | None = None
    high: int | None = None
    forecast: tuple[Forecast, ...] = ()
    sample: bool = False  # from the recorded fixtures, not the live source

    @property
    def rank(self) -> int:
        return RANK[self.level]

    def to_data(self) -> dict[str, Any]:
        return {"area": self.area, "level": self.level, "time": self.time.isoformat(), "message": self.message,
                "low": self.low, "high": self.high, "sample": self.sample,
                "forecast": [{"time": f.time.isoformat(), "level": f.level, "low": f.low, "high": f.high}
                             for f in self.forecast]}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CrowdReading:
        return cls(str(data["area"]), _level(data["level"]), datetime.fromisoformat(data["time"]),
                   str(data.get("message") or ""), data.get("low"), data.get("high"),
                   tuple(Forecast(datetime.fromisoformat(f["time"]), _level(f["level"]), f.get("low"), f.get("high"))
                         for f in data.get("forecast") or ()), bool(data.get("sample")))


def _level(value: str) -> str:
    if value not in RANK:
        raise ValueError(f"unknown crowd level {value!r}")
    return value


# --- parsing the source's answers -----------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    try:
        return int(str(value).replace(",", "").strip())
    except ValueError:
        return None


def _time(value: Any) -> datetime:
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M").replace(tzinfo=SEOUL)
    except ValueError:
        raise CrowdError("bad_answer", f"time {value!r} is not YYYY-MM-DD HH:MM") from None


def _xml_error(text: str) -> CrowdError:
    """Key and quota errors come back as XML even for /json/: <RESULT><CODE>INFO-100</CODE><MESSAGE>..."""
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except Exception:  # noqa: BLE001 - neither JSON nor XML: whatever it was, not an answer
        return CrowdError("bad_answer", f"neither JSON nor XML: {text[:80]!r}")
    code = root.findtext(".//CODE")
    if not code:
        return CrowdError("bad_answer", f"XML without a result code: {text[:80]!r}")
    code = code.strip()
    return CrowdError(kind_of(code), (root.findtext(".//MESSAGE") or "").strip(), code)


def _result(data: dict[str, Any]) -> tuple[str, str]:
    """(code, message) from any of the envelopes seen: RESULT{RESULT.CODE}, RESULT{CODE}, top-level RESULT.CODE."""
    result = data.get("RESULT")
    if isinstance(result, dict):
        return (str(result.get("RESULT.CODE") or result.get("CODE") or ""),
                str(result.get("RESULT.MESSAGE") or result.get("MESSAGE") or ""))
    return str(data.get("RESULT.CODE") or ""), str(data.get("RESULT.MESSAGE") or "")


def parse_answer(body: bytes | str, area: str, sample: bool = False) -> CrowdReading:
    """A citydata (or citydata_ppltn) answer's crowd reading, or CrowdError saying why there is none."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        raise _xml_error(text.strip()) from None
    if not isinstance(data, dict):
        raise CrowdError("bad_answer", "the answer is not a JSON object")
    code, message = _result(data)
    if code and code != "INFO-000":
        raise CrowdError(kind_of(code), message, code)
    city = data.get("CITYDATA")
    rows = city.get("LIVE_PPLTN_STTS") if isinstance(city, dict) else data.get("SeoulRtd.citydata_ppltn")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        raise CrowdError("no_data", f"no LIVE_PPLTN_STTS for {area}")  # an unlisted area may answer an empty list
    row = rows[0]
    korean = str(row.get("AREA_CONGEST_LVL") or "").strip()
    if korean not in LEVELS:
        raise CrowdError("bad_answer", f"unknown AREA_CONGEST_LVL {korean!r}")
    forecast = []
    for item in row.get("FCST_PPLTN") or ():
        level = LEVELS.get(str(item.get("FCST_CONGEST_LVL") or "").strip()) if isinstance(item, dict) else None
        if level is None:
            continue  # one odd forecast hour is dropped, not the whole reading
        try:
            forecast.append(Forecast(_time(item.get("FCST_TIME")), level, _int(item.get("FCST_PPLTN_MIN")),
                                     _int(item.get("FCST_PPLTN_MAX"))))
        except CrowdError:
            continue
    return CrowdReading(area, LEVELS[korean], _time(row.get("PPLTN_TIME")), str(row.get("AREA_CONGEST_MSG") or ""),
                        _int(row.get("AREA_PPLTN_MIN")), _int(row.get("AREA_PPLTN_MAX")),
                        tuple(sorted(forecast, key=lambda f: f.time)), sample)


# --- sources --------------------------------------------------------------------------------------------------------
class Source(Protocol):
    sample: bool

    def fetch(self, area: str, timeout: float) -> CrowdReading: ...


class HttpCitydata:
    """The real service (or its fake): one GET per area, the key a path segment, plain HTTP on port 8088."""

    sample = False

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url.rstrip("/"), key
        self._http = requests.Session()

    def address(self, area: str) -> str:
        return f"{self.url}/{quote(self.key, safe='')}/json/{SERVICE}/1/5/{quote(area, safe='')}"

    def fetch(self, area: str, timeout: float) -> CrowdReading:
        try:
            response = self._http.get(self.address(area), timeout=timeout)
        except requests.RequestException as exc:
            raise CrowdError("outage", type(exc).__name__) from None
        if response.status_code != 200:
            raise CrowdError("outage", f"HTTP {response.status_code}")
        return parse_answer(response.content, area)


class RecordedCitydata:
    """Recorded answers (`content/live/seoul_citydata.yaml`), for when no key is set: every reading is a sample."""

    sample = True
    _cache: dict[str, dict[str, str]] = {}  # per file, for the process: content changes ship as a release
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def answers(self) -> dict[str, str]:
        key = str(self.path)
        with self._lock:
            if key not in self._cache:
                doc = yamlfile.load(self.path)
                answers = doc.data.get("answers") if isinstance(doc.data, dict) else None
                if not isinstance(answers, dict) or not all(isinstance(v, str) for v in answers.values()):
                    raise doc.error("answers", "expected a mapping of area name -> the JSON body recorded")
                self._cache[key] = {str(k): v for k, v in answers.items()}
            return self._cache[key]

    def fetch(self, area: str, timeout: float) -> CrowdReading:
        body = self.answers().get(area)
        if body is None:
            raise CrowdError("no_data", f"no recorded answer for {area}", "INFO-200")
        return parse_answer(body, area, sample=True)


# --- what handlers get ----------------------------------------------------------------------------------------------
LIVE, STALE, SAMPLE, NONE = "live", "stale", "sample", "none"


@dataclass(frozen=True)
class CrowdAnswer:
    area: str
    reading: CrowdReading | None
    state: str  # live (fresh) | stale (last known, older than FRESH) | sample (recorded) | none
    problem: str = ""  # why stale or none: outage | quota | key | no_data | request | bad_answer | pending | no_sample

    def age_minutes(self, now: datetime) -> int | None:
        if self.reading is None:
            return None
        return max(0, int((now - self.reading.time).total_seconds() // 60))

    def upcoming(self, now: datetime, count: int = 3) -> tuple[Forecast, ...]:
        """The next forecast hours: after now (after the recording, for a sample)."""
        if self.reading is None:
            return ()
        after = self.reading.time if self.state == SAMPLE else max(now, self.reading.time)
        return tuple(f for f in self.reading.forecast if f.time > after)[:count]


@dataclass(frozen=True)
class Quieter:
    place: Place
    reading: CrowdReading
    metres: float


@dataclass
class RefreshReport:
    day: str
    budget: int = 0
    calls_before: int = 0
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stopped: str = ""  # why it called nothing or stopped early


class Crowds:
    def __init__(self, source: Source, store: LiveStore, *, quota: int = 1000, timeout: float = 3.0) -> None:
        self.source, self.store, self.quota = source, store, quota
        self.timeout = timeout  # a refresh's call
        self.request_timeout = min(REQUEST_TIMEOUT, timeout)

    @classmethod
    def from_config(cls, live: LiveConfig, content_dir: Path, store: LiveStore) -> Crowds:
        """The HTTP source with a Seoul Open API key, else the recorded sample."""
        source: Source = (HttpCitydata(live.seoul_citydata_url, live.seoul_key) if live.seoul_key
                          else RecordedCitydata(content_dir / "live" / "seoul_citydata.yaml"))
        return cls(source, store, quota=live.quotas.get(SOURCE, 1000), timeout=live.timeout_seconds)

    def reading_from(self, store: LiveStore) -> Crowds:
        """This service reading through `store` (a `Peek` read ahead for one card)."""
        other = copy.copy(self)
        other.store = store
        return other

    # --- reading --------------------------------------------------------------------------------------------------
    def read(self, area: str, now: datetime, *, fetch: bool = True) -> CrowdAnswer:
        """The cached reading (live, or stale with why); with nothing cached and `fetch`, one short call."""
        if self.source.sample:
            try:
                return CrowdAnswer(area, self.source.fetch(area, self.request_timeout), SAMPLE)
            except CrowdError as exc:  # nothing recorded for this area: no live source either
                return CrowdAnswer(area, None, NONE, "no_sample" if exc.kind == "no_data" else exc.kind)
        ts = now.timestamp()
        self.store.asked(KIND, area, now=ts)  # the next refresh serves it first
        stored = self.store.load(KIND, area)
        reading = None
        if stored is not None:
            try:
                reading = CrowdReading.from_data(stored.data)
            except (KeyError, TypeError, ValueError):
                log.warning("crowds %s: unreadable cached reading ignored", area)
        if reading is not None:
            return self._answer(reading, now)
        if not fetch:
            return CrowdAnswer(area, None, NONE, self._problem(now))
        return self._fetch_now(area, now)

    def _answer(self, reading: CrowdReading, now: datetime) -> CrowdAnswer:
        if now - reading.time <= FRESH:
            return CrowdAnswer(reading.area, reading, LIVE)
        return CrowdAnswer(reading.area, reading, STALE, self._problem(now))

    def _problem(self, now: datetime) -> str:
        """Why a reading is old or missing: the last refresh's failure, if it failed."""
        status = self.store.load(STATUS_KIND, SOURCE)
        if status is None or status.data.get("ok") or now.timestamp() - status.fetched_at > 86400:
            return ""
        return str(status.data.get("kind") or "outage")

    def _fetch_now(self, area: str, now: datetime) -> CrowdAnswer:
        # Held no longer than the call may take: a failed call does not keep the next traveler waiting.
        if not self.store.claim(KIND, area, seconds=max(1, round(self.request_timeout + 0.5))):
            return CrowdAnswer(area, None, NONE, "pending")  # another worker is asking right now
        if not self.store.spend(SOURCE, self.quota, _day(now)):
            return CrowdAnswer(area, None, NONE, "quota")
        try:
            reading = self.source.fetch(area, self.request_timeout)
        except CrowdError as exc:
            log.warning("crowds %s: %s", area, exc)
            self._note(now, exc)
            return CrowdAnswer(area, None, NONE, exc.kind)
        self.store.save(KIND, area, reading.to_data(), fetched_at=now.timestamp())
        return self._answer(reading, now)

    def quieter_near(self, place: Place, answer: CrowdAnswer, places: Places, now: datetime) -> Quieter | None:
        """A place within NEAR_METRES whose hotspot is less crowded, when `answer` is busy (cache reads only)."""
        if answer.reading is None or answer.reading.rank < BUSY_FROM or answer.state not in (LIVE, SAMPLE):
            return None
        seen, best = {place.hotspot}, None
        for other, metres in places.nearest(place.lat, place.lng, limit=len(places)):
            if metres > NEAR_METRES or len(seen) > MAX_NEIGHBOURS:
                break
            if not other.hotspot or other.hotspot in seen:
                continue
            seen.add(other.hotspot)
            found = self.read(other.hotspot, now, fetch=False)  # also marks it asked: the next refresh fetches it
            if found.reading is None or found.state != answer.state or found.reading.rank >= answer.reading.rank:
                continue
            if best is None or found.reading.rank < best.reading.rank:
                best = Quieter(other, found.reading, metres)
        return best

    # --- the schedule ---------------------------------------------------------------------------------------------
    def budget(self, now: datetime, every_minutes: int) -> tuple[int, int]:
        """(calls this run may make, calls made today): what is left of the day's quota, less the travelers'
        reserve, spread evenly over the runs left today outside the quiet hours."""
        used = self.store.calls(SOURCE, _day(now))
        now = now.astimezone(SEOUL)
        minute = now.hour * 60 + now.minute
        quiet = range(QUIET_HOURS[0] * 60, QUIET_HOURS[1] * 60)
        runs_left = sum(1 for m in range(minute, 24 * 60, every_minutes) if m not in quiet)
        left = self.quota - int(self.quota * RESERVE) - used
        return (max(0, left) // runs_left if runs_left and minute not in quiet else 0), used

    def plan(self, areas: Iterable[str], now: datetime, every_minutes: int) -> list[str]:
        """Areas due for a call, in order: those travelers asked about lately (latest first), then the rest, the
        longest unrefreshed first. An area fetched within the last run's interval is not due."""
        known = list(dict.fromkeys(areas))
        ts = now.timestamp()
        fetched = {a: (s.fetched_at if (s := self.store.load(KIND, a)) else 0.0) for a in known}
        asked = [a for a in self.store.recently_asked(KIND, now=ts) if a in fetched]
        rest = sorted((a for a in known if a not in asked), key=lambda a: fetched[a])
        return [a for a in (*asked, *rest) if ts - fetched[a] >= (every_minutes - 1) * 60]

    def refresh(self, areas: Iterable[str], now: datetime, every_minutes: int = 10) -> RefreshReport:
        """One scheduled run (cron every `every_minutes`): the areas due, as many as this run's budget allows."""
        report = RefreshReport(_day(now))
        if self.source.sample:
            report.stopped = "no SEOUL_OPENAPI_KEY: answers come from the recorded sample, nothing to refresh"
            return report
        blocked = self._blocked(now)
        if blocked:
            report.stopped = blocked
            return report
        report.budget, report.calls_before = self.budget(now, every_minutes)
        if not report.budget:
            quiet = QUIET_HOURS[0] <= now.astimezone(SEOUL).hour < QUIET_HOURS[1]
            spent = (f"today's share is spent ({report.calls_before} of {self.quota} calls, "
                     f"{int(self.quota * RESERVE)} kept for travelers)")
            report.stopped = f"quiet hours ({QUIET_HOURS[0]:02d}-{QUIET_HOURS[1]:02d} KST)" if quiet else spent
            return report
        due = self.plan(areas, now, every_minutes)
        outages = 0
        for area in due[:report.budget]:
            if not self.store.spend(SOURCE, self.quota, report.day):
                report.stopped = "daily quota used up"
                break
            try:
                reading = self.source.fetch(area, self.timeout)
            except CrowdError as exc:
                report.failed[area] = exc.code or exc.kind
                if exc.kind == "no_data":
                    continue  # 01-05 h, or an area the source dropped: not a failure of the source
                outages += exc.kind in ("outage", "bad_answer")
                if exc.kind in ("quota", "key", "request") or outages >= OUTAGE_STOP:
                    self._note(now, exc)
                    report.stopped = f"{exc.kind}: {exc}"
                    break
                continue
            self.store.save(KIND, area, reading.to_data(), fetched_at=now.timestamp())
            report.fetched.append(area)
        if report.fetched and not report.stopped:
            self.store.save(STATUS_KIND, SOURCE, {"ok": True}, fetched_at=now.timestamp())
        return report

    def _note(self, now: datetime, exc: CrowdError) -> None:
        if exc.kind in ("no_data", "pending"):
            return
        self.store.save(STATUS_KIND, SOURCE, {"ok": False, "kind": exc.kind, "code": exc.code, "day": _day(now)},
                        fetched_at=now.timestamp())

    def _blocked(self, now: datetime) -> str:
        """A quota error holds until the next day (KST), a key error for an hour: calling again changes nothing."""
        status = self.store.load(STATUS_KIND, SOURCE)
        if status is None or status.data.get("ok"):
            return ""
        kind = status.data.get("kind")
        if kind == "quota" and status.data.get("day") == _day(now):
            return f"the source said the quota is used up today ({status.data.get('code')})"
        if kind == "key" and now.timestamp() - status.fetched_at < 3600:
            return f"the source refused the key ({status.data.get('code')}); retried an hour after"
        return ""


def _day(now: datetime) -> str:
    return now.astimezone(SEOUL).strftime("%Y-%m-%d")


def hotspots_of(places: Places) -> list[str]:
    """The areas our places name, in content order: what the schedule keeps fresh."""
    return list(dict.fromkeys(p.hotspot for p in places if p.hotspot))


def card_keys(area: str) -> tuple[list[Wanted], list[Wanted]]:
    """What `Crowds.read(area, fetch=False)` reads (the reading, the last refresh's outcome) and marks asked."""
    return [(KIND, area), (STATUS_KIND, SOURCE)], [(KIND, area)]


def of(services: Any) -> Crowds:
    """The app's crowds service, built on first use and kept on `services` like its other parts."""
    found = services.__dict__.get("crowds")
    if found is None:
        found = Crowds.from_config(services.config.live, services.config.content_dir, services.live_store)
        services.__dict__["crowds"] = found
    return found


def describe(report: RefreshReport) -> list[str]:
    """What a refresh did, for the command line."""
    lines = [f"budget {report.budget} calls this run ({report.calls_before} made today before it)"]
    lines += [f"{area} ok" for area in report.fetched]
    lines += [f"{area} {why}" for area, why in report.failed.items()]
    return [*lines, f"stopped: {report.stopped}"] if report.stopped else lines
