"""Places: content validation, "open now" in Seoul time, distances and nearest."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.conversation.place_names import GenericWords, PlaceIndex
from bot.infra.clock import SEOUL
from bot.infra.text import normalize
from bot.infra.yamlfile import SourceError
from bot.travel.places import Hours, Place, distance_m, load_places

CONTENT = Path(__file__).resolve().parents[2] / "content"
CATEGORIES = {"palace_history", "hallyu", "shopping", "food", "beauty_medical", "nature_park", "museum_culture",
              "nightlife_view", "family_theme"}


def seoul(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SEOUL)


def place(hours: Hours) -> Place:
    t = {"zh-CN": "x", "en": "x"}
    return Place("p", ("food",), {"zh-CN": "某地", "en": "Somewhere"}, (), t, 37.5, 127.0, t, t, hours, t, None, t,
                 {}, t, t, "src")


PALACE = Hours(open="09:00", close="18:00", seasons=((frozenset({6, 7, 8}), None, "18:30"),
                                                     (frozenset({11, 12, 1, 2}), None, "17:00")),
               last_entry_minutes=60, closed_weekdays=frozenset({"tue"}))


@pytest.mark.parametrize("when,state,until", [
    ("2026-05-01T08:59", "closed", "2026-05-01T09:00"),
    ("2026-05-01T09:00", "open", "2026-05-01T18:00"),
    ("2026-05-01T16:30", "open", "2026-05-01T18:00"),
    ("2026-05-01T17:05", "last_entry_passed", "2026-05-01T18:00"),
    ("2026-05-01T18:00", "closed", "2026-05-02T09:00"),
    ("2026-07-01T17:45", "last_entry_passed", "2026-07-01T18:30"),  # summer closes later
    ("2026-12-03T16:30", "last_entry_passed", "2026-12-03T17:00"),  # winter closes earlier
    ("2026-05-05T11:00", "closed_today", "2026-05-06T09:00"),  # Tuesday
    ("2026-05-04T19:00", "closed", "2026-05-06T09:00"),  # Monday evening: Tuesday is skipped
])
def test_palace_hours(when, state, until):
    status = place(PALACE).status(seoul(when))
    assert status.state == state
    assert status.until == seoul(until)


def test_night_market_open_past_midnight_and_closing_soon():
    market = place(Hours(open="20:00", close="05:00"))
    assert market.status(seoul("2026-05-01T23:00")).state == "open"
    assert market.status(seoul("2026-05-02T02:00")).until == seoul("2026-05-02T05:00")
    assert market.status(seoul("2026-05-02T04:30")).state == "closing_soon"
    assert market.status(seoul("2026-05-02T12:00")).state == "closed"


def test_status_is_computed_in_seoul_time_whatever_the_input_zone():
    from zoneinfo import ZoneInfo
    beijing_8am = datetime(2026, 5, 1, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # 09:30 in Seoul
    assert place(PALACE).status(beijing_8am).state == "open"


def test_always_open_and_unknown():
    assert place(Hours(always_open=True)).status(seoul("2026-05-01T03:00")).state == "always"
    assert place(Hours()).status(seoul("2026-05-01T03:00")).state == "unknown"


def test_haversine_distances():
    # Gyeongbokgung to N Seoul Tower: about 3.3 km as the crow flies.
    assert 3100 < distance_m(37.5799, 126.9768, 37.5512, 126.9882) < 3500
    assert distance_m(37.5, 127.0, 37.5, 127.0) == 0


def test_shipped_content_is_valid_and_nearest_is_sorted():
    places = load_places(CONTENT / "attractions.yaml", CATEGORIES)
    found = places.nearest(37.5636, 126.9827, limit=5)
    assert [d for _, d in found] == sorted(d for _, d in found)


ONE_PLACE = """\
checked: 2026-11-25
places:
  - id: gyeongbokgung
    categories: [palace_history]
    name: {zh-CN: 景福宫, en: Gyeongbokgung Palace, ko: 경복궁}
    aliases: [景福宮, gyeongbokgung]
    district: {zh-CN: 钟路区, en: Jongno-gu}
    location: {lat: 37.5799, lng: 126.9768}
    subway: {zh-CN: "3号线 景福宫站 5号出口", en: "Line 3 Gyeongbokgung Stn, Exit 5"}
    hours:
      text: {zh-CN: "09:00–18:00", en: "09:00–18:00"}
      open: "09:00"
      close: "18:00"
      closed_weekdays: [tue]
    closed: {zh-CN: 每周二, en: Tuesdays}
    admission: {krw: 3000, text: {zh-CN: "3,000 韩元", en: "KRW 3,000"}}
    tags: {zh-CN: [古宫], en: [palace]}
    summary: {zh-CN: 正宫。, en: The main palace.}
    tips: {zh-CN: 穿韩服免费。, en: Free in hanbok.}
    source: "test"
"""


def test_a_valid_place_loads(tmp_path):
    path = tmp_path / "attractions.yaml"
    path.write_text(ONE_PLACE)
    places = load_places(path, CATEGORIES)
    assert places.get("gyeongbokgung").hours.closed_weekdays == {"tue"}


@pytest.mark.parametrize("old,new,message,line", [
    ("id: gyeongbokgung", "id: Gyeongbok Gung", "places.0.id: id must be lower_snake", 3),
    ("categories: [palace_history]", "categories: [palaces]", "places.0.categories", 4),
    ('open: "09:00"', 'open: "9am"', "places.0.hours.open: expected a time HH:MM", 12),
    ("closed_weekdays: [tue]", "closed_weekdays: [tuesday]", "places.0.hours.closed_weekdays", 14),
    ("lat: 37.5799", "lat: 3.5799", "not in Korea", 8),
    ("en: Gyeongbokgung Palace, ", "", "places.0.name: missing en", 5),
    ('source: "test"', 'source: ""', "places.0.source", 20),
    ("      close: \"18:00\"\n", "", "give both open and close", 10),
])
def test_content_errors_name_file_line_and_key(tmp_path, old, new, message, line):
    assert old in ONE_PLACE
    path = tmp_path / "attractions.yaml"
    path.write_text(ONE_PLACE.replace(old, new))
    with pytest.raises(SourceError) as info:
        load_places(path, CATEGORIES)
    assert message in str(info.value) and str(path) in str(info.value)
    assert f"line {line}:" in str(info.value)


def test_duplicate_alias_across_places_is_refused(tmp_path):
    second = ONE_PLACE.split("places:\n")[1].replace("id: gyeongbokgung", "id: other_palace").replace(
        "景福宫, en: Gyeongbokgung Palace", "别的宫, en: Other Palace").replace("aliases: [景福宮, gyeongbokgung]",
                                                                            "aliases: [景福宮]")
    path = tmp_path / "attractions.yaml"
    path.write_text(ONE_PLACE + second)
    with pytest.raises(SourceError, match="already names 'gyeongbokgung'"):
        load_places(path, CATEGORIES)


SHIPPED = load_places(CONTENT / "attractions.yaml", CATEGORIES)
INDEX = PlaceIndex(SHIPPED, GenericWords.from_file(CONTENT / "generic_words.yaml", SHIPPED))


@pytest.mark.parametrize("text,place", [
    ("首尔塔", "n_seoul_tower"), ("南山塔", "n_seoul_tower"), ("N首尔塔", "n_seoul_tower"), ("南山首尔塔夜景", "n_seoul_tower"),
    ("首尔林", "seoul_forest"), ("首尔天空", "lotte_world_tower_seoul_sky"), ("景福功", "gyeongbokgung"),
    ("景福官怎么走", "gyeongbokgung"), ("江南", "gangnam_station_area"), ("gangnam", "gangnam_station_area"),
    ("国立中央博勿馆在哪", "national_museum_of_korea"),
])
def test_shipped_names_aliases_and_typos_still_find_their_place(text, place):
    found = INDEX.find(text)
    assert found and found[0].place_id == place


@pytest.mark.parametrize("text", ["首尔", "首尔哪里好玩", "首尔的夜景", "首尔天气", "首尔冷吗", "首尔站", "首尔市中心", "韩国",
                                  "韩国首尔好玩吗", "市中心", "seoul", "乐天超市", "首尔有什么景点"])
def test_a_city_district_or_generic_word_is_no_place(text):
    # "首尔" is one edit from 首尔塔 and 首尔林, "首尔天气" from 首尔天空: none of them is meant.
    assert INDEX.find(text) == []


def test_shipped_generic_words_name_no_place():
    names = {normalize(t) for p in SHIPPED for t in (*p.name.values(), *p.aliases)}
    generic = GenericWords.from_file(CONTENT / "generic_words.yaml", SHIPPED)
    assert "首尔" in generic.names and "韩国" in generic.names and not (generic.names & names)
