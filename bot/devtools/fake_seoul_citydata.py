"""A fake of Seoul's real-time city data API (citydata) on 127.0.0.1, answering like the real one
(../shared/reference/korea_open_data_apis.md §4): GET /{KEY}/{TYPE}/citydata/{START}/{END}/{AREA_NM}, a JSON
envelope whose success keys carry a literal dot (RESULT.CODE), flat-key errors ({"RESULT":{"CODE":"INFO-200",...}}),
and a wrong key answered as XML even for /json/.

    with FakeSeoulCitydata(key="k") as seoul:            # serves content/live/seoul_citydata.yaml's answers
        seoul.set("명동 관광특구", "붐빔", "2026-12-05 09:50")   # ... or this area's answer, shaped the same
        seoul.daily_limit = 3                             # the 4th call today answers INFO-300
        seoul.fail(status=500)                            # the next call gets HTTP 500 (or code="ERROR-500",
        seoul.fail(drop=True)                             #  a dropped connection, delay=2.0 a late answer)
        seoul.calls                                       # what was asked: [Call(key, type, service, area, ...)]
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from bot.devtools.local_server import LocalServer, QuietHandler, Served

RECORDED = Path(__file__).resolve().parents[1] / "_data" / "content" / "live" / "seoul_citydata.yaml"
SERVICES = ("citydata", "citydata_ppltn")
MESSAGES = {  # the Seoul Open API's own wording (reference §4.4)
    "INFO-000": "정상 처리되었습니다.",
    "INFO-100": "인증키가 유효하지 않습니다. 인증키가 없는 경우, 열린 데이터 광장 홈페이지에서 인증키를 신청하십시오.",
    "INFO-200": "해당하는 데이터가 없습니다.",
    "INFO-300": "유효 호출건수를 이미 초과하셨습니다.",
    "ERROR-301": "파일타입 값이 누락 혹은 유효하지 않습니다. 요청인자 중 TYPE을 확인하십시오.",
    "ERROR-310": "해당하는 서비스를 찾을 수 없습니다. 요청인자 중 SERVICE를 확인하십시오",
    "ERROR-334": "요청종료위치 보다 요청시작위치가 더 큽니다. 요청시작조회건수는 정수를 입력하세요.",
    "ERROR-500": "서버 오류입니다. 지속적으로 발생시 열린 데이터 광장으로 문의(Q&A) 바랍니다.",
}
LEVEL_MESSAGES = {  # AREA_CONGEST_MSG per level, as the recorded answers carry them
    "여유": "사람이 몰려있을 가능성이 낮고 붐빔은 거의 느껴지지 않아요. 도보 이동이 자유로워요.",
    "보통": "사람이 몰려있을 수 있지만 크게 붐비지는 않아요. 도보 이동에 큰 제약이 없어요.",
    "약간 붐빔": "사람들이 몰려있을 가능성이 크고 붐빈다고 느낄 수 있어요. "
             "인구밀도가 높은 구간에서는 도보 이동시 부딪힘이 발생할 수 있어요.",
    "붐빔": "사람들이 몰려있을 가능성이 매우 크고 많이 붐빈다고 느낄 수 있어요. "
          "인구밀도가 높은 구간에서는 도보 이동시 부딪힘이 발생할 수 있어요.",
}


def answer(area: str, level: str, when: str, *, low: int = 10000, high: int = 12000, code: str = "",
           forecast: list[tuple[str, str]] | None = None) -> str:
    """A success body shaped exactly like the recorded ones (`when`: PPLTN_TIME, "YYYY-MM-DD HH:MM" KST;
    `forecast`: [(FCST_TIME, FCST_CONGEST_LVL)])."""
    live = {"AREA_NM": area, "AREA_CD": code, "AREA_CONGEST_LVL": level, "AREA_CONGEST_MSG": LEVEL_MESSAGES[level],
            "AREA_PPLTN_MIN": str(low), "AREA_PPLTN_MAX": str(high), "MALE_PPLTN_RATE": "47.1",
            "FEMALE_PPLTN_RATE": "52.9", "RESNT_PPLTN_RATE": "21.4", "NON_RESNT_PPLTN_RATE": "78.6",
            "REPLACE_YN": "N", "PPLTN_TIME": when, "FCST_YN": "Y" if forecast else "N",
            "FCST_PPLTN": [{"FCST_TIME": t, "FCST_CONGEST_LVL": lv, "FCST_PPLTN_MIN": str(low),
                            "FCST_PPLTN_MAX": str(high)} for t, lv in forecast or []]}
    ok = {"RESULT.CODE": "INFO-000", "RESULT.MESSAGE": MESSAGES["INFO-000"]}
    return json.dumps({"list_total_count": 1, "RESULT": ok,
                       "CITYDATA": {"AREA_NM": area, "AREA_CD": code, "LIVE_PPLTN_STTS": [live]}},
                      ensure_ascii=False, separators=(",", ":"))


def error_json(code: str) -> str:
    return json.dumps({"RESULT": {"CODE": code, "MESSAGE": MESSAGES.get(code, "")}}, ensure_ascii=False)


def error_xml(code: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<RESULT>\n<CODE>{code}</CODE>\n'
            f"<MESSAGE><![CDATA[{MESSAGES.get(code, '')}]]></MESSAGE>\n</RESULT>")


@dataclass
class Call:
    key: str
    type: str
    service: str
    area: str
    at: float = field(default_factory=time.time)
    status: int = 0
    code: str = ""  # the result code answered (INFO-000 ...), "" for an HTTP error or a dropped connection


@dataclass
class _Fault:
    status: int = 200
    code: str = ""
    xml: bool = False
    delay: float = 0.0
    drop: bool = False


class FakeSeoulCitydata(Served):
    def __init__(self, key: str = "test-seoul-key", recorded: Path = RECORDED) -> None:
        self.key = key
        self.daily_limit = 1_000_000
        self.calls: list[Call] = []
        self.answers: dict[str, str] = dict(yaml.safe_load(recorded.read_text(encoding="utf-8"))["answers"])
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._http = LocalServer(self._handler())

    # --- test controls ----------------------------------------------------------------------------------------
    def set(self, area: str, level: str, when: str, **kwargs: Any) -> None:
        """Answer `area` with this level at PPLTN_TIME `when` from now on."""
        with self._lock:
            self.answers[area] = answer(area, level, when, **kwargs)

    def fail(self, *, status: int = 200, code: str = "", xml: bool = False, delay: float = 0.0,
             drop: bool = False, times: int = 1) -> None:
        """The next call(s): an HTTP status, a result code (JSON, or XML), a late answer, or a dropped connection."""
        with self._lock:
            self._faults.extend(_Fault(status, code, xml, delay, drop) for _ in range(times))

    def areas_called(self) -> list[str]:
        with self._lock:
            return [c.area for c in self.calls]

    # --- behaviour --------------------------------------------------------------------------------------------
    def _respond(self, path: str) -> tuple[int, str, str, _Fault | None]:
        parts = [unquote(p) for p in urlsplit(path).path.split("/")[1:]]
        key, kind, service, start, end, area = (parts + [""] * 6)[:6]
        call = Call(key, kind, service, area)
        with self._lock:
            self.calls.append(call)
            fault = self._faults.pop(0) if self._faults else None
            over = sum(1 for c in self.calls if c.key == key) > self.daily_limit
            body = self.answers.get(area)
        status, code, text = 200, "INFO-000", body or ""
        if fault and (fault.status != 200 or fault.drop):
            status, code, text = fault.status, "", "<html><body>Service Unavailable</body></html>"
        elif fault and fault.code:
            code = fault.code
        elif key != self.key:
            code = "INFO-100"  # a wrong key: XML even for /json/ (reference §4.4)
        elif kind not in ("json", "xml"):
            code = "ERROR-301"
        elif service not in SERVICES:
            code = "ERROR-310"
        elif not (start.isdigit() and end.isdigit()) or int(start) > int(end):
            code = "ERROR-334"
        elif over:
            code = "INFO-300"
        elif body is None:
            code = "INFO-200"
        if code and code != "INFO-000":
            text = error_xml(code) if code == "INFO-100" or (fault and fault.xml) else error_json(code)
        call.status, call.code = status, code
        return status, code, text, fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, code, text, fault = fake._respond(self.path)
                if fault and fault.drop:
                    self.connection.close()  # the source hung up: the caller sees a connection error
                    return
                if fault and fault.delay:
                    time.sleep(fault.delay)
                data = text.encode("utf-8")
                self.respond(status, data, "application/xml;charset=UTF-8" if text.startswith("<?xml")
                             else "application/json;charset=UTF-8")

        return Handler
