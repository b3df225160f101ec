"""Conversions across travelers' phrasings and currencies, and the rates providers' failure modes."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.devtools import sender as build
from bot.infra.keys import Keys
from bot.infra.redis_conn import connect
from bot.travel.money import MoneyParser, parse_amount
from bot.travel.rates import FileRatesProvider, HttpRatesProvider, Rates, RatesError, RateTable
from tests.conftest import WeChat

CONTENT = Path(__file__).resolve().parent.parent / "content"
PARSER = MoneyParser.from_file(CONTENT / "currencies.yaml")
KST = timezone(timedelta(hours=9))
TABLE = RateTable("KRW", datetime(2026, 11, 24, 16, 0, tzinfo=KST), "test source",
                  {"CNY": Decimal("190.5"), "USD": Decimal("1380"), "JPY": Decimal("9.12"), "HKD": Decimal("177.3"),
                   "TWD": Decimal("43.1"), "EUR": Decimal("1450.25")})


@pytest.mark.parametrize("text,value", [
    ("100", 100), ("一百", 100), ("两千五", 2500), ("3万5", 35000), ("1.5万", 15000), ("三千", 3000), ("十万", 100000),
    ("一万零五百", 10500), ("一百零五", 105), ("十五", 15), ("3千5百", 3500), ("35,000", 35000), ("1,234.5", Decimal("1234.5")),
    ("5w", 50000), ("2k", 2000), ("三万五千", 35000), ("两百万", 2000000), ("５０", 50),
])
def test_amounts(text, value):
    from bot.infra.text import fold
    assert parse_amount(fold(text)) == Decimal(value)


# (text, source, amount, {target: formatted result})
CASES = [
    ("100人民币换多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("100块换韩元", "CNY", 100, {"KRW": "19,050"}),
    ("5万韩元是多少钱", "KRW", 50000, {"CNY": "262.47"}),
    ("三千块能换多少", "CNY", 3000, {"KRW": "571,500"}),
    ("₩35,000", "KRW", 35000, {"CNY": "183.73"}),
    ("35000won", "KRW", 35000, {"CNY": "183.73"}),
    ("35000 won", "KRW", 35000, {"CNY": "183.73"}),
    ("1万日元", "JPY", 10000, {"KRW": "91,200", "CNY": "478.74"}),
    ("100美元", "USD", 100, {"KRW": "138,000", "CNY": "724.41"}),
    ("100能换多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("100换多少", "CNY", 100, {"KRW": "19,050"}),
    ("一百人民币等于多少韩元", "CNY", 100, {"KRW": "19,050"}),
    ("两千五人民币换韩币", "CNY", 2500, {"KRW": "476,250"}),
    ("3万5韩币多少人民币", "KRW", 35000, {"CNY": "183.73"}),
    ("1.5万韩元多少钱", "KRW", 15000, {"CNY": "78.74"}),
    ("１００元等于多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("10,000韓元是多少人民幣", "KRW", 10000, {"CNY": "52.49"}),
    ("我有两千五港币能换多少韩元", "HKD", 2500, {"KRW": "443,250"}),
    ("1000台币", "TWD", 1000, {"KRW": "43,100", "CNY": "226.25"}),
    ("50 USD to KRW", "USD", 50, {"KRW": "69,000"}),
    ("how much is 20000 won", "KRW", 20000, {"CNY": "104.99"}),
    ("200欧元换人民币", "EUR", 200, {"CNY": "1,522.57"}),
    ("100美金换多少人民币", "USD", 100, {"CNY": "724.41"}),
    ("五十万韩元", "KRW", 500000, {"CNY": "2,624.67"}),
    ("¥500换韩元", "CNY", 500, {"KRW": "95,250"}),
    ("500元人民币", "CNY", 500, {"KRW": "95,250"}),
    ("1000日币换多少韩币", "JPY", 1000, {"KRW": "9,120"}),
    ("3w韩币", "KRW", 30000, {"CNY": "157.48"}),
    ("20万韩元等于多少美元", "KRW", 200000, {"USD": "144.93"}),
    ("9900韩元", "KRW", 9900, {"CNY": "51.97"}),
    ("€100", "EUR", 100, {"KRW": "145,025", "CNY": "761.29"}),
    ("HK$300", "HKD", 300, {"KRW": "53,190", "CNY": "279.21"}),
    ("1 人民币", "CNY", 1, {"KRW": "191"}),  # 190.5 rounds half up to whole won
    ("0.5万人民币换韩币", "CNY", 5000, {"KRW": "952,500"}),
    ("两万日元能换多少人民币", "JPY", 20000, {"CNY": "957.48"}),
    ("一千二港币", "HKD", 1200, {"KRW": "212,760", "CNY": "1,116.85"}),
    ("十块钱等于多少韩元", "CNY", 10, {"KRW": "1,905"}),
    ("5000 yen", "JPY", 5000, {"KRW": "45,600", "CNY": "239.37"}),
    ("2 million won", "KRW", 2000000, {"CNY": "10,498.69"}),
    ("1.5k USD", "USD", 1500, {"KRW": "2,070,000", "CNY": "10,866.14"}),
    ("3 thousand yen", "JPY", 3000, {"KRW": "27,360", "CNY": "143.62"}),
]


@pytest.mark.parametrize("text,source,amount,expected", CASES, ids=[c[0] for c in CASES])
def test_conversions(text, source, amount, expected):
    query = PARSER.parse(text)
    assert query is not None and query.kind == "convert"
    assert (query.source, query.amount) == (source, Decimal(amount))
    results = {t: PARSER.currencies[t].format(TABLE.convert(query.amount, source, t)) for t in query.targets}
    assert results == expected


def test_at_least_forty_conversion_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("text,codes", [("汇率", ()), ("今天汇率多少", ()), ("美元汇率", ("USD",)),
                                        ("欧元兑韩元汇率", ("EUR",)), ("exchange rate", ()), ("換匯", ())])
def test_rate_questions(text, codes):
    query = PARSER.parse(text)
    assert query is not None and query.kind == "rate" and query.currencies == codes


@pytest.mark.parametrize("text", ["一日游多少钱", "乐天世界门票多少钱", "63大厦", "2号线怎么去", "wonderful day", "第二个", "a separate room",
                                  "景福宫几点开门", "两个人"])
def test_not_money(text):
    assert PARSER.parse(text) is None


# --- providers -------------------------------------------------------------------------------------
class RatesServer:
    """A JSON rates endpoint on 127.0.0.1 whose answer the test controls."""

    def __init__(self) -> None:
        self.status, self.body, self.hits = 200, b"", 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/rates.json"

    def serve(self, rates: dict, as_of: str = "2026-11-25T09:00:00+09:00", status: int = 200) -> None:
        self.status = status
        self.body = json.dumps({"base": "KRW", "as_of": as_of, "source": "Local test bank", "rates": rates}).encode()


@pytest.fixture
def rates_server():  # type: ignore[no-untyped-def]
    server = RatesServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.servers)])
def cache(request):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        return request.getfixturevalue("real_redis")
    client = connect(f"memory://rates-{id(request)}", 0.5)
    client.flushall()
    return client


def test_http_rates_are_cached_and_shared_by_workers(rates_server, cache):
    rates_server.serve({"CNY": 190.5})
    a = Rates(HttpRatesProvider(rates_server.url, 2), cache, Keys("wx"), ttl=600)
    b = Rates(HttpRatesProvider(rates_server.url, 2), cache, Keys("wx"), ttl=600)
    assert a.quote().table.rates["CNY"] == Decimal("190.5")
    assert b.quote().table.source == "Local test bank"
    assert rates_server.hits == 1


def test_failing_source_serves_last_good_rates_with_their_age(rates_server, cache):
    rates_server.serve({"CNY": 190.5})
    rates = Rates(HttpRatesProvider(rates_server.url, 2), cache, Keys("wx"), ttl=10)
    first = rates.quote()
    assert not first.stale
    # Age the cache past its TTL, then break the source in each way it can break.
    data = json.loads(cache.get(Keys("wx").rates()))
    data["fetched_at"] -= 7200
    cache.set(Keys("wx").rates(), json.dumps(data))
    for status, body in [(500, b"oops"), (200, b"not json"), (200, b'{"base": "KRW", "rates": {}}'),
                         (200, b'{"base":"KRW","as_of":"2026-11-25T09:00:00+09:00","source":"x","rates":{"CNY":-1}}')]:
        rates_server.status, rates_server.body = status, body
        cache.delete(Keys("wx").rates_lock())
        quote = rates.quote()
        assert quote.stale and quote.table.rates["CNY"] == Decimal("190.5")
        assert 7100 < quote.age_seconds() < 7300


def test_no_rates_at_all_is_none(rates_server, cache):
    rates_server.serve({}, status=503)
    assert Rates(HttpRatesProvider(rates_server.url, 2), cache, Keys("wx"), ttl=10).quote() is None


def test_unreachable_source_times_out_quickly(cache):
    rates = Rates(HttpRatesProvider("http://127.0.0.1:1/rates.json", 0.5), cache, Keys("wx"), ttl=10)
    assert rates.quote() is None


def test_rates_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "rates.yaml"
    path.write_text("base: KRW\nas_of: yesterday\nsource: x\nrates: {CNY: 190}\n")
    with pytest.raises(RatesError, match=r"rates.yaml, line 2: as_of"):
        FileRatesProvider(path).load()
    path.write_text("base: KRW\nas_of: '2026-11-25T09:00:00+09:00'\nsource: x\nrates: {CNY: abc}\n")
    with pytest.raises(RatesError, match=r"line 4: rates"):
        FileRatesProvider(path).load()
    path.write_text("base: KRW\nas_of: '2026-11-25T09:00:00'\nsource: x\nrates: {CNY: 190}\n")
    with pytest.raises(RatesError, match="offset"):
        FileRatesProvider(path).load()


def test_shipped_rates_file_is_valid():
    table = FileRatesProvider(CONTENT / "rates.yaml").load()
    assert table.base == "KRW" and table.source and "CNY" in table.rates


# --- through the webhook ----------------------------------------------------------------------------
def test_conversion_reply_always_shows_time_and_source(app_factory, rates_server, openid):
    rates_server.serve({"CNY": 190.5, "USD": 1380}, as_of="2026-11-25T09:00:00+09:00")
    app = app_factory(rates__url=rates_server.url, rates__provider="http")
    wx = WeChat(app)
    reply = wx.say(openid, "100人民币换多少韩币")["Content"]
    assert "19,050 韩元" in reply and "1 人民币 = 190.50 韩元" in reply
    assert "2026-11-25 09:00" in reply and "Local test bank" in reply
    reply = wx.say(openid, "汇率")["Content"]
    assert "1 美元 = 1,380.00 韩元" in reply and "Local test bank" in reply
    missing = wx.say(openid, "100欧元")["Content"]
    assert "没有欧元的汇率" in missing


def test_conversion_reply_when_the_source_is_down(app_factory, openid):
    app = app_factory(rates__url="http://127.0.0.1:1/rates.json", rates__provider="http",
                      rates__timeout_seconds=0.5)
    reply = WeChat(app).say(openid, "100人民币换多少韩币")["Content"]
    assert "取不到汇率" in reply and "19,050" not in reply


def test_shipped_reference_rate_is_labelled_as_not_live(wechat, openid):
    reply = wechat.reply(build.text(openid, "汇率"))["Content"]
    assert "参考汇率" in reply and "来源" in reply and "不是实时牌价" in reply
