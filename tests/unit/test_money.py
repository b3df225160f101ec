"""Conversions across travelers' phrasings and currencies, and the rates providers' failure modes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.infra.yamlfile import SourceError
from bot.travel.money import MoneyParser, parse_amount
from bot.travel.rates import FileRatesProvider, RatesError, RateTable

CONTENT = Path(__file__).resolve().parents[2] / "content"

PARSER = MoneyParser.from_file(CONTENT / "currencies.yaml")

KST = timezone(timedelta(hours=9))

TABLE = RateTable("KRW", datetime(2026, 11, 24, 16, 0, tzinfo=KST), "test source",
                  {"CNY": Decimal("190.5"), "USD": Decimal("1380"), "JPY": Decimal("9.12"), "HKD": Decimal("177.3"),
                   "TWD": Decimal("43.1"), "EUR": Decimal("1450.25")})


@pytest.mark.parametrize("text,value", [
    ("100", 100), ("一百", 100), ("两千五", 2500), ("3万5", 35000), ("1.5万", 15000), ("三千", 3000), ("十万", 100000),
    ("一万零五百", 10500), ("一百零五", 105), ("十五", 15), ("3千5百", 3500), ("35,000", 35000), ("1,234.5", Decimal("1234.5")),
    ("5w", 50000), ("2k", 2000), ("三万五千", 35000), ("两百万", 2000000), ("５０", 50),
])
def test_amounts(text, value):
    from bot.infra.text import fold
    assert parse_amount(fold(text)) == Decimal(value)

# (text, source, amount, {target: formatted result})
CASES = [
    ("100人民币换多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("100块换韩元", "CNY", 100, {"KRW": "19,050"}),
    ("5万韩元是多少钱", "KRW", 50000, {"CNY": "262.47"}),
    ("三千块能换多少", "CNY", 3000, {"KRW": "571,500"}),
    ("₩35,000", "KRW", 35000, {"CNY": "183.73"}),
    ("35000won", "KRW", 35000, {"CNY": "183.73"}),
    ("35000 won", "KRW", 35000, {"CNY": "183.73"}),
    ("1万日元", "JPY", 10000, {"KRW": "91,200", "CNY": "478.74"}),
    ("100美元", "USD", 100, {"KRW": "138,000", "CNY": "724.41"}),
    ("100能换多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("100换多少", "CNY", 100, {"KRW": "19,050"}),
    ("一百人民币等于多少韩元", "CNY", 100, {"KRW": "19,050"}),
    ("两千五人民币换韩币", "CNY", 2500, {"KRW": "476,250"}),
    ("3万5韩币多少人民币", "KRW", 35000, {"CNY": "183.73"}),
    ("1.5万韩元多少钱", "KRW", 15000, {"CNY": "78.74"}),
    ("１００元等于多少韩币", "CNY", 100, {"KRW": "19,050"}),
    ("10,000韓元是多少人民幣", "KRW", 10000, {"CNY": "52.49"}),
    ("我有两千五港币能换多少韩元", "HKD", 2500, {"KRW": "443,250"}),
    ("1000台币", "TWD", 1000, {"KRW": "43,100", "CNY": "226.25"}),
    ("50 USD to KRW", "USD", 50, {"KRW": "69,000"}),
    ("how much is 20000 won", "KRW", 20000, {"CNY": "104.99"}),
    ("200欧元换人民币", "EUR", 200, {"CNY": "1,522.57"}),
    ("100美金换多少人民币", "USD", 100, {"CNY": "724.41"}),
    ("五十万韩元", "KRW", 500000, {"CNY": "2,624.67"}),
    ("¥500换韩元", "CNY", 500, {"KRW": "95,250"}),
    ("500元人民币", "CNY", 500, {"KRW": "95,250"}),
    ("1000日币换多少韩币", "JPY", 1000, {"KRW": "9,120"}),
    ("3w韩币", "KRW", 30000, {"CNY": "157.48"}),
    ("20万韩元等于多少美元", "KRW", 200000, {"USD": "144.93"}),
    ("9900韩元", "KRW", 9900, {"CNY": "51.97"}),
    ("€100", "EUR", 100, {"KRW": "145,025", "CNY": "761.29"}),
    ("HK$300", "HKD", 300, {"KRW": "53,190", "CNY": "279.21"}),
    ("1 人民币", "CNY", 1, {"KRW": "191"}),  # 190.5 rounds half up to whole won
    ("0.5万人民币换韩币", "CNY", 5000, {"KRW": "952,500"}),
    ("两万日元能换多少人民币", "JPY", 20000, {"CNY": "957.48"}),
    ("一千二港币", "HKD", 1200, {"KRW": "212,760", "CNY": "1,116.85"}),
    ("十块钱等于多少韩元", "CNY", 10, {"KRW": "1,905"}),
    ("5000 yen", "JPY", 5000, {"KRW": "45,600", "CNY": "239.37"}),
    ("2 million won", "KRW", 2000000, {"CNY": "10,498.69"}),
    ("1.5k USD", "USD", 1500, {"KRW": "2,070,000", "CNY": "10,866.14"}),
    ("3 thousand yen", "JPY", 3000, {"KRW": "27,360", "CNY": "143.62"}),
    # The currency word decides; 块/元 only count ("两万块韩币" is won), 刀 is dollars; w/k/万/千 mix freely.
    ("两万块韩币多少人民币", "KRW", 20000, {"CNY": "104.99"}),
    ("2万块钱的韩币", "KRW", 20000, {"CNY": "104.99"}),
    ("5000块的韩币换多少人民币", "KRW", 5000, {"CNY": "26.25"}),
    ("1万块韩元", "KRW", 10000, {"CNY": "52.49"}),
    ("100块", "CNY", 100, {"KRW": "19,050"}),
    ("100 块", "CNY", 100, {"KRW": "19,050"}),
    ("3w块", "CNY", 30000, {"KRW": "5,715,000"}),
    ("人民币100块换韩币", "CNY", 100, {"KRW": "19,050"}),
    ("100换韩币", "CNY", 100, {"KRW": "19,050"}),  # 换 between them: the won is the target, not the amount's
    ("一块人民币换多少韩币", "CNY", 1, {"KRW": "191"}),
    ("100刀换多少韩元", "USD", 100, {"KRW": "138,000"}),
    ("100刀", "USD", 100, {"KRW": "138,000", "CNY": "724.41"}),
    ("2k刀", "USD", 2000, {"KRW": "2,760,000", "CNY": "14,488.19"}),
    ("三百刀换人民币", "USD", 300, {"CNY": "2,173.23"}),
    ("两百美金", "USD", 200, {"KRW": "276,000", "CNY": "1,448.82"}),
    ("100美元是多少块", "USD", 100, {"CNY": "724.41"}),  # 块 after 多少 names the currency asked for
    ("五千日元", "JPY", 5000, {"KRW": "45,600", "CNY": "239.37"}),
    ("1.5k人民币", "CNY", 1500, {"KRW": "285,750"}),
    ("3w韩币换多少块", "KRW", 30000, {"CNY": "157.48"}),
    ("20w韩元", "KRW", 200000, {"CNY": "1,049.87"}),
]


@pytest.mark.parametrize("text,source,amount,expected", CASES, ids=[c[0] for c in CASES])
def test_conversions(text, source, amount, expected):
    query = PARSER.parse(text)
    assert query is not None and query.kind == "convert"
    assert (query.source, query.amount) == (source, Decimal(amount))
    results = {t: PARSER.currencies[t].format(TABLE.convert(query.amount, source, t)) for t in query.targets}
    assert results == expected


def test_at_least_forty_conversion_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("text,codes", [("汇率", ()), ("今天汇率多少", ()), ("美元汇率", ("USD",)),
                                        ("欧元兑韩元汇率", ("EUR",)), ("exchange rate", ()), ("換匯", ())])
def test_rate_questions(text, codes):
    query = PARSER.parse(text)
    assert query is not None and query.kind == "rate" and query.currencies == codes


@pytest.mark.parametrize("text", ["一日游多少钱", "乐天世界门票多少钱", "63大厦", "2号线怎么去", "wonderful day", "第二个", "a separate room",
                                  "景福宫几点开门", "两个人",
                                  # unit words without a number, or after a lone numeral that is no amount
                                  "我们一块去明洞", "砍一刀", "明洞刀切面多少钱", "两块", "订一个乱打秀", "这块多少钱"])
def test_not_money(text):
    assert PARSER.parse(text) is None


def test_currency_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "currencies.yaml"
    base = ("home: CNY\nlocal: KRW\ncurrencies:\n"
            "  KRW: {name: {zh-CN: 韩元, en: won}, decimals: 0, words: [韩元]}\n"
            "  CNY:\n    name: {zh-CN: 人民币, en: yuan}\n    decimals: 2\n    words: [人民币]\n")
    path.write_text(base + "    units: [块, 韩元]\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"currencies.yaml, line 9: currencies.CNY.units.1: '韩元' already names KRW"):
        MoneyParser.from_file(path)
    path.write_text(base + "    units: 块\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"line 9: currencies.CNY.units: expected a list"):
        MoneyParser.from_file(path)
    path.write_text(base + "    units: [块]\n", encoding="utf-8")
    assert MoneyParser.from_file(path).parse("两万块韩元").source == "KRW"


def test_rates_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "rates.yaml"
    path.write_text("base: KRW\nas_of: yesterday\nsource: x\nrates: {CNY: 190}\n")
    with pytest.raises(RatesError, match=r"rates.yaml, line 2: as_of"):
        FileRatesProvider(path).load()
    path.write_text("base: KRW\nas_of: '2026-11-25T09:00:00+09:00'\nsource: x\nrates: {CNY: abc}\n")
    with pytest.raises(RatesError, match=r"line 4: rates"):
        FileRatesProvider(path).load()
    path.write_text("base: KRW\nas_of: '2026-11-25T09:00:00'\nsource: x\nrates: {CNY: 190}\n")
    with pytest.raises(RatesError, match="offset"):
        FileRatesProvider(path).load()


def test_shipped_rates_file_is_valid():
    table = FileRatesProvider(CONTENT / "rates.yaml").load()
    assert table.base == "KRW" and table.source and "CNY" in table.rates
