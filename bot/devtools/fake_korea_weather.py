"""A fake data.go.kr gateway on 127.0.0.1 for KMA (weather) and AirKorea (air): real HTTP, recorded calls.

Paths as the real services: `/1360000/VilageFcstInfoService_2.0/<op>` (getUltraSrtNcst, getUltraSrtFcst,
getVilageFcst) and `/B552584/ArpltnInforInqireSvc/<op>` (getCtprvnRltmMesureDnsty, getMsrstnAcctoRltmMesureDnsty).
Answers are the recorded samples of `content/live/`, relabelled with the base asked for, in JSON or XML as asked
(`dataType=XML`, `returnType=xml`), shaped as the reference documents them; a wrong `serviceKey` gets the gateway's
XML error 30 whatever was asked. Faults are injected per operation, in order:

    fake.fail("getVilageFcst", "quota")        # the gateway's XML LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS (22)
    fake.fail("getVilageFcst", "key")          # XML SERVICE_KEY_IS_NOT_REGISTERED_ERROR (30)
    fake.fail("getVilageFcst", "json_key")     # the same as JSON {"response":{"header":{"resultCode":"30"...}}}
    fake.fail("getUltraSrtNcst", "no_data")    # {"response":{"header":{"resultCode":"03","resultMsg":"NO_DATA"}}}
    fake.fail("getUltraSrtNcst", "empty")      # resultCode 00 with "items": "" and totalCount 0
    fake.fail("getCtprvnRltmMesureDnsty", "status", status=503)   # an HTTP error (an outage)
    fake.unpublished.add("0800")               # getVilageFcst base_time 0800 is not out yet: 03 NO_DATA
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from bot.devtools.local_server import LocalServer, QuietHandler, Served

KMA_PATH = "/1360000/VilageFcstInfoService_2.0"
AIRKOREA_PATH = "/B552584/ArpltnInforInqireSvc"
RECORDINGS = Path(__file__).resolve().parents[1] / "_data" / "content" / "live"
KEY = "fake-decoding-key+/=="  # a "Decoding" key has + / =: it must arrive percent-decoded exactly so

GATEWAY_ERROR = ("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>\n"
                 "<returnAuthMsg>{msg}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode>\n"
                 "</cmmMsgHeader></OpenAPI_ServiceResponse>")
QUOTA_MSG = "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"
KEY_MSG = "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"


@dataclass
class Call:
    operation: str
    query: dict[str, str]
    answered: str  # ok | no_data | empty | quota | key | json_key | status
    at: float = field(default_factory=time.time)


@dataclass
class _Fault:
    kind: str
    status: int = 200
    delay: float = 0.0


class FakeKoreaWeather(Served):
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.calls: list[Call] = []
        self.unpublished: set[str] = set()  # getVilageFcst / getUltraSrtNcst base_times answered 03 NO_DATA
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._http = LocalServer(self._handler_class())

    @property
    def kma_url(self) -> str:
        return self.base_url + KMA_PATH

    @property
    def airkorea_url(self) -> str:
        return self.base_url + AIRKOREA_PATH

    def fail(self, operation: str, kind: str, *, status: int = 503, delay: float = 0.0, times: int = 1) -> None:
        """The next `times` calls of `operation` get `kind` (quota, key, json_key, no_data, empty, status)."""
        with self._lock:
            self._faults.setdefault(operation, []).extend(_Fault(kind, status, delay) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._faults.clear()
            self.unpublished.clear()

    def calls_to(self, operation: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.operation == operation]

    # --- answers -------------------------------------------------------------------------------------------
    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, str]:
        """(HTTP status, content type, body) for one GET, recorded."""
        operation = path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            queue = self._faults.get(operation) or []
            fault = queue.pop(0) if queue else None
        if fault and fault.delay:
            time.sleep(fault.delay)  # an answer late enough for the caller's timeout
        kind = fault.kind if fault else "ok"
        if query.get("serviceKey") != self.key:
            kind = "key"
        elif kind == "ok" and query.get("base_time") in self.unpublished:
            kind = "no_data"
        xml = (query.get("dataType") or query.get("returnType") or "").lower() == "xml"
        with self._lock:
            self.calls.append(Call(operation, query, kind))
        if kind == "status":
            return (fault.status if fault else 503), "text/plain", "Service Unavailable"
        if kind in ("quota", "key"):  # the gateway's own error: XML whatever was asked
            code, msg = ("22", QUOTA_MSG) if kind == "quota" else ("30", KEY_MSG)
            return 200, "text/xml;charset=UTF-8", GATEWAY_ERROR.format(code=code, msg=msg)
        if kind == "json_key":
            return 200, "application/json;charset=UTF-8", json.dumps(
                {"response": {"header": {"resultCode": "30", "resultMsg": KEY_MSG}}})
        if kind == "no_data":
            if xml:
                return 200, "text/xml;charset=UTF-8", _xml_header("03", "NO_DATA")
            return 200, "application/json;charset=UTF-8", json.dumps(
                {"response": {"header": {"resultCode": "03", "resultMsg": "NO_DATA"}}})
        if kind == "empty":
            doc = {"response": {"header": {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"},
                                "body": {"dataType": "JSON", "items": "", "pageNo": 1, "numOfRows": 1000,
                                         "totalCount": 0}}}
            return 200, "application/json;charset=UTF-8", json.dumps(doc)
        doc = self._recorded(path, operation, query)
        if xml:
            return 200, "text/xml;charset=UTF-8", _to_xml(doc)
        return 200, "application/json;charset=UTF-8", json.dumps(doc, ensure_ascii=False)

    def _recorded(self, path: str, operation: str, query: dict[str, str]) -> dict[str, Any]:
        folder = "kma" if path.startswith(KMA_PATH) else "airkorea"
        name = operation if operation != "getUltraSrtFcst" else "getUltraSrtNcst"
        if operation == "getMsrstnAcctoRltmMesureDnsty":
            name = "getCtprvnRltmMesureDnsty"
        doc: dict[str, Any] = json.loads((RECORDINGS / folder / f"{name}.json").read_text(encoding="utf-8"))
        body = doc["response"]["body"]
        if folder == "kma":  # the recording, as the base and cell asked for
            for row in body["items"]["item"]:
                row.update(baseDate=query.get("base_date", row["baseDate"]),
                           baseTime=query.get("base_time", row["baseTime"]),
                           nx=int(query.get("nx", row["nx"])), ny=int(query.get("ny", row["ny"])))
        elif operation == "getMsrstnAcctoRltmMesureDnsty":
            body["items"] = [i for i in body["items"] if i["stationName"] == query.get("stationName")]
            body["totalCount"] = len(body["items"])
        return doc

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                if not (url.path.startswith(KMA_PATH) or url.path.startswith(AIRKOREA_PATH)):
                    status, ctype, body = 404, "text/plain", "not found"
                else:
                    status, ctype, body = fake.answer(url.path, query)
                data = body.encode("utf-8")
                self.respond(status, data, ctype)

        return Handler


def _xml_header(code: str, msg: str) -> str:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><response><header>"
            f"<resultCode>{code}</resultCode><resultMsg>{msg}</resultMsg></header></response>")


def _to_xml(doc: dict[str, Any]) -> str:
    """The provider's XML shape: <response><header/><body><items><item>...</item></items>...</body></response>."""
    header = doc["response"]["header"]
    body = doc["response"]["body"]
    items = body["items"]["item"] if isinstance(body["items"], dict) else body["items"]
    rows = "".join("<item>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in row.items() if v is not None)
                   + "</item>" for row in items)
    rest = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in body.items() if k != "items")
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><response><header>"
            f"<resultCode>{header['resultCode']}</resultCode><resultMsg>{header['resultMsg']}</resultMsg></header>"
            f"<body><items>{rows}</items>{rest}</body></response>")
