"""Crowds from Seoul's real-time city data, through a fake of its API over real HTTP: a reading cached with its
time, the key and quota errors, no data, an outage answered with the last value and its age, the scheduled
refresh serving what travelers asked about first and never spending past the day's share. Both back-ends."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest

from bot.devtools.fake_seoul_citydata import FakeSeoulCitydata
from bot.infra.clock import SEOUL, Clock
from bot.infra.keys import Keys
from bot.live import crowds
from bot.live.crowds import LIVE, NONE, STALE, CrowdReading, Crowds, HttpCitydata
from bot.live.store import LiveStore
from tests.support import WeChat, unreachable_redis

KEY = "5a4b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SEOUL)
MYEONGDONG, NAMSAN, PALACE = "명동 관광특구", "남산공원", "경복궁"


@pytest.fixture
def seoul() -> Iterator[FakeSeoulCitydata]:
    with FakeSeoulCitydata(KEY) as fake:
        fake.set(MYEONGDONG, "붐빔", "2026-12-05 09:45", low=56000, high=58000,
                 forecast=[("2026-12-05 10:00", "붐빔"), ("2026-12-05 11:00", "약간 붐빔"), ("2026-12-05 12:00", "보통")])
        fake.set(NAMSAN, "여유", "2026-12-05 09:45")
        fake.set(PALACE, "약간 붐빔", "2026-12-05 09:45")
        yield fake


@pytest.fixture
def store(backend) -> LiveStore:  # type: ignore[no-untyped-def]
    import fakeredis
    import redis

    if backend.name == "servers":
        client = redis.Redis.from_url(backend.redis_url)
        client.flushdb()
    else:
        client = fakeredis.FakeRedis()
    return LiveStore(client, Keys("wxtestcrowds"))


def _crowds(seoul: FakeSeoulCitydata, store: LiveStore, key: str = KEY, quota: int = 1000) -> Crowds:
    return Crowds(HttpCitydata(seoul.url, key), store, quota=quota, timeout=2.0)


@pytest.fixture
def crowds_app(app_factory, seoul):  # type: ignore[no-untyped-def]
    app = app_factory(live__seoul_key=KEY, live__seoul_citydata_url=seoul.url)
    app.extensions["yjy"].services.clock = Clock(NOW)
    return app


def _at(app: Any, when: datetime) -> None:
    app.extensions["yjy"].services.clock = Clock(when)


# --- the provider against the fake ----------------------------------------------------------------------------------
def test_a_reading_is_fetched_once_then_served_from_the_cache(seoul, store) -> None:  # type: ignore[no-untyped-def]
    service = _crowds(seoul, store)
    first = service.read(MYEONGDONG, NOW)
    assert first.state == LIVE and first.reading is not None
    assert (first.reading.level, first.reading.low, first.age_minutes(NOW)) == ("busy", 56000, 15)
    assert [f.level for f in first.upcoming(NOW)] == ["slightly_busy", "normal"]  # 10:00 is not "next"
    call, = seoul.calls
    assert (call.key, call.type, call.service, call.area, call.code) == (KEY, "json", "citydata", MYEONGDONG, "INFO-000")
    assert service.read(MYEONGDONG, NOW + timedelta(minutes=5)).reading == first.reading
    assert len(seoul.calls) == 1 and store.calls("seoul", "2026-12-05") == 1
    assert store.recently_asked("crowd", now=NOW.timestamp()) == [MYEONGDONG]  # the refresh serves it first


def test_the_quota_ours_or_the_sources_is_a_reason_never_a_figure(seoul, store) -> None:  # type: ignore[no-untyped-def]
    service = _crowds(seoul, store, quota=1)
    assert service.read(MYEONGDONG, NOW).state == LIVE
    refused = service.read(PALACE, NOW)
    assert (refused.state, refused.problem, refused.reading) == (NONE, "quota", None)
    assert len(seoul.calls) == 1  # our count said no: the source was not called

    seoul.daily_limit = 1  # the source's own limit: INFO-300
    other = _crowds(seoul, store)
    assert (other.read(NAMSAN, NOW).problem, seoul.calls[-1].code) == ("quota", "INFO-300")
    report = other.refresh([PALACE, NAMSAN], NOW + timedelta(minutes=10))
    assert report.fetched == [] and "quota is used up today" in report.stopped and len(seoul.calls) == 2
    assert other.refresh([PALACE], NOW + timedelta(days=1)).failed == {PALACE: "INFO-300"}  # a new day: tried again


def test_a_wrong_key_is_answered_in_xml_and_stops_the_refresh_for_an_hour(seoul, store) -> None:  # type: ignore[no-untyped-def]
    service = _crowds(seoul, store, key="wrong-key")
    assert service.read(MYEONGDONG, NOW).problem == "key"
    assert seoul.calls[-1].code == "INFO-100"
    report = service.refresh([PALACE, NAMSAN], NOW)
    assert "refused the key" in report.stopped and len(seoul.calls) == 1
    assert service.refresh([PALACE], NOW + timedelta(minutes=61)).failed == {PALACE: "INFO-100"}


def test_no_data_for_one_area_is_not_an_outage(seoul, store) -> None:  # type: ignore[no-untyped-def]
    service = _crowds(seoul, store)
    assert service.read("서촌", NOW).problem == "no_data"  # nothing served for it: INFO-200
    report = service.refresh(["서촌", MYEONGDONG, NAMSAN], NOW + timedelta(minutes=10))
    assert report.failed == {"서촌": "INFO-200"} and report.fetched == [MYEONGDONG, NAMSAN] and not report.stopped


def test_an_outage_leaves_the_last_value_with_its_age_and_stops_spending(seoul, store) -> None:  # type: ignore[no-untyped-def]
    service = _crowds(seoul, store)
    assert service.refresh([MYEONGDONG], NOW).fetched == [MYEONGDONG]
    seoul.fail(status=502)
    seoul.fail(drop=True)
    later = NOW + timedelta(hours=2)
    report = service.refresh([MYEONGDONG, NAMSAN, PALACE], later)
    assert report.fetched == [] and report.stopped.startswith("outage") and len(seoul.calls) == 3
    old = service.read(MYEONGDONG, later)
    assert (old.state, old.problem, old.reading.level if old.reading else None) == (STALE, "outage", "busy")
    assert old.age_minutes(later) == 135 and old.upcoming(later) == ()  # forecasts already past are not shown


# --- the schedule: asked first, within the day's share ---------------------------------------------------------------
AREAS = ["A", "B", "C", "D", "E", "F"]


class Instant:
    """A source that answers at once, counting calls: for the schedule's arithmetic over a whole day."""
    sample = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.now = NOW

    def fetch(self, area: str, timeout: float) -> CrowdReading:
        self.calls.append(area)
        return CrowdReading(area, "normal", self.now - timedelta(minutes=15))


def test_the_refresh_serves_asked_areas_first_then_the_oldest(store) -> None:  # type: ignore[no-untyped-def]
    source = Instant()
    service = Crowds(source, store, quota=10)  # 1 kept for travelers: 9 for the schedule
    at = datetime(2026, 12, 5, 23, 30, tzinfo=SEOUL)  # runs left today: 23:30, 23:40, 23:50
    store.asked("crowd", "C", now=at.timestamp() - 60)
    store.asked("crowd", "E", now=at.timestamp() - 30)
    store.asked("crowd", "elsewhere", now=at.timestamp())  # not one of our areas: never called
    runs = []
    for minutes in (0, 10, 20):
        source.now = at + timedelta(minutes=minutes)
        runs.append(service.refresh(AREAS, source.now))
    assert [r.budget for r in runs] == [3, 3, 3]
    assert [r.fetched for r in runs] == [["E", "C", "A"], ["E", "C", "B"], ["E", "C", "D"]]  # asked: every run
    assert store.calls("seoul", "2026-12-05") == 9
    spent = service.refresh(AREAS, at + timedelta(minutes=25))
    assert spent.budget == 0 and "today's share is spent (9 of 10 calls, 1 kept for travelers)" in spent.stopped
    quiet = service.refresh(AREAS, datetime(2026, 12, 6, 3, 0, tzinfo=SEOUL))
    assert quiet.budget == 0 and "quiet hours" in quiet.stopped


def test_a_whole_day_every_ten_minutes_stays_within_the_quota(store) -> None:  # type: ignore[no-untyped-def]
    source = Instant()
    service = Crowds(source, store, quota=1000)
    areas = [f"area{n}" for n in range(36)]  # as many as our places name
    midnight = datetime(2026, 12, 7, 0, 0, tzinfo=SEOUL)
    for run in range(144):
        source.now = midnight + timedelta(minutes=10 * run)
        service.refresh(areas, source.now)
    assert 850 <= len(source.calls) <= 900  # the schedule's share: 1,000 less the travelers' 10 %
    assert store.calls("seoul", "2026-12-07") == len(source.calls)


# --- through the chat ------------------------------------------------------------------------------------------------
def test_a_busy_place_says_now_its_age_the_next_hours_and_a_quieter_place(crowds_app, seoul, openid) -> None:  # type: ignore[no-untyped-def]
    crowds.of(crowds_app.extensions["yjy"].services).read(NAMSAN, NOW)  # a neighbour already cached
    reply = WeChat(crowds_app).say(openid, "明洞人多吗")["Content"]
    for part in ("明洞现在：很挤（周边约 56,000–58,000 人）", "接下来：11:00 有点挤 · 12:00 一般", "附近的N首尔塔",
                 "现在人少", "首尔市实时城市数据，09:45 的估算（15 分钟前）"):
        assert part in reply
    assert "示例" not in reply
    english = WeChat(crowds_app).say(openid, "is Gyeongbokgung crowded now")["Content"]
    assert "Gyeongbokgung Palace right now: slightly busy" in english and "(15 min ago)" in english


def test_an_outage_answers_the_last_reading_with_its_time_never_an_error(crowds_app, seoul, openid) -> None:  # type: ignore[no-untyped-def]
    wechat = WeChat(crowds_app)
    assert "现在：很挤" in wechat.say(openid, "明洞人多吗")["Content"]
    seoul.fail(status=500, times=2)
    later = NOW + timedelta(hours=3)
    service = crowds.of(crowds_app.extensions["yjy"].services)
    assert service.refresh([MYEONGDONG, NAMSAN], later).stopped.startswith("outage")
    _at(crowds_app, later)
    reply = wechat.say(openid, "明洞人多吗")["Content"]
    assert "明洞 09:45 时：很挤" in reply and "数据源暂时连不上" in reply and "3 小时前" in reply
    assert "不代表现在" in reply and "现在：" not in reply and "接下来" not in reply


def _card(wechat: WeChat, openid: str, text: str) -> str:
    reply = wechat.say(openid, text)
    assert isinstance(reply, dict)
    return str(reply["Articles"]["item"]["Description"])


def test_the_place_card_shows_a_crowd_line_only_from_a_fresh_reading(crowds_app, seoul, openid) -> None:  # type: ignore[no-untyped-def]
    wechat = WeChat(crowds_app)
    assert "人流" not in _card(wechat, openid, "明洞")  # nothing cached: the card never waits on it
    assert seoul.calls == []
    ext = crowds_app.extensions["yjy"]
    crowds.of(ext.services).refresh(crowds.hotspots_of(ext.content.places), NOW)  # asked first: 명동
    assert seoul.calls[0].area == MYEONGDONG
    assert "👥 现在人流：很挤（首尔市实时数据 09:45，15 分钟前）" in _card(wechat, openid, "明洞")
    assert "Crowds now: busy" in _card(wechat, openid, "Myeongdong opening hours")
    _at(crowds_app, NOW + timedelta(hours=2))
    assert "人流" not in _card(wechat, openid, "明洞")  # old: not on the card


def test_the_refresh_command_prints_what_it_did(crowds_app, seoul) -> None:  # type: ignore[no-untyped-def]
    result = crowds_app.test_cli_runner().invoke(args=["live", "refresh", "crowd"])
    assert result.exit_code == 0, result.output
    assert "crowd: budget 10 calls this run" in result.output and f"crowd: {PALACE} ok" in result.output
    assert "crowd: seoul calls today (2026-12-05): 10 of 1000" in result.output


def test_a_peek_reads_ahead_in_one_go_and_never_claims_or_spends(store) -> None:  # type: ignore[no-untyped-def]
    store.save("crowd", "POI014", {"level": "busy"}, fetched_at=1000.0)
    peek = store.peek([("crowd", "POI014"), ("crowd", "POI999")], asked=[("crowd", "POI014")], now=2000.0)
    assert peek.load("crowd", "POI014").data == {"level": "busy"} and peek.load("crowd", "POI999") is None
    assert store.recently_asked("crowd", now=2000.0) == ["POI014"]
    store.save("crowd", "POI015", {"level": "calm"})
    assert peek.load("crowd", "POI015").data == {"level": "calm"}  # not read ahead: read now
    assert peek.claim("crowd", "POI999") is False and peek.spend("seoul", 1000, "2026-12-05") is False
    assert store.calls("seoul", "2026-12-05") == 0

    gone = LiveStore(unreachable_redis(), store.keys)
    assert gone.peek([("crowd", "POI014")], asked=[("crowd", "POI014")]).load("crowd", "POI014") is None
