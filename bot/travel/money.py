"""Money in travelers' words: amounts ("两千五", "3万5", "1.5万", "₩35,000"), currencies and conversions.

    "100人民币换多少韩币"   -> 100 CNY -> KRW
    "5万韩元是多少钱"       -> 50,000 KRW -> CNY (the home currency)
    "三千块能换多少"        -> 3,000 CNY -> KRW  ("块" counts only after a number, and names yuan by default)
    "两万块韩币多少人民币"  -> 20,000 KRW -> CNY  (a currency named right after the unit word wins)
    "100刀换多少韩元"       -> 100 USD -> KRW
    "1万日元"               -> 10,000 JPY -> KRW and CNY
    "美元汇率" / "汇率"     -> rate of USD / every currency
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from bot.infra import yamlfile
from bot.infra.text import fold

_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_NUMBER = re.compile(r"(?:\d[\d,，]*(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿])"
                     r"(?:[\d.零〇一二两三四五六七八九十百千万亿]|(?<=\d)[,，](?=\d{3}))*"
                     r"(?:\s*(?:million|thousand|[kw])(?![a-z]))?")
RATE_WORDS = ("汇率", "牌价", "兑换率", "换汇", "exchange rate", "rate", "rates")
EXCHANGE_WORDS = ("换", "兑", "convert", "exchange")
CONVERT_WORDS = ("换", "兑", "多少钱", "是多少", "等于", "折合", "合多少", "值多少", "to ", " in ", "convert")


def _has(text: str, word: str) -> bool:
    """`word` in `text`; English words only as whole words ("rate" is not in "separate")."""
    if word.isascii():
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
    return word in text


def _next_to(text: str, end: int, start: int) -> bool:
    """Whether what starts at `start` follows what ends at `end`, with at most a space or 的 between
    ("35000 won", "两万块的韩币"; not "100换韩币")."""
    return start == end or (start == end + 1 and text[end] in " 的")


MAX_AMOUNT = Decimal(10) ** 12  # a trillion of anything is a typo, not a traveler's budget


def parse_amount(token: str) -> Decimal | None:
    """A number written with digits, Chinese numerals or both; None if it is not a number."""
    s = token.replace(",", "").replace("，", "").strip().lower()
    multiplier = Decimal(1)
    for word, factor in (("million", 1_000_000), ("thousand", 1000)):
        if s.endswith(word):
            s, multiplier = s[: -len(word)].strip(), Decimal(factor)
    if s.endswith("k"):
        s, multiplier = s[:-1].strip(), Decimal(1000)
    elif s.endswith("w"):  # "3w" is how many write 3万
        s, multiplier = s[:-1].strip(), Decimal(10_000)
    if not s:
        return None
    try:
        return Decimal(s) * multiplier
    except InvalidOperation:
        pass
    total = Decimal(0)
    section = Decimal(0)
    number: Decimal | None = None
    last_unit = 0
    after_zero = False
    i = 0
    while i < len(s):
        ch = s[i]
        if ch.isdigit():
            m = re.match(r"\d+(?:\.\d+)?", s[i:])
            assert m is not None
            number = Decimal(m.group())
            i += len(m.group())
            continue
        if ch in _CN_DIGIT:
            after_zero = after_zero or _CN_DIGIT[ch] == 0
            number = Decimal(_CN_DIGIT[ch]) if _CN_DIGIT[ch] else number
        elif ch in _CN_SMALL:
            section += (number if number is not None else Decimal(1)) * _CN_SMALL[ch]
            number, last_unit, after_zero = None, _CN_SMALL[ch], False
        elif ch in _CN_BIG:
            section += number if number is not None else Decimal(0)
            total += (section or Decimal(1)) * _CN_BIG[ch]
            section, number, last_unit, after_zero = Decimal(0), None, _CN_BIG[ch], False
        else:
            return None
        i += 1
    if number is not None:
        # "两千五" = 2500, "3万5" = 35000: a bare digit after a unit means the next unit down.
        if last_unit >= 10 and not after_zero and number < 10 and number == number.to_integral_value():
            number *= Decimal(last_unit) / 10
        section += number
    value = (total + section) * multiplier
    return value if value > 0 else None


@dataclass(frozen=True)
class Currency:
    code: str
    name: dict[str, str]
    decimals: int
    words: tuple[str, ...]
    symbols: tuple[str, ...]
    units: tuple[str, ...] = ()  # "块", "刀": this currency only right after a number, or after 多少/几

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def format(self, amount: Decimal) -> str:
        """Thousands separators; whole won, two decimals otherwise (trailing .00 kept for clarity)."""
        return f"{self.round(amount):,.{self.decimals}f}"


@dataclass(frozen=True)
class MoneyQuery:
    kind: str  # convert | rate
    amount: Decimal | None = None
    source: str | None = None  # currency code of the amount
    targets: tuple[str, ...] = ()
    currencies: tuple[str, ...] = field(default_factory=tuple)  # for kind == rate: which ones (empty: all)


class MoneyParser:
    def __init__(self, currencies: dict[str, Currency], home: str, local: str,
                 listed: tuple[str, ...] = ()) -> None:
        self.currencies = currencies
        self.home = home
        self.local = local
        self.listed = listed or tuple(currencies)  # what "汇率" alone lists; any other is named to be shown
        words = [(fold(w), c.code) for c in currencies.values() for w in c.words]
        symbols = [(fold(s), c.code) for c in currencies.values() for s in c.symbols]
        self._words = sorted(words + symbols, key=lambda pair: -len(pair[0]))
        self._units = sorted(((fold(u), c.code) for c in currencies.values() for u in c.units),
                             key=lambda pair: -len(pair[0]))

    @classmethod
    def from_file(cls, path: Path) -> MoneyParser:
        doc = yamlfile.load(path)
        data = doc.data if isinstance(doc.data, dict) else {}
        raw = data.get("currencies")
        if not isinstance(raw, dict) or not raw:
            raise doc.error("currencies", "expected a mapping of currency code -> settings")
        currencies = {}
        for code, spec in raw.items():
            where = f"currencies.{code}"
            if not re.fullmatch(r"[A-Z]{3}", str(code)) or not isinstance(spec, dict):
                raise doc.error(where, "expected an ISO code (e.g. CNY) with settings")
            if not isinstance(spec.get("words"), list) or not spec["words"]:
                raise doc.error(f"{where}.words", "expected a non-empty list")
            if spec.get("decimals") not in (0, 2):
                raise doc.error(f"{where}.decimals", "expected 0 or 2")
            name = doc.texts(spec.get("name"), f"{where}.name")
            units = spec.get("units") or []
            if not isinstance(units, list) or not all(isinstance(u, str) and u.strip() for u in units):
                raise doc.error(f"{where}.units", "expected a list of words")
            currencies[code] = Currency(code, dict(name), spec["decimals"], tuple(map(str, spec["words"])),
                                        tuple(map(str, spec.get("symbols") or ())), tuple(units))
        owner: dict[str, str] = {}
        for code, currency in currencies.items():
            for kind in ("words", "symbols", "units"):
                for i, word in enumerate(getattr(currency, kind)):
                    other = owner.setdefault(fold(word), code)
                    if other != code:
                        raise doc.error(f"currencies.{code}.{kind}.{i}", f"{word!r} already names {other}")
        for key in ("home", "local"):
            if data.get(key) not in currencies:
                raise doc.error(key, f"must be one of {sorted(currencies)}")
        listed = data.get("listed") or list(currencies)
        if not isinstance(listed, list) or any(code not in currencies for code in listed):
            raise doc.error("listed", f"expected a list of the codes above: {sorted(currencies)}")
        return cls(currencies, data["home"], data["local"], tuple(listed))

    def _mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, code) of every currency word or symbol, longest first, not overlapping."""
        found: list[tuple[int, int, str]] = []
        taken = [False] * len(text)
        for word, code in self._words:
            start = 0
            while (pos := text.find(word, start)) >= 0:
                end = pos + len(word)
                start = end
                if any(taken[pos:end]):
                    continue
                if word.isascii() and word.isalpha():  # "won" inside "wonderful" is not money
                    before = text[pos - 1] if pos else " "
                    after = text[end] if end < len(text) else " "
                    if before.isalpha() or after.isalpha():
                        continue
                found.append((pos, end, code))
                for k in range(pos, end):
                    taken[k] = True
        return sorted(found)

    def _unit_at(self, text: str, pos: int) -> tuple[int, int, str] | None:
        """(start, end, code) of a unit word ("块", "刀") starting at `pos`, spaces skipped."""
        while pos < len(text) and text[pos] == " ":
            pos += 1
        for word, code in self._units:
            if text.startswith(word, pos):
                return pos, pos + len(word), code
        return None

    def _source(self, folded: str, start: int, end: int, mentions: list[tuple[int, int, str]],
                money_words: bool) -> tuple[int, int, str] | None:
        """The currency of the number at folded[start:end]: a unit right after it ("两万块"), unless a currency
        is named right after the unit ("两万块韩币" is won); else a currency word or symbol next to it."""
        if not any(_next_to(folded, end, m[0]) for m in mentions):
            unit = self._unit_at(folded, end)
            if unit is not None:
                named = [m for m in mentions if _next_to(folded, unit[1], m[0])]
                if named:
                    return named[0]
                lone = end - start == 1 and not folded[start].isdigit()
                # "我们一块去", "砍一刀": a lone Chinese numeral before a unit is rarely money.
                return None if lone and not money_words else unit
        attached = [m for m in mentions if _next_to(folded, end, m[0]) or _next_to(folded, m[1], start)]
        return attached[0] if attached else None

    def parse(self, text: str) -> MoneyQuery | None:
        """A conversion or rate question, or None when the text is not about money."""
        folded = fold(text)
        mentions = self._mentions(folded)
        numbers = [(m.start(), m.end(), parse_amount(m.group())) for m in _NUMBER.finditer(folded)]
        numbers = [(s, e, v) for s, e, v in numbers if v is not None]
        asks_rate = any(_has(folded, w) for w in RATE_WORDS)
        asks_convert = any(w in folded for w in CONVERT_WORDS)

        money_words = asks_rate or asks_convert or any(w in folded for w in EXCHANGE_WORDS)
        # "换多少块" / "是多少刀": a unit word after 多少 or 几 names the currency asked for.
        for m in re.finditer(r"多少|几", folded):
            unit = self._unit_at(folded, m.end())
            if unit is not None and not any(k[0] <= unit[0] < k[1] for k in mentions):
                mentions = sorted([*mentions, unit])

        amount = source = None
        source_mention = None
        for start, end, value in numbers:
            found = self._source(folded, start, end, mentions, money_words)
            if found is not None:
                amount, source_mention, source = value, found, found[2]
                break
        if amount is None and numbers and (mentions or any(w in folded for w in EXCHANGE_WORDS)):
            start, end, value = numbers[0]
            if end - start > 1 or folded[start].isdigit():  # a lone "一" is rarely an amount
                amount = value  # "100能换多少韩币": the home currency is implied
        if amount is not None:
            others = [m[2] for m in mentions if m is not source_mention and m[2] != source]
            if source is None:
                source = self.home if not others or others[0] != self.home else self.local
            if others:
                targets: tuple[str, ...] = tuple(dict.fromkeys(others))
            elif source == self.local:
                targets = (self.home,)
            elif source == self.home:
                targets = (self.local,)
            else:
                targets = (self.local, self.home)
            return MoneyQuery("convert", amount, source, targets)
        if asks_rate or (mentions and asks_convert):
            codes = tuple(dict.fromkeys(m[2] for m in mentions if m[2] != self.local))
            return MoneyQuery("rate", currencies=codes)
        return None
