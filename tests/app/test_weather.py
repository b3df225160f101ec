"""Weather and air from the HTTP providers against the fake data.go.kr gateway, on both Redis back-ends: the happy
path, quota and key errors, NO_DATA, an outage, what the traveler is then told, and the quota counter."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

import pytest
import requests

from bot.devtools import sender as build
from bot.devtools.fake_korea_weather import KEY, FakeKoreaWeather
from bot.infra.clock import SEOUL, Clock
from bot.infra.keys import Keys
from bot.infra.redis_conn import connect
from bot.live import air as air_mod
from bot.live import datagokr
from bot.live import weather as weather_mod
from bot.live.store import LiveStore
from tests.support import APPID, CONTENT, WeChat

DAY = "2026-12-05"


def at(hhmm: str, day: str = DAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=SEOUL)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeKoreaWeather]:
    with FakeKoreaWeather() as server:
        yield server


@pytest.fixture
def gateway(fake: FakeKoreaWeather) -> Iterator[FakeKoreaWeather]:
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def store(backend) -> LiveStore:  # type: ignore[no-untyped-def]
    return LiveStore(connect(backend.redis_url, 0.5), Keys(APPID))


def make_weather(gateway: FakeKoreaWeather, store: LiveStore, clock: Clock, key: str = KEY,
                 quota: int = 10_000) -> weather_mod.Weather:
    provider = weather_mod.HttpProvider(gateway.kma_url, key, store, quota, clock)
    return weather_mod.Weather(provider, store, clock, timeout=2.0)


def make_air(gateway: FakeKoreaWeather, store: LiveStore, clock: Clock, quota: int = 500) -> air_mod.Air:
    provider = air_mod.HttpProvider(gateway.airkorea_url, KEY, store, quota, clock)
    return air_mod.Air(provider, store, clock, air_mod.district_stations(CONTENT / "live" / "air_stations.yaml"),
                       timeout=2.0)


def test_a_refresh_fetches_the_due_bases_once_and_counts_each_call(gateway, store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(at("10:20"))
    weather = make_weather(gateway, store, clock)
    [first] = weather.refresh()
    assert first.outcome == "updated" and first.calls == ["getVilageFcst 20261205 0800", "getUltraSrtNcst 20261205 1000"]
    query = gateway.calls_to("getVilageFcst")[0].query
    assert query["serviceKey"] == KEY  # the Decoding key, encoded once by requests: the gateway knows it
    assert (query["numOfRows"], query["dataType"], query["nx"], query["ny"]) == ("1000", "JSON", "60", "127")
    reading = weather.read()
    assert reading is not None and reading.failure == "" and reading.forecast.sample == ""
    assert reading.forecast.forecast_base == "2026-12-05T08:00:00+09:00"
    assert reading.forecast.observed is not None and reading.forecast.observed.temp == 2.1
    clock.fixed = at("10:50")  # nothing newer is out: no call, nothing counted
    assert [r.outcome for r in weather.refresh()] == ["fresh"] and len(gateway.calls) == 2
    clock.fixed = at("11:15")  # the 11:00 observation and the 11:00 forecast are out
    [later] = weather.refresh()
    assert later.outcome == "updated" and len(later.calls) == 2
    assert store.calls("kma", DAY) == 4


def test_quota_used_up_keeps_the_last_reading_with_its_age_and_our_count_stops_calls(  # type: ignore[no-untyped-def]
        gateway, store) -> None:
    clock = Clock(at("10:20"))
    weather = make_weather(gateway, store, clock, quota=4)
    weather.refresh()
    fetched = store.load("weather", "60_127")
    clock.fixed = at("11:20")
    gateway.fail("getVilageFcst", "quota")  # the gateway's XML 22, although JSON was asked
    [result] = weather.refresh()
    assert result.outcome == "updated, failed:quota"  # the observation came; the forecast is the 08:00 one still
    reading = weather.read()
    assert reading is not None and reading.failure == "quota"
    assert reading.forecast.forecast_base == "2026-12-05T08:00:00+09:00"
    assert reading.fetched_at > fetched.fetched_at  # type: ignore[union-attr]
    clock.fixed = at("12:20")  # our own count says the quota is used: no call leaves
    before = len(gateway.calls)
    assert weather.refresh()[0].outcome == "failed:quota" and len(gateway.calls) == before
    assert store.calls("kma", DAY) == 4
    assert weather.read().fetched_at == reading.fetched_at  # type: ignore[union-attr]  # the last good one, its age kept


def test_a_wrong_key_fails_plainly_and_nothing_is_cached(gateway, store) -> None:  # type: ignore[no-untyped-def]
    weather = make_weather(gateway, store, Clock(at("10:20")), key="not-the-key")
    assert [r.outcome for r in weather.refresh()] == ["failed:key"]
    assert {c.answered for c in gateway.calls} == {"key"}
    assert weather.read() is None  # the traveler gets "not available" and a link, never a made-up figure
    gateway.fail("getVilageFcst", "json_key", times=2)  # the same error as JSON
    with pytest.raises(datagokr.GatewayError) as caught:
        make_weather(gateway, store, Clock(at("10:20"))).provider.rows(weather_mod.VILAGE, at("08:00"), (60, 127), 2)
    assert caught.value.kind == "key"


def test_no_data_steps_back_one_base(gateway, store) -> None:  # type: ignore[no-untyped-def]
    gateway.unpublished.add("0800")  # the 08:00 forecast is late
    gateway.fail("getUltraSrtNcst", "empty")  # the observation answers "items": ""
    [result] = make_weather(gateway, store, Clock(at("08:12"))).refresh()
    assert result.outcome == "updated"
    assert result.calls == ["getVilageFcst 20261205 0800", "getVilageFcst 20261205 0500",
                            "getUltraSrtNcst 20261205 0800", "getUltraSrtNcst 20261205 0700"]
    forecast = weather_mod.Forecast.from_dict(store.load("weather", "60_127").data)  # type: ignore[union-attr]
    assert (forecast.forecast_base, forecast.observed_base) == ("2026-12-05T05:00:00+09:00",
                                                                "2026-12-05T07:00:00+09:00")
    gateway.reset()
    gateway.unpublished.add("0800")  # both still late at 08:22: one call each, no step back to what is cached
    [again] = make_weather(gateway, store, Clock(at("08:22"))).refresh()
    assert again.outcome == "fresh" and again.calls == ["getVilageFcst 20261205 0800", "getUltraSrtNcst 20261205 0800"]


def test_an_empty_cache_asks_the_source_within_the_request_and_an_outage_costs_nothing(  # type: ignore[no-untyped-def]
        gateway, store) -> None:
    clock = Clock(at("10:20"))
    weather = make_weather(gateway, store, clock)
    gangnam = weather.read(37.4979, 127.0276)  # never fetched: fetched now, for that cell
    assert gangnam is not None and gangnam.forecast.cell == (61, 125) == gangnam.asked
    assert {c.query["nx"] for c in gateway.calls} == {"61"}
    assert store.recently_asked("weather", now=clock.now().timestamp()) == ["61_125"]
    gateway.fail("getVilageFcst", "status", times=2)
    gateway.fail("getUltraSrtNcst", "status", times=2)
    assert weather.read(37.5512, 126.9882) is None  # N Seoul Tower's cell, source down, no Seoul reading either


def test_a_first_fetch_with_the_forecast_down_keeps_the_observation(gateway, store) -> None:  # type: ignore[no-untyped-def]
    gateway.fail("getVilageFcst", "status")
    [result] = make_weather(gateway, store, Clock(at("10:20"))).refresh()
    assert result.outcome == "updated, failed:error"
    reading = make_weather(gateway, store, Clock(at("10:20"))).read()
    assert reading is not None and reading.forecast.days == () and reading.forecast.observed is not None


def test_xml_answers_parse_like_json(gateway) -> None:  # type: ignore[no-untyped-def]
    params = {"serviceKey": KEY, "base_date": "20261205", "base_time": "0800", "nx": 60, "ny": 127}
    as_json = requests.get(f"{gateway.kma_url}/getUltraSrtNcst", params={**params, "dataType": "JSON"}, timeout=2)
    as_xml = requests.get(f"{gateway.kma_url}/getUltraSrtNcst", params={**params, "dataType": "XML"}, timeout=2)
    assert as_xml.text.startswith("<?xml")
    assert weather_mod.parse_observation(datagokr.rows(as_xml.content)) == \
        weather_mod.parse_observation(datagokr.rows(as_json.content))
    gateway.fail("getCtprvnRltmMesureDnsty", "quota")
    quota = requests.get(f"{gateway.airkorea_url}/getCtprvnRltmMesureDnsty",
                         params={"serviceKey": KEY, "returnType": "json"}, timeout=2)
    assert quota.text.startswith("<OpenAPI_ServiceResponse>") and "<returnReasonCode>22<" in quota.text


def test_air_one_call_for_seoul_the_nearest_station_and_an_outage(gateway, store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(at("10:10"))
    air = make_air(gateway, store, clock)
    assert air.refresh() == "updated"
    query = gateway.calls_to("getCtprvnRltmMesureDnsty")[0].query
    assert (query["sidoName"], query["ver"], query["returnType"]) == ("서울", "1.4", "json")
    assert air.refresh() == "fresh"  # 09:00 is the latest hour out at 10:10 (10:00 lands ~10:15)
    myeongdong = air.read(37.5636, 126.9827)
    assert myeongdong is not None and (myeongdong.station, myeongdong.pm25, myeongdong.grade) == ("중구", 41, 3)
    dobong = air.read(37.6542, 127.0291)  # its station is down this hour: Seoul's average, said so
    assert dobong is not None and (dobong.station, dobong.station_down, dobong.averaged) == ("", "도봉구", 24)
    clock.fixed = at("14:20")
    gateway.fail("getCtprvnRltmMesureDnsty", "status")
    assert air.refresh() == "failed:error"
    stale = air.read()
    assert stale is not None and stale.failure == "error" and stale.at == "2026-12-05T09:00:00+09:00"
    assert store.calls("airkorea", DAY) == 2


def test_the_traveler_sees_the_age_and_the_reason_when_the_source_is_down(  # type: ignore[no-untyped-def]
        gateway, app_factory, openid) -> None:
    app = app_factory(live__data_go_kr_key=KEY, live__kma_url=gateway.kma_url,
                      live__airkorea_url=gateway.airkorea_url)
    services: Any = app.extensions["yjy"].services
    services.clock = Clock(at("10:20"))
    wechat = WeChat(app)
    fresh = wechat.say(openid, "今天天气怎么样")["Content"]
    assert "现在 2.1° 晴" in fresh and "来源：韩国气象厅" in fresh and "示例数据" not in fresh and "⚠️" not in fresh
    services.clock = Clock(at("22:20"))  # the refresh fails all day: the evening answer is the morning's
    gateway.fail("getVilageFcst", "status", times=4)
    gateway.fail("getUltraSrtNcst", "status", times=4)
    make_weather(gateway, services.live_store, services.clock).refresh()
    stale = wechat.say(openid, "明天会下雨吗")["Content"]
    assert "数据源暂时连不上" in stale and "12 小时前取到" in stale and "预报 12-05 08:00 发布（14 小时前）" in stale
    assert "☔ 明天 12月6日（周日）会下雨" in stale
    gateway.reset()
    gateway.fail("getVilageFcst", "status")  # a cell never fetched, its forecast down: the observation alone
    wechat.reply(build.location(openid, 37.4979, 127.0276, "江南站"))
    gangnam = wechat.say(openid, "天气怎么样")["Content"]
    assert "江南站附近天气" in gangnam and "现在 2.1°" in gangnam and "数据源暂时连不上" in gangnam
    gateway.fail("getCtprvnRltmMesureDnsty", "key")
    assert "airkorea.or.kr" in wechat.say(openid, "空气质量怎么样")["Content"]  # nothing cached: no figure at all
