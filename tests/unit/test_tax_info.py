"""Tax refund band edges and estimates; info cards and their pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.yamlfile import SourceError
from bot.travel.info import Topics, load_topic
from bot.travel.tax import load_tax_rules

CONTENT = Path(__file__).resolve().parents[2] / "content"

RULES = load_tax_rules(CONTENT / "tax_refund.yaml")


@pytest.mark.parametrize("amount,kind,refund", [
    (14999, "below_minimum", None), (15000, "estimate", None), (29999, "estimate", None),
    (30000, "band", 1500), (49999, "band", 1500), (50000, "band", 3500), (74999, "band", 3500),
    (75000, "band", 5000), (99999, "band", 5000), (100000, "band", 6000), (224999, "band", 12000),
    (225000, "estimate", None), (250000, "band", 16000), (274999, "band", 16000), (275000, "estimate", None),
])
def test_band_edges(amount, kind, refund):
    estimate = RULES.estimate(amount)
    assert estimate.kind == kind
    if refund is not None:
        assert estimate.band.refund == refund


def test_estimates_never_contradict_neighbouring_published_bands():
    low_band = RULES.estimate(29999)  # the next band up pays 1,500: an estimate may not exceed it
    assert low_band.high <= 1500 and low_band.low <= low_band.high
    gap = RULES.estimate(240000)  # between 12,000 and 16,000
    assert 12000 <= gap.low <= gap.high <= 16000
    top = RULES.estimate(1_000_000)
    assert top.low >= 16000 and top.high >= top.low


def test_immediate_refund_limit():
    assert RULES.estimate(999_999).immediate_ok
    assert not RULES.estimate(1_000_000).immediate_ok


def test_bands_must_be_contiguous(tmp_path):
    text = (CONTENT / "tax_refund.yaml").read_text().replace("{from: 50000, to: 74999", "{from: 50001, to: 74999")
    path = tmp_path / "tax_refund.yaml"
    path.write_text(text)
    with pytest.raises(SourceError, match="contiguous"):
        load_tax_rules(path)


def test_info_topics_load_and_route_words():
    topics = Topics.from_dir(CONTENT / "info")
    assert {"visa", "emergency", "exchange", "payments", "transit", "sim"} <= set(topics.items)
    assert topics.find("去韩国要签证吗") == "visa"
    assert topics.find("报警电话是多少") == "emergency"
    assert topics.find("能用支付宝吗") == "payments"
    assert topics.find("景福宫几点开门") is None


def test_info_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "visa.yaml"
    path.write_text("id: visa\nchecked: 2026-11-25\nwords: [签证]\ntitle: {zh-CN: 签证}\nsummary: {zh-CN: a, en: b}\n"
                    "sections:\n  - {heading: {zh-CN: a, en: a}, body: {zh-CN: b, en: b}, source: s}\n")
    with pytest.raises(SourceError) as info:
        load_topic(path)
    assert "visa.yaml, line 4: title" in str(info.value)
    other = tmp_path / "visa2.yaml"
    other.write_text("id: visa\n")
    with pytest.raises(SourceError, match="file name"):
        load_topic(other)


@pytest.mark.parametrize("chat", ["chat: hello\n", "chat: {zh-CN: [a], en: []}\n", "chat: {zh-CN: [a, ''], en: [b]}\n",
                                  "chat: {zh-CN: [a]}\n"])
def test_tax_chat_lines_are_checked_with_file_and_line(tmp_path, chat):
    shipped = (CONTENT / "tax_refund.yaml").read_text(encoding="utf-8")
    start, end = shipped.index("\nchat:\n") + 1, shipped.index("\nnotes:\n") + 1
    path = tmp_path / "tax_refund.yaml"
    path.write_text(shipped[:start] + chat + shipped[end:], encoding="utf-8")
    line = shipped[:start].count("\n") + 1
    if chat == "chat: {zh-CN: [a], en: []}\n":
        assert load_tax_rules(path).chat == {"zh-CN": ("a",), "en": ()}  # no lines is allowed
        return
    with pytest.raises(SourceError) as info:
        load_tax_rules(path)
    assert f"tax_refund.yaml, line {line}: chat: expected" in str(info.value)
