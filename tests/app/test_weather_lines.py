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


class _RoundTrips:
    """Counts what the app's Redis client sends: one per command, one per pipeline (however many commands)."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.count = 0
        self.client, self._command, self._pipeline = client, client.execute_command, client.pipeline

        def command(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.count += 1
            return self._command(*args, **kwargs)

        def pipeline(*args, **kwargs):  # type: ignore[no-untyped-def]
            pipe = self._pipeline(*args, **kwargs)
            execute = pipe.execute

            def counted(*a, **k):  # type: ignore[no-untyped-def]
                self.count += 1
                return execute(*a, **k)

            pipe.execute = counted
            return pipe

        client.execute_command, client.pipeline = command, pipeline

    def stop(self) -> None:
        self.client.execute_command, self.client.pipeline = self._command, self._pipeline


def test_a_place_card_reads_its_live_lines_in_one_round_trip(app, openid):
    """Claim (dedup + state), the card's live peek (weather, air, crowd and their "asked" marks), finish: three.
    A round trip per line (and per "asked" mark) was seven more."""
    _weather(app, precip="rain")
    _air(app, pm25=60)
    _card(app, openid, "明洞")  # the follower row and language are settled by a first message
    counter = _RoundTrips(app.extensions["yjy"].redis)
    try:
        card = _card(app, openid, "明洞怎么样")
    finally:
        counter.stop()
    assert "🌧" in card
    assert counter.count == 3
