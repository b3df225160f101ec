"""Today's exchange rates from the Export-Import Bank of Korea (현재환율 API, `data=AP01`).

    provider = EximRatesProvider(url, key, timeout, store, quota, clock)
    table = provider.load(previous)   # KRW per unit of every currency the bank publishes, with TTB / TTS

What the bank answers (../shared/reference/korea_open_data_apis.md §1): a bare JSON array, one row per currency,
numbers as strings with thousands separators ("1,317.5"); `JPY(100)` and `IDR(100)` per 100 units; yuan as
`CNH`; HTTP 200 with `[]` on weekends, holidays and before ~11:00 KST; errors as one row with `result` 2 (bad
data code), 3 (bad or destroyed key) or 4 (the 1,000 calls a day used up). A day with nothing published keeps the
last business day's table (`previous`) without another call; with none at all it steps back a day at a time.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any, Callable

import requests

from bot.infra.clock import SEOUL
from bot.live.store import LiveStore
from bot.travel.rates import RatesError, RateTable

log = logging.getLogger(__name__)
SOURCE = "Korea Eximbank (韩国进出口银行) daily exchange rates, base rate (매매기준율) and wire TTB/TTS"
LABEL = "韩国进出口银行 / Korea Eximbank"
PUBLISHED = time(11, 0)  # rates appear around 11:00 KST on business days
LOOK_BACK_DAYS = 7  # a long holiday (Chuseok, Seollal) plus a weekend
STEP_BACK_SECONDS = 3.0  # an empty cache on a holiday: the days before today, within the reply's time
ERRORS = {2: "wrong data code (data=AP01 expected)", 3: "the key is wrong or was destroyed: apply for a new one",
          4: "the daily limit of calls is used up"}
ALIASES = {"CNH": "CNY"}  # the bank quotes offshore yuan; travelers hold CNY, the same rate for our purpose


def number(text: Any) -> Decimal | None:
    """ "1,317.5" -> 1317.5; "0", "" and None mean not quoted."""
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def parse(rows: Any, day: date) -> RateTable | None:
    """The bank's answer for `day` as a table; None when nothing was published; RatesError for an error row."""
    if not isinstance(rows, list):
        raise RatesError(f"Eximbank answered {type(rows).__name__}, not a list of rates")
    if not rows:
        return None
    result = rows[0].get("result") if isinstance(rows[0], dict) else None
    if result != 1:
        raise RatesError(f"Eximbank result {result}: {ERRORS.get(result, 'unknown error')}")  # type: ignore[arg-type]
    rates: dict[str, Decimal] = {}
    buy: dict[str, Decimal] = {}
    sell: dict[str, Decimal] = {}
    for row in rows:
        unit = str(row.get("cur_unit") or "").strip().upper()
        code, _, per = unit.partition("(")
        code = ALIASES.get(code, code)
        if len(code) != 3 or not code.isalpha() or code == "KRW":
            continue
        divisor = Decimal(per.rstrip(")")) if per else Decimal(1)  # JPY(100): won per 100 yen
        for target, field in ((rates, "deal_bas_r"), (buy, "ttb"), (sell, "tts")):
            value = number(row.get(field))
            if value is not None:
                target[code] = value / divisor
    if not rates:
        raise RatesError("Eximbank answered rows without a single base rate")
    return RateTable("KRW", datetime.combine(day, PUBLISHED, SEOUL), SOURCE, rates, buy, sell, LABEL)


class EximRatesProvider:
    remote = True  # refreshed by the job (1 call per refresh; 144 a day at 10 minutes), not in a request

    def __init__(self, url: str, key: str, timeout: float, store: LiveStore | None, quota: int,
                 now: Callable[[], datetime]) -> None:
        self.url, self.key, self.timeout = url, key, timeout
        self.store, self.quota, self.now = store, quota, now
        self.name = f"Eximbank {url}"
        self._http = requests.Session()

    def _day(self, day: date) -> Any:
        if self.store is not None and not self.store.spend("exim", self.quota, self.now().date().isoformat()):
            raise RatesError(f"Eximbank: our own count reached today's {self.quota} calls; not calling")
        try:
            answer = self._http.get(self.url, params={"authkey": self.key, "searchdate": f"{day:%Y%m%d}",
                                                      "data": "AP01"}, timeout=self.timeout,
                                    headers={"Accept": "application/json", "User-Agent": "yijiyou-seoul/1"})
            answer.raise_for_status()
            return answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise RatesError(f"Eximbank: {type(exc).__name__}") from None  # the URL carries the key: not logged

    def load(self, previous: RateTable | None = None) -> RateTable:
        today = self.now().astimezone(SEOUL).date()
        table = parse(self._day(today), today)
        if table is not None:
            return table
        if previous is not None and previous.source == SOURCE and previous.as_of.date() >= today - timedelta(
                days=LOOK_BACK_DAYS):
            return previous  # a weekend, a holiday, or before 11:00: the last business day's rates stand
        started = monotonic()
        for back in range(1, LOOK_BACK_DAYS + 1):
            if monotonic() - started > STEP_BACK_SECONDS:  # a traveler may be waiting: the job finishes it
                raise RatesError("Eximbank: stepping back to the last business day took too long; the job retries")
            day = today - timedelta(days=back)
            table = parse(self._day(day), day)
            if table is not None:
                return table
        raise RatesError(f"Eximbank published nothing in the last {LOOK_BACK_DAYS} days")
