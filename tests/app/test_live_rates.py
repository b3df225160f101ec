"""Today's rates from the Export-Import Bank of Korea, through a fake of its API over real HTTP: every
currency it publishes converts both ways with the bank's counter rates, a weekend uses the last business day's
and says so, errors and the daily limit are answered without a made-up figure. Both back-ends."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator

import pytest

from bot.devtools.fake_exim import CAPTURED, PATH, SAMPLE, FakeExim, row
from bot.infra.clock import SEOUL, Clock
from bot.live.rates import EximRatesProvider, parse
from bot.live.store import LiveStore
from bot.travel.rates import RatesError
from tests.support import WeChat

FRIDAY, SATURDAY = date(2026, 12, 4), date(2026, 12, 5)
KEY = "exim-test-key-0123456789abcdef"


@pytest.fixture
def exim() -> Iterator[FakeExim]:
    with FakeExim(KEY, {FRIDAY: SAMPLE}) as fake:
        yield fake


@pytest.fixture
def rates_app(app_factory, exim):  # type: ignore[no-untyped-def]
    app = app_factory(live__exim_key=KEY, live__exim_url=exim.url + PATH)
    assert app.extensions["yjy"].config.rates.provider == "exim"  # chosen by the key alone
    return app


def _at(app: Any, day: date, hour: int = 14) -> None:
    app.extensions["yjy"].services.clock = Clock(datetime(day.year, day.month, day.day, hour, 0, tzinfo=SEOUL))


# --- the bank's answer, read ----------------------------------------------------------------------------
def test_rows_become_won_per_unit_of_each_currency() -> None:
    table = parse(CAPTURED, FRIDAY)
    assert table is not None and table.base == "KRW" and "KRW" not in table.rates
    assert table.rates["USD"] == Decimal("1317.5") and table.buy["USD"] == Decimal("1304.32")
    assert table.rates["CNY"] == Decimal("186.32")  # the bank's CNH, what travelers' yuan is worth
    assert table.rates["JPY"] == Decimal("9.4631") and table.sell["JPY"] == Decimal("9.5577")  # quoted per 100
    assert table.rates["IDR"] == Decimal("0.0884")
    assert table.as_of == datetime(2026, 12, 4, 11, 0, tzinfo=SEOUL)
    unquoted = parse([row("CHF", "스위스 프랑", "0", "0", "0"), *CAPTURED], FRIDAY)
    assert unquoted is not None and "CHF" not in unquoted.rates  # "0" is no rate, not a free franc
    assert parse([], SATURDAY) is None
    for result, words in ((2, "data code"), (3, "key"), (4, "daily limit")):
        with pytest.raises(RatesError, match=words):
            parse([{"result": result, "cur_unit": None, "deal_bas_r": None}], FRIDAY)


# --- the provider against the fake ---------------------------------------------------------------------
def test_a_weekend_steps_back_once_then_keeps_the_last_business_day(exim, real_or_fake_redis) -> None:  # type: ignore[no-untyped-def]
    saturday = datetime(2026, 12, 5, 14, 0, tzinfo=SEOUL)
    provider = EximRatesProvider(exim.url + PATH, KEY, 2.0, None, 1000, lambda: saturday)
    table = provider.load()
    assert table.as_of.date() == FRIDAY and [c["searchdate"] for c in exim.calls] == ["20261205", "20261204"]
    assert provider.load(table) is table and len(exim.calls) == 3  # one call: nothing new, Friday's stand


def test_errors_and_the_quota_are_reasons_never_rates(exim, real_or_fake_redis) -> None:  # type: ignore[no-untyped-def]
    friday = datetime(2026, 12, 4, 14, 0, tzinfo=SEOUL)
    with pytest.raises(RatesError, match="key"):
        EximRatesProvider(exim.url + PATH, "wrong-key", 2.0, None, 1000, lambda: friday).load()
    exim.fail(500)
    with pytest.raises(RatesError, match="HTTPError"):
        EximRatesProvider(exim.url + PATH, KEY, 2.0, None, 1000, lambda: friday).load()
    exim.daily_limit = len(exim.calls)
    with pytest.raises(RatesError, match="daily limit"):
        EximRatesProvider(exim.url + PATH, KEY, 2.0, None, 1000, lambda: friday).load()
    store = LiveStore(real_or_fake_redis, _keys())
    counted = EximRatesProvider(exim.url + PATH, KEY, 2.0, store, 1, lambda: friday)
    exim.daily_limit = 1000
    counted.load()
    before = len(exim.calls)
    with pytest.raises(RatesError, match="our own count"):
        counted.load()  # our count of today's calls says stop: the bank is not called again
    assert len(exim.calls) == before and store.calls("exim", "2026-12-04") == 1


# --- what travelers get ---------------------------------------------------------------------------------
def test_dollars_yen_and_yuan_convert_both_ways_with_the_counter_rates(rates_app, openid):
    _at(rates_app, FRIDAY)
    wx = WeChat(rates_app)
    usd = wx.say(openid, "100美元换多少韩元")["Content"]
    assert "131,750 韩元" in usd and "1 美元 = 1,317.50 韩元" in usd and "约得 1,304.32" in usd
    assert "2026-12-04 11:00" in usd and "韩国进出口银行" in usd and "最近营业日" not in usd
    won = wx.say(openid, "5万韩元是多少人民币")["Content"]
    assert "268.36 人民币" in won  # 50,000 / 186.32
    yen = wx.say(openid, "1000日元多少韩币")["Content"]
    assert "9,463 韩元" in yen and "1 日元 = 9.4631 韩元" in yen
    hkd = wx.say(openid, "100 HKD in KRW")["Content"]
    assert "16,829 won" in hkd and "Korea Eximbank" in hkd and "bank counter" in hkd


def test_on_a_saturday_the_answer_says_it_is_fridays_rate(rates_app, openid):
    _at(rates_app, SATURDAY)
    reply = WeChat(rates_app).say(openid, "汇率")["Content"]
    assert "1 美元 = 1,317.50 韩元" in reply and "最近营业日（周五）" in reply
    assert "1 泰铢" not in reply  # only the currencies the bot names are listed


def test_a_bank_that_is_down_leaves_the_last_rates_with_their_age_or_says_so(rates_app, exim, openid):
    _at(rates_app, FRIDAY)
    wx = WeChat(rates_app)
    exim.fail(500)
    assert "取不到汇率" in wx.say(openid, "100美元换多少韩元")["Content"]  # nothing cached, the bank down: no figure
    assert "131,750 韩元" in wx.say(openid, "100美元换多少韩元")["Content"]  # back: today's rates
    exim.fail(500)
    ext = rates_app.extensions["yjy"]
    with rates_app.app_context():
        from bot.jobs import refresh_rates

        assert "stale" in refresh_rates()  # the refresh job met the outage: the cache keeps the last good rates
    assert "131,750 韩元" in wx.say(openid, "100美元换多少韩元")["Content"]
    assert ext.rates.quote() is not None


def _keys():  # type: ignore[no-untyped-def]
    from bot.infra.keys import Keys

    return Keys("wxtestlive")


@pytest.fixture
def real_or_fake_redis(backend):  # type: ignore[no-untyped-def]
    import fakeredis
    import redis

    if backend.name == "servers":
        client = redis.Redis.from_url(backend.redis_url)
        client.flushdb()
        return client
    return fakeredis.FakeRedis()


def test_other_currencies_the_bank_publishes_answer_when_named(rates_app, openid):
    _at(rates_app, FRIDAY)
    wx = WeChat(rates_app)
    baht = wx.say(openid, "100泰铢换多少韩元")["Content"]
    assert "3,781 韩元" in baht and "1 泰铢 = 37.81 韩元" in baht  # the fake's THB test value
    assert "暂时没有英镑的汇率" in wx.say(openid, "英镑汇率")["Content"]  # not in this answer: said, not guessed
    assert "没有新台币的汇率" in wx.say(openid, "100台币换多少韩元")["Content"]  # the bank does not publish TWD
