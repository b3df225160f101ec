"""A fake of the Export-Import Bank of Korea's exchange-rate API on 127.0.0.1, answering like the real one
(../shared/reference/korea_open_data_apis.md §1): a bare JSON array of rows whose numbers are strings with
thousands separators, `[]` for a day with nothing published, one error row (`result` 2, 3 or 4, every other
field null) for a wrong data code, a wrong key, or the day's calls used up.

    with FakeExim(key="k", published={date(2026, 12, 4): ROWS_2026_12_04}) as exim:
        ...                                        # the provider calls exim.url + PATH
        exim.daily_limit = 3                       # the 4th call today answers result 4
        exim.fail(status=500)                      # the next call gets HTTP 500
"""
from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.devtools.local_server import LocalServer, QuietHandler, Served

PATH = "/site/program/financial/exchangeJSON"
_FIELDS = ("result", "cur_unit", "ttb", "tts", "deal_bas_r", "bkpr", "yy_efee_r", "ten_dd_efee_r", "kftc_bkpr",
           "kftc_deal_bas_r", "cur_nm")


def row(unit: str, name: str, base: str, ttb: str, tts: str) -> dict[str, Any]:
    """One published row, shaped as the bank writes it (book price: the integer part of the base rate)."""
    book = base.split(".")[0]
    return {"result": 1, "cur_unit": unit, "ttb": ttb, "tts": tts, "deal_bas_r": base, "bkpr": book,
            "yy_efee_r": "0", "ten_dd_efee_r": "0", "kftc_bkpr": book, "kftc_deal_bas_r": base, "cur_nm": name}


# The five rows of the reference's 2023 capture (korea_open_data_apis.md §1.4), as the bank wrote them.
CAPTURED = [row("CNH", "위안화", "186.32", "184.45", "188.18"),
            row("IDR(100)", "인도네시아 루피아", "8.84", "8.75", "8.92"),
            row("JPY(100)", "일본 옌", "946.31", "936.84", "955.77"), row("KRW", "한국 원", "1", "0", "0"),
            row("USD", "미국 달러", "1,317.5", "1,304.32", "1,330.67")]
# Test values, NOT real rates: more currencies in the same shape, for "every currency the source publishes".
TEST_EXTRA = [row("EUR", "유로", "1,430.45", "1,416.14", "1,444.75"),
              row("HKD", "홍콩 달러", "168.29", "166.61", "169.97"),
              row("THB", "태국 바트", "37.81", "37.43", "38.18")]
SAMPLE = sorted(CAPTURED + TEST_EXTRA, key=lambda r: r["cur_unit"])  # the bank lists them alphabetically


def _error(result: int) -> list[dict[str, Any]]:
    return [{name: (result if name == "result" else None) for name in _FIELDS}]


class FakeExim(Served):
    def __init__(self, key: str, published: dict[date, list[dict[str, Any]]] | None = None) -> None:
        self.key = key
        self.published = dict(published or {})
        self.daily_limit = 1000
        self.calls: list[dict[str, str]] = []
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._http = LocalServer(self._handler())

    def fail(self, status: int = 500) -> None:
        with self._lock:
            self._faults.append(status)

    def _answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.calls.append(query)
            if self._faults:
                return self._faults.pop(0), {"error": "injected"}
            if path != PATH:
                return 404, {"error": "not found"}
            if query.get("authkey") != self.key:
                return 200, _error(3)
            if query.get("data") != "AP01":
                return 200, _error(2)
            if len(self.calls) > self.daily_limit:
                return 200, _error(4)
            day = query.get("searchdate", "").replace("-", "")
            try:
                wanted = date(int(day[:4]), int(day[4:6]), int(day[6:8]))
            except ValueError:
                return 200, []
            return 200, self.published.get(wanted, [])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, payload = fake._answer(parts.path, query)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.respond(status, data, "application/json;charset=UTF-8")

        return Handler
