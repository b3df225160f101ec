"""The one line of weather a place card or a nearby list carries: only when it matters today (rain or snow
still to come, heat, cold, bad air), only from a fresh live reading in the cache, never from a sample."""
from __future__ import annotations

from datetime import datetime

from bot.infra.clock import SEOUL, Clock
from bot.live.air import KEY as AIR_KEY
from bot.live.air import AirReport, Station
from bot.live.weather import SEOUL_CELL, Day, Forecast, Hour, Observed, cell_key
from tests.support import WeChat

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SEOUL)


def _weather(app, *, precip: str = "", tmax: float = 5.0, temp: float = 2.0, sample: str = "") -> None:  # type: ignore[no-untyped-def]
    forecast = Forecast(SEOUL_CELL, Observed("2026-12-05T10:00:00+09:00", temp, "", 60, 1.0),
                        (Hour("2026-12-05T10:00:00+09:00", temp, "clear", "", 0),),
                        (Day("2026-12-05", -1.0, tmax, True, 80 if precip else 0, "cloudy", precip,
                             15 if precip else None, 20 if precip else None),),
                        "2026-12-05T10:00:00+09:00", "2026-12-05T08:00:00+09:00", sample)
    ext = app.extensions["yjy"]
    ext.live_store.save("weather", cell_key(SEOUL_CELL), {**forecast.to_dict(), "failure": ""}, NOW.timestamp())


def _air(app, pm25: int) -> None:  # type: ignore[no-untyped-def]
    report = AirReport(tuple(Station(name, "2026-12-05T10:00:00+09:00", 40, pm25, "")
                             for name in ("중구", "종로구")))
    app.extensions["yjy"].live_store.save("air", AIR_KEY, {**report.to_dict(), "failure": ""}, NOW.timestamp())


def _card(app, openid: str, text: str = "景福宫") -> str:  # type: ignore[no-untyped-def]
    app.extensions["yjy"].services.clock = Clock(NOW)
    reply = WeChat(app).say(openid, text)
    return reply["Articles"]["item"]["Description"] if reply["MsgType"] == "news" else reply["Content"]


def test_rain_to_come_and_bad_air_are_said_on_the_place_card(app, openid):
    _weather(app, precip="rain")
    _air(app, pm25=60)  # 나쁨
    card = _card(app, openid)
    assert "🌧 今天15点起有雨，记得带伞" in card and "😷 空气差，建议戴口罩" in card


def test_a_plain_day_adds_nothing_and_a_sample_never_shows(app, openid):
    _weather(app)
    _air(app, pm25=10)
    assert "🌧" not in _card(app, openid) and "😷" not in _card(app, openid)
    _weather(app, precip="rain", sample="2026-12-05")
    assert "🌧" not in _card(app, openid)  # sample data is never presented as today's weather


def test_heat_and_cold_and_the_nearby_list(app, openid):
    _weather(app, tmax=33.0)
    assert "🥵 今天最高 33°" in _card(app, openid)
    _weather(app, temp=-8.0)
    assert "🥶 现在 -8°，注意保暖" in _card(app, openid)
    app.extensions["yjy"].services.clock = Clock(NOW)
    wx = WeChat(app)
    wx.reply(__import__("bot.devtools.sender", fromlist=["location"]).location(openid, 37.5636, 126.9827, "明洞"))
    listing = wx.say(openid, "附近有什么好玩的")["Content"]
    assert "🥶 现在 -8°" in listing


def test_in_english(app, openid):
    _weather(app, precip="snow")
    app.extensions["yjy"].services.clock = Clock(NOW)
    wx = WeChat(app)
    wx.say(openid, "English")
    assert "❄️ Snow today from 15:00" in _card(app, openid, "Gyeongbokgung")
