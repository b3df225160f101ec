"""Tax refund (退税) estimates from the band table in `content/tax_refund.yaml`.

Operators refund a fixed amount per price band, not 10 %. Bands without a published amount are
answered as an estimate range, clearly labelled, never as a figure we do not have.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.infra import yamlfile

Text = dict[str, str]


@dataclass(frozen=True)
class Band:
    low: int
    high: int | None  # None: no upper end
    refund: int | None  # None: no source gives the amount


@dataclass(frozen=True)
class Estimate:
    kind: str  # below_minimum | band | estimate
    amount_krw: int
    band: Band | None = None
    low: int | None = None  # estimate range, KRW
    high: int | None = None
    immediate_ok: bool = False  # can be refunded at the till


@dataclass(frozen=True)
class TaxRules:
    checked: str
    source: str
    min_purchase_krw: int
    min_purchase_note: Text
    immediate_max_per_purchase_krw: int
    immediate_max_per_trip_krw: int
    immediate_note: Text
    bands: tuple[Band, ...]
    estimate_rate: tuple[float, float] | None
    estimate_source: str
    claim: dict[str, Text]
    notes: tuple[Text, ...]
    chat: dict[str, tuple[str, ...]]  # short lines for the chat answer, per language; the page has the rest

    def estimate(self, amount_krw: int) -> Estimate:
        immediate = amount_krw <= self.immediate_max_per_purchase_krw
        if amount_krw < self.min_purchase_krw:
            return Estimate("below_minimum", amount_krw)
        band = next((b for b in self.bands if b.low <= amount_krw and (b.high is None or amount_krw <= b.high)), None)
        if band and band.refund is not None:
            return Estimate("band", amount_krw, band, immediate_ok=immediate)
        low = high = None
        if self.estimate_rate:
            low, high = (int(round(amount_krw * r, -2)) for r in self.estimate_rate)
            # Never promise more than a bigger purchase's published refund, nor less than a smaller one's.
            below = [b.refund for b in self.bands
                     if b.refund is not None and b.high is not None and b.high < amount_krw]
            above = [b.refund for b in self.bands if b.refund is not None and b.low > amount_krw]
            floor, ceiling = (max(below) if below else 0), (min(above) if above else None)
            low, high = max(low, floor), max(high, floor)
            if ceiling is not None:
                low, high = min(low, ceiling), min(high, ceiling)
        return Estimate("estimate", amount_krw, band, low, high, immediate)


def _int(doc: yamlfile.Located, value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise doc.error(path, f"expected a whole number of won, got {value!r}")
    return value


def load_tax_rules(path: Path) -> TaxRules:
    doc = yamlfile.load(path)
    d = doc.data
    if not isinstance(d, dict):
        raise doc.error("", "expected a mapping")
    raw_bands = d.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        raise doc.error("bands", "expected a list of {from, to, refund}")
    bands: list[Band] = []
    for i, b in enumerate(raw_bands):
        p = f"bands.{i}"
        if not isinstance(b, dict):
            raise doc.error(p, "expected {from, to, refund}")
        low = _int(doc, b.get("from"), f"{p}.from")
        high = None if b.get("to") is None else _int(doc, b.get("to"), f"{p}.to")
        refund = None if b.get("refund") is None else _int(doc, b.get("refund"), f"{p}.refund")
        if bands and (bands[-1].high is None or low != bands[-1].high + 1):
            raise doc.error(p, f"bands must be contiguous: expected from {bands[-1].high and bands[-1].high + 1}")
        if high is not None and high < low:
            raise doc.error(f"{p}.to", "to must not be below from")
        bands.append(Band(low, high, refund))
    immediate = d.get("immediate") or {}
    rate = d.get("estimate_rate")
    estimate = None
    if rate is not None:
        if not isinstance(rate, dict) or not 0 < float(rate.get("low", 0)) <= float(rate.get("high", 0)) < 0.1:
            raise doc.error("estimate_rate", "expected {low, high, source} with 0 < low <= high < 0.1")
        estimate = (float(rate["low"]), float(rate["high"]))
    claim = d.get("claim")
    if not isinstance(claim, dict) or not claim:
        raise doc.error("claim", "expected where to claim: shop, downtown, airport")
    return TaxRules(
        checked=str(d.get("checked") or ""), source=str(d.get("source") or ""),
        min_purchase_krw=_int(doc, d.get("min_purchase_krw"), "min_purchase_krw"),
        min_purchase_note=doc.texts(d.get("min_purchase_note"), "min_purchase_note"),
        immediate_max_per_purchase_krw=_int(doc, immediate.get("max_per_purchase_krw"),
                                            "immediate.max_per_purchase_krw"),
        immediate_max_per_trip_krw=_int(doc, immediate.get("max_per_trip_krw"), "immediate.max_per_trip_krw"),
        immediate_note=doc.texts(immediate.get("note"), "immediate.note"),
        bands=tuple(bands), estimate_rate=estimate, estimate_source=str((rate or {}).get("source", "")),
        claim={k: doc.texts(v, f"claim.{k}") for k, v in claim.items()},
        notes=tuple(doc.texts(n, f"notes.{i}") for i, n in enumerate(d.get("notes") or [])),
        chat=_lines(doc, d.get("chat"), "chat"),
    )


def _lines(doc: yamlfile.Located, value: Any, path: str) -> dict[str, tuple[str, ...]]:
    ok = isinstance(value, dict) and all(
        isinstance(value.get(k), list) and all(isinstance(line, str) and line.strip() for line in value[k])
        for k in ("zh-CN", "en"))
    if not ok:
        raise doc.error(path, "expected {zh-CN: [short lines], en: [short lines]}")
    return {k: tuple(line.strip() for line in v) for k, v in value.items()}
