"""The data.go.kr gateway that serves KMA (weather) and AirKorea (air): one call, every answer shape it has.

The gateway answers HTTP 200 for its errors, and for key or quota problems in XML even when JSON was asked
(`OpenAPI_ServiceResponse` / `returnReasonCode`); the providers behind it answer JSON (`response.header.resultCode`)
or XML (`<response><header>...`) with rows under `items.item` (KMA) or `items` (AirKorea), and `"items": ""` when
there are none. `call()` spends one call of the source's daily quota first, then turns all of that into rows or
a `GatewayError` with the code (22 quota, 30 key, 03 no data ...).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.live.store import LiveError, LiveStore

log = logging.getLogger(__name__)

OK = {"00", "0000"}
NO_DATA = "03"
QUOTA = {"22", "23"}  # daily quota used up / too many per second
KEY = {"20", "30", "31"}  # no access, key not registered (or sent double-encoded), key expired


class GatewayError(LiveError):
    """The gateway or the provider answered an error code (`code`, e.g. "22"), or nothing readable ("")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code or 'bad answer'}: {message}")
        self.code = code

    @property
    def kind(self) -> str:
        """quota | key | no_data | error: what the traveler's answer and the log say."""
        return ("quota" if self.code in QUOTA else "key" if self.code in KEY
                else "no_data" if self.code == NO_DATA else "error")


@dataclass(frozen=True)
class Budget:
    """What a call may spend: the source's name and daily quota, the day (KST) it counts against, a timeout."""

    source: str
    quota: int
    day: str
    timeout: float


def call(url: str, params: dict[str, Any], store: LiveStore, budget: Budget) -> list[dict[str, Any]]:
    """The rows of one gateway call (quota spent first: no count, no call). A new connection per call: a refresh
    makes a few calls, a traveler's request at most four."""
    if not store.spend(budget.source, budget.quota, budget.day):
        raise GatewayError("22", f"{budget.source}: our count of today's calls reached the quota ({budget.quota})")
    try:
        response = requests.get(url, params=params, timeout=budget.timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise LiveError(f"{budget.source}: {type(exc).__name__}: {exc}") from None
    return rows(response.content)


def rows(body: bytes | str) -> list[dict[str, Any]]:
    """Rows of a gateway answer in any of its shapes, or `GatewayError` (NO_DATA when `items` is empty)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff").strip()
    if text.startswith("<"):
        return _xml_rows(text)
    try:
        doc = json.loads(text)
    except ValueError:
        raise GatewayError("", f"neither JSON nor XML: {text[:80]!r}") from None
    response = doc.get("response") if isinstance(doc, dict) else None
    if not isinstance(response, dict):
        raise GatewayError("", "no 'response' object")
    header = response.get("header") or {}
    code = str(header.get("resultCode", ""))
    if code not in OK:
        raise GatewayError(code, str(header.get("resultMsg", "")))
    items = (response.get("body") or {}).get("items")
    if isinstance(items, dict):  # KMA: items.item[]; one row may come as an object
        items = items.get("item")
    if isinstance(items, dict):
        items = [items]
    if not items:  # "", null, [] or absent: no rows
        raise GatewayError(NO_DATA, "no rows")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise GatewayError("", "items is not a list of rows")
    return items


def _xml_rows(text: str) -> list[dict[str, Any]]:
    try:
        root = fromstring(text)
    except (ParseError, DefusedXmlException) as exc:
        raise GatewayError("", f"unreadable XML: {exc}") from None
    if root.tag == "OpenAPI_ServiceResponse":  # the gateway's own error, whatever dataType was asked
        header = root.find("cmmMsgHeader")
        code = _text(header, "returnReasonCode")
        raise GatewayError(code, _text(header, "returnAuthMsg") or _text(header, "errMsg"))
    code = _text(root.find("header"), "resultCode")
    if code not in OK:
        raise GatewayError(code, _text(root.find("header"), "resultMsg"))
    found = root.findall("body/items/item")
    if not found:
        raise GatewayError(NO_DATA, "no rows")
    return [{child.tag: child.text for child in item} for item in found]


def _text(parent: Element | None, tag: str) -> str:
    node = parent.find(tag) if parent is not None else None
    return (node.text or "").strip() if node is not None else ""
