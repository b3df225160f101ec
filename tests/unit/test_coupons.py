"""Campaign coupons: the content file, the discount rules, claims once per follower, spent by one booking."""

from __future__ import annotations

from datetime import date

import pytest

from bot.bookings.coupons import Coupons, load_coupons
from bot.infra.yamlfile import SourceError
from tests.builders import NOW, coupon

TODAY = NOW.date()




@pytest.mark.parametrize("c,product_id,total,expected", [
    (coupon(), "dmz_tour", 70000, 10000),
    (coupon(), "dmz_tour", 49999, 0),  # under the minimum
    (coupon(min_total_krw=0, discount_krw=10000), "x", 8000, 8000),  # never more than the price
    (coupon(discount_krw=0, percent=10, max_krw=None), "x", 140000, 14000),
    (coupon(discount_krw=0, percent=10, max_krw=5000), "x", 140000, 5000),
    (coupon(products=frozenset({"nanta_show"})), "dmz_tour", 70000, 0),
    (coupon(products=frozenset({"nanta_show"})), "nanta_show", 70000, 10000),
    (coupon(valid_until=date(2026, 11, 24)), "dmz_tour", 70000, 0),  # expired yesterday
])
def test_discount_rules(c, product_id, total, expected):
    assert c.discount(product_id, total, TODAY) == expected


def test_words_match_the_whole_message_after_folding():
    cs = Coupons({"winter": coupon()})
    assert cs.by_word("首尔冬日！") is not None and cs.by_word("首爾冬日") is not None
    assert cs.by_word("首尔冬日天气怎么样") is None
    assert [c.id for c in cs.by_scene("campaign_x")] == ["winter"] and cs.by_scene("other") == []


@pytest.mark.parametrize("body,line,words", [
    ("coupons:\n  - id: a\n    name: {zh-CN: x, en: x}\n    discount: {krw: 1, percent: 5}\n"
     "    valid: {from: 2026-01-01, until: 2026-02-01}\n", 4, "discount"),
    ("coupons:\n  - id: a\n    name: {zh-CN: x, en: x}\n    discount: {krw: 1}\n    products: [nope]\n"
     "    valid: {from: 2026-01-01, until: 2026-02-01}\n", 5, "products"),
    ("coupons:\n  - id: a\n    name: {zh-CN: x, en: x}\n    discount: {krw: 1}\n"
     "    valid: {from: 2026-03-01, until: 2026-02-01}\n", 5, "ends before"),
    ("coupons:\n  - id: a\n    name: {zh-CN: x, en: x}\n    colour: red\n", 4, "unknown key"),
])
def test_content_errors_name_file_and_line(tmp_path, body, line, words):
    path = tmp_path / "coupons.yaml"
    path.write_text(body)
    with pytest.raises(SourceError) as info:
        load_coupons(path, {"dmz_tour"})
    assert f"line {line}" in str(info.value) and words in str(info.value) and "coupons.yaml" in str(info.value)
