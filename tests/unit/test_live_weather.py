"""Weather and air without a server: KMA's grid, base times, every answer shape of the data.go.kr gateway, grades."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.infra.clock import SEOUL
from bot.live import air, datagokr, weather
from bot.live.datagokr import GatewayError
from bot.live.questions import Question, ask

LIVE = Path(__file__).resolve().parents[2] / "content" / "live"
GATEWAY_XML = ("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>\n"
               "<returnAuthMsg>{msg}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode>\n"
               "</cmmMsgHeader></OpenAPI_ServiceResponse>")


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


@pytest.mark.parametrize("lat,lng,cell", [
    (37.5663, 126.9779, (60, 127)),  # City Hall
    (37.5796, 126.9770, (60, 127)),  # Gyeongbokgung
    (37.5636, 126.9827, (60, 127)),  # Myeongdong
    (37.5512, 126.9882, (60, 126)),  # N Seoul Tower
    (37.5572, 126.9245, (59, 126)),  # Hongik Univ. station
    (37.4979, 127.0276, (61, 125)),  # Gangnam station
    (37.5126, 127.1025, (62, 126)),  # Lotte World Tower
    (37.4492, 126.4505, (51, 124)),  # Incheon Airport T1
])
def test_grid_matches_the_reference_points(lat: float, lng: float, cell: tuple[int, int]) -> None:
    assert weather.grid(lat, lng) == cell


def test_a_point_outside_korea_has_no_cell() -> None:
    assert weather.cell_for(39.9042, 116.4074) is None  # Beijing: Seoul answers instead
    assert weather.cell_for(35.1796, 129.0756) is not None  # Busan is KMA's


@pytest.mark.parametrize("now,observed,forecast", [
    ("2026-12-05T10:09", "2026-12-05T09:00", "2026-12-05T08:00"),
    ("2026-12-05T10:10", "2026-12-05T10:00", "2026-12-05T08:00"),
    ("2026-12-05T08:10", "2026-12-05T08:00", "2026-12-05T08:00"),
    ("2026-12-05T02:09", "2026-12-05T01:00", "2026-12-04T23:00"),  # before 02:10: yesterday's 23:00
    ("2026-12-05T00:05", "2026-12-04T23:00", "2026-12-04T23:00"),
    ("2026-12-05T23:59", "2026-12-05T23:00", "2026-12-05T23:00"),
])
def test_base_times(now: str, observed: str, forecast: str) -> None:
    assert weather.observation_base(kst(now)) == kst(observed)
    assert weather.forecast_base(kst(now)) == kst(forecast)


def test_the_recorded_forecast_parses_into_days() -> None:
    hours, days = weather.parse_forecast(datagokr.rows((LIVE / "kma" / "getVilageFcst.json").read_bytes()))
    today, tomorrow, after = days[:3]
    assert (today.date, today.tmin, today.tmax, today.whole_day, today.pop, today.precip) == (
        "2026-12-05", -3.0, 6.0, True, 20, "")
    assert tomorrow.rain and (tomorrow.pop, tomorrow.precip_from, tomorrow.precip_to) == (70, 12, 18)
    assert after.snow and after.rain and after.precip == "sleet"  # 비/눈 counts for both
    assert not days[3].whole_day  # the recording ends at day+3 11:00: no TMN/TMX, the hours it has
    assert hours[0].at == "2026-12-05T06:00:00+09:00" and len(hours) == weather.HOURS_KEPT


def test_a_later_forecast_keeps_the_days_min_and_max() -> None:
    full = weather.Day("2026-12-05", -3.0, 6.0, True, 20, "clear", "", None, None)
    later = weather.Day("2026-12-05", 4.0, 5.0, False, 10, "cloudy", "", None, None)
    merged = weather._merge_days((later,), (full,))[0]
    assert (merged.tmin, merged.tmax, merged.whole_day, merged.sky) == (-3.0, 6.0, True, "cloudy")


def test_the_observation_parses() -> None:
    obs = weather.parse_observation(datagokr.rows((LIVE / "kma" / "getUltraSrtNcst.json").read_bytes()))
    assert (obs.at, obs.temp, obs.precip, obs.humidity, obs.wind) == ("2026-12-05T09:00:00+09:00", 2.1, "", 48, 2.3)


@pytest.mark.parametrize("code,msg,kind", [("22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", "quota"),
                                           ("30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", "key")])
def test_the_gateway_xml_error_even_when_json_was_asked(code: str, msg: str, kind: str) -> None:
    with pytest.raises(GatewayError) as caught:
        datagokr.rows(GATEWAY_XML.format(code=code, msg=msg).encode())
    assert caught.value.code == code and caught.value.kind == kind and msg in str(caught.value)


@pytest.mark.parametrize("body,code", [
    ({"response": {"header": {"resultCode": "30", "resultMsg": "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"}}}, "30"),
    ({"response": {"header": {"resultCode": "03", "resultMsg": "NO_DATA"}}}, "03"),
    ({"response": {"header": {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"},
                   "body": {"dataType": "JSON", "items": "", "totalCount": 0}}}, "03"),
    ({"response": {"header": {"resultCode": "10", "resultMsg": "INVALID_REQUEST_PARAMETER_ERROR"}}}, "10"),
])
def test_json_errors_and_no_rows(body: dict, code: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(GatewayError) as caught:
        datagokr.rows(json.dumps(body))
    assert caught.value.code == code


def test_provider_xml_rows_and_unreadable_answers() -> None:
    xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><header><resultCode>00</resultCode>"
           "<resultMsg>NORMAL_SERVICE</resultMsg></header><body><items><item><baseDate>20261205</baseDate>"
           "<baseTime>0900</baseTime><category>T1H</category><nx>60</nx><ny>127</ny><obsrValue>2.1</obsrValue>"
           "</item></items></body></response>")
    assert datagokr.rows(xml) == [{"baseDate": "20261205", "baseTime": "0900", "category": "T1H", "nx": "60",
                                   "ny": "127", "obsrValue": "2.1"}]
    with pytest.raises(GatewayError) as caught:
        datagokr.rows("<response><header><resultCode>03</resultCode><resultMsg>NO_DATA</resultMsg></header></response>")
    assert caught.value.kind == "no_data"
    for junk in ("<html>gateway timeout", "Service Unavailable", "[]"):
        with pytest.raises(GatewayError):
            datagokr.rows(junk)


def test_airkorea_rows_missing_values_and_midnight() -> None:
    report = air.parse(datagokr.rows((LIVE / "airkorea" / "getCtprvnRltmMesureDnsty.json").read_bytes()))
    by_name = {s.name: s for s in report.stations}
    assert len(report.stations) == 40 and report.at == "2026-12-05T09:00:00+09:00"
    assert (by_name["중구"].pm10, by_name["중구"].pm25) == (62, 41)
    assert (by_name["도봉구"].pm10, by_name["도봉구"].flag) == (None, "통신장애")  # "-" with a flag
    assert air._hour("2026-12-05 24:00") == "2026-12-06T00:00:00+09:00"
    with pytest.raises(GatewayError):
        air.parse([{"stationName": "중구", "pm10Value": "-", "pm25Value": "-"}])


@pytest.mark.parametrize("value,bands,grade", [
    (30, air.PM10_BANDS, 1), (31, air.PM10_BANDS, 2), (80, air.PM10_BANDS, 2), (151, air.PM10_BANDS, 4),
    (15, air.PM25_BANDS, 1), (16, air.PM25_BANDS, 2), (36, air.PM25_BANDS, 3), (76, air.PM25_BANDS, 4),
    (None, air.PM25_BANDS, None),
])
def test_korean_grades(value: int | None, bands: tuple[int, int, int], grade: int | None) -> None:
    assert air.grade(value, bands) == grade


def test_the_worse_pollutant_sets_the_grade_and_the_nearest_station_answers() -> None:
    reading = air.AirReading("중구", 62, 41, "2026-12-05T09:00:00+09:00", 0.0)
    assert (reading.pm10_grade, reading.pm25_grade, reading.grade) == (2, 3, 3)
    assert air.grade_name(reading.grade) == "unhealthy"
    stations = air.district_stations(LIVE / "air_stations.yaml")
    assert len(stations) == 25
    finder = air.Air(air.FixtureProvider(LIVE / "airkorea"), None, None, stations)  # type: ignore[arg-type]
    assert finder.nearest(37.5636, 126.9827) == "중구"  # Myeongdong
    assert finder.nearest(37.4492, 126.4505) is None  # Incheon Airport: Seoul's average


@pytest.mark.parametrize("text,question", [
    ("明天会下雨吗", Question(1, "rain")), ("首尔冷吗", Question(None, "temperature")),
    ("要带伞吗", Question(None, "rain")), ("what's the weather tomorrow", Question(1, "")),
    ("weather the day after tomorrow", Question(2, "")), ("is the air bad today", Question(0, "")),
])
def test_what_a_question_asks(text: str, question: Question) -> None:
    assert ask(text, LIVE / "questions.yaml") == question
