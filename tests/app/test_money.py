"""Conversions across travelers' phrasings and currencies, and the rates providers' failure modes."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.devtools import sender as build
from bot.infra.keys import Keys
from bot.infra.redis_conn import connect
from bot.travel.rates import HttpRatesProvider, Rates
from tests.support import WeChat


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
