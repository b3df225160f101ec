"""Weather and fine dust: Seoul, a place named ("明洞天气") or the location shared last; always with the data's time
and source, the age of a reading the source could not update, and "sample" when it is the recorded sample."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable

from bot.conversation.router import Context, Router
from bot.infra.clock import SEOUL
from bot.live import cards as live_cards
from bot.live.air import Air, AirReading, grade_name
from bot.live.questions import Question, ask
from bot.live.store import LiveStore
from bot.live.weather import Day, Forecast, Reading, Weather, cell_for
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("weather")
OBSERVED_FOR = timedelta(hours=3)  # an older observation is not "now": the forecast for this hour is shown
FORECAST_STALE = timedelta(hours=9)  # three forecast bases missed: say the forecast is old
AIR_STALE = timedelta(hours=3)  # hourly values: three missed hours are worth saying
DAYS_SHOWN = 3  # today, tomorrow, the day after


@dataclass(frozen=True)
class Where:
    name: str  # the place or the location's label ("" = the location shared, unnamed)
    kind: str  # seoul | place | location | far (a location outside Korea: Seoul instead)
    lat: float | None = None
    lng: float | None = None


def _where(ctx: Context) -> Where:
    """The place named, else the location shared last, else Seoul."""
    place_id = ctx.captures.get("place")
    place = ctx.services.content.places.get(place_id) if place_id else None
    if place is not None:
        return Where(place.t("name", ctx.lang), "place", place.lat, place.lng)
    loc = ctx.state.get("loc")
    if loc and "lat" in loc and "lng" in loc:
        if cell_for(loc["lat"], loc["lng"]) is None:
            return Where("", "far")
        return Where(str(loc.get("label") or ""), "location", float(loc["lat"]), float(loc["lng"]))
    return Where("", "seoul")


def _ago(seconds: float) -> dict[str, int | str]:
    """An age for the templates: {n, unit} with unit min | h | d."""
    minutes = max(int(seconds // 60), 1)
    if minutes < 60:
        return {"n": minutes, "unit": "min"}
    if minutes < 48 * 60:
        return {"n": minutes // 60, "unit": "h"}
    return {"n": minutes // 1440, "unit": "d"}


def _deg(t: float | None) -> str:
    if t is None:
        return "?"
    text = f"{t:.1f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + "°"


def _feel(day: Day) -> str:
    """How the day feels, for the clothing line."""
    lo, hi = day.tmin if day.tmin is not None else day.tmax, day.tmax if day.tmax is not None else day.tmin
    if lo is None or hi is None:
        return ""
    if lo <= -5 or hi <= 0:
        return "freezing"
    if hi <= 8:
        return "cold"
    if hi <= 16:
        return "cool"
    if hi <= 25:
        return "mild"
    return "warm" if hi <= 30 else "hot"


def _umbrella(day: Day) -> str:
    pop = day.pop or 0
    if day.precip or pop >= 60:
        return "yes"
    return "maybe" if pop >= 30 else "no"


def _day(day: Day, offset: int | None) -> dict[str, Any]:
    on = date.fromisoformat(day.date)
    return {"offset": offset, "month": on.month, "day": on.day, "weekday": on.weekday(),
            "low": _deg(day.tmin), "high": _deg(day.tmax), "whole_day": day.whole_day, "chance": day.pop or 0,
            "sky": day.sky, "precip": day.precip, "snow": day.snow,
            "hours": (f"{day.precip_from}–{day.precip_to}" if day.precip_from is not None
                      and day.precip_to is not None else ""),
            "feel": _feel(day), "umbrella": _umbrella(day)}


def _days(forecast: Forecast, today: date) -> list[dict[str, Any]]:
    """Today and the next days by the clock. A recorded sample of another date shows its own first days, by date
    only ("明天" asks its second day); live days already past are never shown."""
    found = [(n, forecast.day(today + timedelta(days=n))) for n in range(DAYS_SHOWN)]
    if forecast.sample and not any(d for _, d in found):
        return [{**_day(d, None), "index": n} for n, d in enumerate(forecast.days[:DAYS_SHOWN])]
    return [{**_day(d, n), "index": n} for n, d in found if d is not None]


def _now(forecast: Forecast, now: datetime) -> dict[str, Any] | None:
    """The observation when recent, else the forecast for this hour, else the last observation (with its time)."""
    obs = forecast.observed
    hour = forecast.hour(now)
    if obs is not None and now - datetime.fromisoformat(obs.at) <= OBSERVED_FOR:
        sky_hour = forecast.hour(datetime.fromisoformat(obs.at))
        return {"temp": _deg(obs.temp), "sky": sky_hour.sky if sky_hour else "", "precip": obs.precip,
                "humidity": obs.humidity, "wind": obs.wind, "at": obs.at[11:16], "observed": True, "old": False}
    if hour is not None and datetime.fromisoformat(hour.at) - now < timedelta(hours=1):
        return {"temp": _deg(hour.temp), "sky": hour.sky, "precip": hour.precip, "humidity": None, "wind": None,
                "at": hour.at[11:16], "observed": False, "old": False}
    if obs is not None:
        return {"temp": _deg(obs.temp), "sky": "", "precip": obs.precip, "humidity": obs.humidity, "wind": obs.wind,
                "at": obs.at[5:16].replace("T", " "), "observed": True, "old": True}
    return None


def _weather_reply(ctx: Context, where: Where, question: Question, reading: Reading) -> Reply:
    now = ctx.services.clock.now()
    forecast = reading.forecast
    days = _days(forecast, now.date())
    asked = next((d for d in days if d["index"] == (question.day or 0)), None)
    issued = datetime.fromisoformat(forecast.forecast_base) if forecast.forecast_base else None
    live_old = not forecast.sample and (issued is None or now - issued > FORECAST_STALE)
    return ctx.cards.text(
        "weather", ctx.lang, where=where, seoul_instead=reading.asked != forecast.cell and where.kind != "seoul",
        focus=question.focus, asked=asked, asked_missing=asked is None and bool(days),
        now=_now(forecast, now) if question.day in (None, 0) else None, days=days,
        issued=issued.strftime("%m-%d %H:%M") if issued else "", issued_ago=_ago((now - issued).total_seconds())
        if issued else None, sample=forecast.sample, stale=live_old, failure=reading.failure,
        fetched_ago=_ago(now.timestamp() - reading.fetched_at))


@router.on_intent("weather", io=True)
def weather(msg: Incoming, ctx: Context) -> Reply:
    return _answer(msg, ctx, Weather, "weather_unavailable", _weather_reply)


def _air_reply(ctx: Context, where: Where, question: Question, reading: AirReading) -> Reply:
    now = ctx.services.clock.now()
    at = datetime.fromisoformat(reading.at).astimezone(SEOUL) if reading.at else None
    return ctx.cards.text(
        "air", ctx.lang, where=where, station=reading.station, averaged=reading.averaged,
        station_down=reading.station_down, pm10=reading.pm10, pm25=reading.pm25,
        pm10_grade=grade_name(reading.pm10_grade), pm25_grade=grade_name(reading.pm25_grade),
        grade=grade_name(reading.grade), at=at.strftime("%m-%d %H:%M") if at else "",
        age=_ago((now - at).total_seconds()) if at else None, future=bool(question.day),
        sample=reading.sample, stale=not reading.sample and (at is None or now - at > AIR_STALE),
        failure=reading.failure)


@router.on_intent("air", io=True)
def air(msg: Incoming, ctx: Context) -> Reply:
    return _answer(msg, ctx, Air, "air_unavailable", _air_reply)


def _answer(msg: Incoming, ctx: Context, source: type[Weather] | type[Air], unavailable: str,
            reply: Callable[[Context, Where, Question, Any], Reply]) -> Reply:
    """The reading of `source` where the traveler means (a place named, their location, else Seoul), as `reply`
    words it for what they asked; `unavailable` when there is none."""
    s = ctx.services
    where = _where(ctx)
    reading = source.from_config(s.config.live, s.config.content_dir, s.live_store, s.clock).read(where.lat, where.lng)
    if reading is None:
        return ctx.cards.text(unavailable, ctx.lang)
    return reply(ctx, where, ask(msg.text, s.config.content_dir / "live" / "questions.yaml"), reading)


# --- one line on a place or nearby card --------------------------------------------------------------------------
CARD_FRESH = timedelta(hours=3)  # an older reading says nothing about now on a card
HOT, COLD = 30.0, -5.0  # °C worth a line: a heat or cold warning the traveler can act on
BAD_AIR = 3  # 나쁨 and worse


def card_line(ctx: Context, lat: float, lng: float, store: LiveStore | None = None) -> str:
    """One line of weather worth saying on a place or nearby card: rain or snow still to come today, heat, cold or
    bad air; "" otherwise. Cached live readings only (`store`: a `live.cards.peek` read ahead): never a call to a
    source, never a sample."""
    s = ctx.services
    now = s.clock.now()
    store = store or live_cards.peek(s, lat, lng)
    reading = Weather.from_config(s.config.live, s.config.content_dir, store, s.clock).read(lat, lng, fetch=False)
    air = Air.from_config(s.config.live, s.config.content_dir, store, s.clock).read(lat, lng, fetch=False)
    facts: dict[str, Any] = {"precip": "", "precip_from": None, "hot": "", "cold": "", "air": ""}
    if reading and not reading.forecast.sample and now.timestamp() - reading.fetched_at < CARD_FRESH.total_seconds():
        forecast = reading.forecast
        today = forecast.day(now.astimezone(SEOUL).date())
        hour = forecast.hour(now)
        observed = forecast.observed
        temp = observed.temp if observed and observed.temp is not None else (hour.temp if hour else None)
        if today and (today.rain or today.snow) and (today.precip_to is None or today.precip_to >= now.hour):
            facts["precip"] = "snow" if today.snow else "rain"
            facts["precip_from"] = today.precip_from if today.precip_from and today.precip_from > now.hour else None
        elif today and today.tmax is not None and today.tmax >= HOT:
            facts["hot"] = _deg(today.tmax)
        elif temp is not None and temp <= COLD:
            facts["cold"] = _deg(temp)
    if air and not air.sample and air.grade and air.grade >= BAD_AIR and \
            now.timestamp() - air.fetched_at < CARD_FRESH.total_seconds():
        facts["air"] = grade_name(air.grade)
    return ctx.cards.render("weather_line", ctx.lang, **facts) if any(facts.values()) else ""
