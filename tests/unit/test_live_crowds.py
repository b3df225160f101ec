"""Seoul citydata answers read into crowd readings: the four levels, the forecast, every error shape (JSON with
dotted or flat keys, XML for a wrong key), and our places' hotspots checked against the recorded list."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.conversation.nlu import Categories
from bot.devtools.fake_seoul_citydata import answer, error_json, error_xml
from bot.infra.clock import SEOUL
from bot.infra.yamlfile import SourceError
from bot.live.crowds import CrowdError, CrowdReading, RecordedCitydata, parse_answer
from bot.travel.places import HOTSPOTS_FILE, load_places, recorded_hotspots

CONTENT = Path(__file__).resolve().parents[2] / "content"
RECORDED = CONTENT / "live" / "seoul_citydata.yaml"
# The reference's real captures (korea_open_data_apis.md §4.3): citydata with the sample key, and citydata_ppltn.
REAL = RecordedCitydata(RECORDED).answers()["광화문·덕수궁"]
PPLTN = json.dumps({"SeoulRtd.citydata_ppltn": [{
    "AREA_NM": "광화문·덕수궁", "AREA_CD": "POI009", "AREA_CONGEST_LVL": "약간 붐빔",
    "AREA_CONGEST_MSG": "사람들이 몰려있을 가능성이 크고 붐빈다고 느낄 수 있어요.", "AREA_PPLTN_MIN": "32000",
    "AREA_PPLTN_MAX": "34000", "PPLTN_TIME": "2026-08-13 09:05", "FCST_YN": "Y"}]}, ensure_ascii=False)


def test_the_real_capture_reads_level_range_time_and_forecast() -> None:
    reading = parse_answer(REAL.encode(), "광화문·덕수궁")
    assert (reading.level, reading.low, reading.high) == ("normal", 38000, 40000)
    assert reading.time == datetime(2026, 8, 11, 17, 30, tzinfo=SEOUL)
    assert [(f.time.hour, f.level, f.low, f.high) for f in reading.forecast] == [(19, "normal", 32000, 34000)]
    assert not reading.sample and reading.message.startswith("사람이 몰려있을 수 있지만")
    assert CrowdReading.from_data(json.loads(json.dumps(reading.to_data()))) == reading


def test_the_smaller_citydata_ppltn_answer_reads_the_same() -> None:
    reading = parse_answer(PPLTN, "광화문·덕수궁")
    assert (reading.level, reading.low, reading.high, reading.forecast) == ("slightly_busy", 32000, 34000, ())


@pytest.mark.parametrize(("korean", "level"), [("여유", "relaxed"), ("보통", "normal"), ("약간 붐빔", "slightly_busy"),
                                               ("붐빔", "busy")])
def test_the_four_levels(korean: str, level: str) -> None:
    body = answer("명동 관광특구", korean, "2026-12-05 09:50", forecast=[("2026-12-05 11:00", korean)])
    reading = parse_answer(body, "명동 관광특구")
    assert reading.level == level and reading.forecast[0].level == level


@pytest.mark.parametrize(("body", "kind", "code"), [
    (error_json("INFO-100"), "key", "INFO-100"),
    (error_xml("INFO-100"), "key", "INFO-100"),                   # a wrong key: XML even for /json/
    (error_json("INFO-200"), "no_data", "INFO-200"),
    ('{"RESULT.CODE":"INFO-200","RESULT.MESSAGE":"해당하는 데이터가 없습니다."}', "no_data", "INFO-200"),
    ('{"RESULT":{"RESULT.CODE":"INFO-300","RESULT.MESSAGE":"유효 호출건수를 이미 초과하셨습니다."}}', "quota", "INFO-300"),
    (error_xml("INFO-300"), "quota", "INFO-300"),
    (error_json("ERROR-337"), "quota", "ERROR-337"),
    (error_json("ERROR-334"), "request", "ERROR-334"),
    (error_json("ERROR-500"), "outage", "ERROR-500"),
    ("<html><body>Service Unavailable</body></html>", "bad_answer", ""),
    ("not json at all", "bad_answer", ""),
    ('{"list_total_count":0,"RESULT":{"RESULT.CODE":"INFO-000"},"CITYDATA":{"LIVE_PPLTN_STTS":[]}}', "no_data", ""),
    (REAL.replace('"AREA_CONGEST_LVL":"보통"', '"AREA_CONGEST_LVL":"매우 붐빔"'), "bad_answer", ""),
    (REAL.replace('"PPLTN_TIME":"2026-08-11 17:30"', '"PPLTN_TIME":"17:30"'), "bad_answer", ""),
])
def test_errors_say_why_and_never_give_a_reading(body: str, kind: str, code: str) -> None:
    with pytest.raises(CrowdError) as caught:
        parse_answer(body.encode(), "광화문·덕수궁")
    assert (caught.value.kind, caught.value.code) == (kind, code)


def test_an_odd_forecast_hour_is_dropped_not_the_reading() -> None:
    body = answer("경복궁", "보통", "2026-12-05 09:50", forecast=[("2026-12-05 11:00", "보통"), ("soon", "보통")])
    assert [f.time.hour for f in parse_answer(body, "경복궁").forecast] == [11]


def test_every_recorded_answer_is_a_recorded_hotspot_and_reads() -> None:
    known = recorded_hotspots(CONTENT / HOTSPOTS_FILE)
    assert len(known) == 121
    for area, body in RecordedCitydata(RECORDED).answers().items():
        assert area in known
        reading = parse_answer(body, area, sample=True)
        assert reading.sample and reading.time == datetime(2026, 8, 11, 17, 30, tzinfo=SEOUL)


def test_every_place_names_a_hotspot_from_the_recorded_list() -> None:
    known = recorded_hotspots(CONTENT / HOTSPOTS_FILE)
    places = load_places(CONTENT / "attractions.yaml", set(Categories.from_file(CONTENT / "categories.yaml").items))
    named = {p.id: p.hotspot for p in places if p.hotspot}
    assert named and set(named.values()) <= known
    assert named["myeongdong_shopping"] == "명동 관광특구" and named["n_seoul_tower"] == "남산공원"


def test_a_hotspot_not_in_the_list_stops_loading_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    (tmp_path / HOTSPOTS_FILE).write_text("hotspots:\n  - {area: 경복궁}\n", encoding="utf-8")
    (tmp_path / "attractions.yaml").write_text(_ONE_PLACE.format(hotspot="경복 궁"), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_places(tmp_path / "attractions.yaml", {"palace_history"})
    assert caught.value.line == 7 and "'경복 궁' is not a hotspot" in str(caught.value)
    (tmp_path / "attractions.yaml").write_text(_ONE_PLACE.format(hotspot="경복궁"), encoding="utf-8")
    assert load_places(tmp_path / "attractions.yaml", {"palace_history"}).get("gyeongbokgung").hotspot == "경복궁"


_ONE_PLACE = """places:
  - id: gyeongbokgung
    categories: [palace_history]
    name: {{zh-CN: 景福宫, en: Gyeongbokgung}}
    district: {{zh-CN: 钟路区, en: Jongno-gu}}
    location: {{lat: 37.5799, lng: 126.9768}}
    hotspot: {hotspot}
    subway: {{zh-CN: 景福宫站, en: Gyeongbokgung Stn}}
    hours: {{text: {{zh-CN: "09:00–18:00", en: "09:00–18:00"}}}}
    closed: {{zh-CN: 每周二, en: Tuesdays}}
    admission: {{text: {{zh-CN: 3000韩元, en: KRW 3000}}}}
    summary: {{zh-CN: 王宫, en: Palace}}
    tips: {{zh-CN: 周二闭馆, en: Closed Tuesdays}}
    source: test
"""
