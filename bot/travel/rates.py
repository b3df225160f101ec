"""Exchange rates: a provider (a YAML file or a JSON endpoint) behind a cache in Redis shared by all workers.

Rates are "units of the base (KRW) per one unit of each currency", always with the time the source
states and the source's name: a reply never shows a rate without both. When the provider fails the
last good rates are served with their age; with none at all the caller says so plainly.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import redis
import requests

from bot.infra import yamlfile
from bot.infra.clock import in_seoul
from bot.infra.keys import Keys
from bot.infra.yamlfile import SourceError

log = logging.getLogger(__name__)


REMOTE_STALE_SECONDS = 2 * 3600  # no refresh for this long: the reply says the rates could not be updated


class RatesError(Exception):
    """The provider could not produce a valid rate table (the message says why)."""


@dataclass(frozen=True)
class RateTable:
    base: str
    as_of: datetime
    source: str
    rates: dict[str, Decimal]
    # A bank's wire rates where the source gives them (Korea Eximbank's TTB / TTS): what a counter pays for
    # one unit (buy) and asks for it (sell), around the reference rate.
    buy: dict[str, Decimal] = field(default_factory=dict)
    sell: dict[str, Decimal] = field(default_factory=dict)
    label: str = ""  # the source in a few words, for the reply's short line ("" = `source`)

    def per_unit(self, code: str) -> Decimal | None:
        """Base units per one unit of `code` (1 for the base itself)."""
        return Decimal(1) if code == self.base else self.rates.get(code)

    def convert(self, amount: Decimal, source: str, target: str) -> Decimal | None:
        a, b = self.per_unit(source), self.per_unit(target)
        if a is None or b is None:
            return None
        return amount * a / b

    def to_json(self) -> str:
        return json.dumps({"base": self.base, "as_of": self.as_of.isoformat(), "source": self.source,
                           "rates": {k: str(v) for k, v in self.rates.items()},
                           "buy": {k: str(v) for k, v in self.buy.items()},
                           "sell": {k: str(v) for k, v in self.sell.items()}, "label": self.label})


def table_from(data: Any, where: str) -> RateTable:
    """Validate a {base, as_of, source, rates} mapping from a file or an endpoint."""
    if not isinstance(data, dict):
        raise RatesError(f"{where}: expected a mapping with base, as_of, source and rates")
    missing = [k for k in ("base", "as_of", "source", "rates") if not data.get(k)]
    if missing:
        raise RatesError(f"{where}: missing {', '.join(missing)}")
    try:
        as_of = data["as_of"] if isinstance(data["as_of"], datetime) else datetime.fromisoformat(str(data["as_of"]))
    except ValueError:
        raise RatesError(f"{where}: as_of is not an ISO time: {data['as_of']!r}") from None
    if as_of.tzinfo is None:
        raise RatesError(f"{where}: as_of needs a UTC offset (e.g. +09:00)")
    if not isinstance(data["rates"], dict):
        raise RatesError(f"{where}: rates must map currency codes to numbers")
    rates = _numbers(data["rates"], where, "rate")
    buy = _numbers(data.get("buy") or {}, where, "buying rate")
    sell = _numbers(data.get("sell") or {}, where, "selling rate")
    return RateTable(str(data["base"]).upper(), as_of, str(data["source"]), rates, buy, sell,
                     str(data.get("label") or ""))


def _numbers(values: Any, where: str, what: str) -> dict[str, Decimal]:
    if not isinstance(values, dict):
        raise RatesError(f"{where}: {what}s must map currency codes to numbers")
    out = {}
    for code, value in values.items():
        try:
            rate = Decimal(str(value))
        except InvalidOperation:
            raise RatesError(f"{where}: {what} for {code} is not a number: {value!r}") from None
        if not rate.is_finite() or rate <= 0:
            raise RatesError(f"{where}: {what} for {code} must be positive, got {value!r}")
        out[str(code).upper()] = rate
    return out


class RatesProvider(Protocol):
    name: str

    def load(self, previous: RateTable | None = None) -> RateTable:
        """A fresh table; `previous` is the last good one (a source with nothing new today may answer it)."""


class FileRatesProvider:
    """The YAML file the embedded default ships (`content/rates.yaml`) or `RATES_FILE`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path}"

    def load(self, previous: RateTable | None = None) -> RateTable:
        try:
            doc = yamlfile.load(self.path)
        except SourceError as exc:
            raise RatesError(str(exc)) from None
        try:
            return table_from(doc.data, str(self.path))
        except RatesError as exc:
            # Point the editor at the line: the key named in the message, else the top of the file.
            key = next((k for k in ("as_of", "rates", "source", "base") if k in str(exc)), "")
            raise RatesError(str(doc.error(key, str(exc).split(": ", 1)[1]))) from None


class StaticRatesProvider:
    """Fixed rates, as of a given time: what a replayed conversation fixture runs with."""

    def __init__(self, rates: dict[str, Decimal], as_of: datetime, source: str = "conversation fixture") -> None:
        self.table = RateTable("KRW", as_of, source, dict(rates))
        self.name = source

    def load(self, previous: RateTable | None = None) -> RateTable:
        return self.table


class HttpRatesProvider:
    """A JSON endpoint answering {"base": "KRW", "as_of": ..., "source": ..., "rates": {...}}."""

    remote = True  # refreshed by the job, not inside a traveler's request

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.name = f"http {url}"
        self._http = requests.Session()

    def load(self, previous: RateTable | None = None) -> RateTable:
        try:
            response = self._http.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise RatesError(f"{self.url}: {exc}") from None
        return table_from(data, self.url)


@dataclass(frozen=True)
class Quote:
    """Rates as served: the table, when this process got them, and whether they are stale."""

    table: RateTable
    fetched_at: float
    stale: bool  # the provider failed; these are the last good rates

    def age_seconds(self, now: float | None = None) -> float:
        return (now or time.time()) - self.fetched_at


class Rates:
    """Cached rates. One worker refreshes at a time; the others keep serving what is cached."""

    def __init__(self, provider: RatesProvider, client: redis.Redis, keys: Keys, ttl: int) -> None:
        self.provider = provider
        self.r = client
        self.keys = keys
        self.ttl = ttl
        self._parsed: tuple[bytes | str, tuple[RateTable, float]] | None = None  # the last cache entry read, parsed

    def _cached(self) -> tuple[RateTable, float] | None:
        raw = self.r.get(self.keys.rates())
        if not raw:
            return None
        if self._parsed and self._parsed[0] == raw:  # the same entry as last time: not parsed again
            return self._parsed[1]
        try:
            data = json.loads(raw)
            parsed = table_from(data["table"], "cache"), float(data["fetched_at"])
            self._parsed = (raw, parsed)
            return parsed
        except (ValueError, KeyError, TypeError, RatesError):
            log.warning("rates: unreadable cache entry ignored")
            return None

    def quote(self) -> Quote | None:
        """Fresh rates, or the last good ones marked stale, or None when there are none at all.

        A remote source (the Eximbank, a URL) is called here only when nothing is cached: the refresh job
        (`bot.jobs.refresh_rates`, every worker's maintenance pass) keeps the cache current, and a traveler
        never waits for a source that has an answer on file."""
        try:
            cached = self._cached()
        except redis.RedisError as exc:
            log.error("rates: cache unavailable: %s", exc)
            cached = None
        now = time.time()
        if cached and now - cached[1] < self.ttl:
            return Quote(cached[0], cached[1], stale=False)
        if cached and getattr(self.provider, "remote", False):  # the job's business; say so once it lags
            return Quote(cached[0], cached[1], stale=now - cached[1] > max(REMOTE_STALE_SECONDS, 3 * self.ttl))
        return self.refresh(cached)

    def yuan_estimate(self, krw: int) -> tuple[str, str]:
        """About how many yuan `krw` is at the rates served now, and that rate's day (Seoul): ("", "") without a
        yuan rate. What booking summaries and pages show beside a won price."""
        quote = self.quote()
        value = quote.table.convert(Decimal(krw), "KRW", "CNY") if quote is not None else None
        if quote is None or value is None:
            return "", ""
        return f"{value:,.0f}", f"{in_seoul(quote.table.as_of):%Y-%m-%d}"

    def refresh(self, cached: tuple[RateTable, float] | None = None) -> Quote | None:
        """Ask the provider now (the refresh job; a request with nothing cached); the last good rates, marked
        stale, when it fails."""
        now = time.time()
        if cached is None:
            try:
                cached = self._cached()
            except redis.RedisError:
                cached = None
        try:
            if cached and not self.r.set(self.keys.rates_lock(), b"1", nx=True, ex=30):
                return Quote(cached[0], cached[1], stale=False)  # another worker is refreshing
        except redis.RedisError:
            pass
        try:
            table = self.provider.load(cached[0] if cached else None)
        except RatesError as exc:
            log.warning("rates: %s failed: %s", self.provider.name, exc)
            return Quote(cached[0], cached[1], stale=True) if cached else None
        payload = json.dumps({"table": json.loads(table.to_json()), "fetched_at": now})
        try:
            # Kept well past the TTL: the last good rates are what a failing source falls back to.
            self.r.set(self.keys.rates(), payload, ex=max(self.ttl * 1000, 30 * 86400))
            self.r.delete(self.keys.rates_lock())
        except redis.RedisError as exc:
            log.error("rates: could not cache: %s", exc)
        return Quote(table, now, stale=False)
