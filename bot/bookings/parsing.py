"""What travelers type while booking: a day, a party size, a phone number, a name, a time slot.

    "下周六" / "12月5号" / "Dec 5th"   -> a date (relative to today in Seoul)
    "2大1小" / "两个人" / "2+1"        -> Party(adults, children)
    "138 1234 5678" / "010-1234-5678" -> "+8613812345678" / "+821012345678"
    "我叫王小明"                      -> "王小明"
    "下午两点" / "第一个"             -> one of the offered slots
    "日期改成12月5号吧"               -> "12月5号" (what to parse again)

Every parser returns None when the text does not say what it is asked for; the caller asks again.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.infra.text import fold
from bot.travel.money import parse_amount

_CN = "零〇一二两三四五六七八九十"
_NUM = rf"(?:\d{{1,2}}|[{_CN}]{{1,3}})"  # a small number: "12", "十二", "两"
_PUNCT = " \t\r\n,.!?;:~。、"  # around a whole answer (full-width forms are folded to these)

# ---------------------------------------------------------------------------------------------- dates

_RELATIVE = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "今天": 0, "今日": 0, "今晚": 0,
             "day after tomorrow": 2, "tomorrow": 1, "tonight": 0, "today": 0}
_RELATIVE_RE = re.compile("|".join(sorted(map(re.escape, _RELATIVE), key=len, reverse=True)))
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # matched on a word's first three letters
_WEEK_OFFSET = {"这": 0, "这个": 0, "本": 0, "this": 0, "下": 1, "下个": 1, "next": 1, "上": -1, "上个": -1, "last": -1}
_CN_WEEKDAY_RE = re.compile(r"(这个?|本|下个?|上个?)?\s*(?:周|星期|礼拜)\s*([一二三四五六日天])")
_EN_WEEKDAY_RE = re.compile(r"\b(?:(this|next|last)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday"
                            r"|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_EN_MONTH = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
             r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_EN_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_EN_YEAR = r"(?:,?\s*(?P<year>\d{4}))?"
_EN_MONTH_DAY = re.compile(rf"\b{_EN_MONTH}\s*{_EN_DAY}\b{_EN_YEAR}")  # "dec 5th, 2026"
_EN_DAY_MONTH = re.compile(rf"\b{_EN_DAY}\s*(?:of\s+)?{_EN_MONTH}\b{_EN_YEAR}")  # "5 dec", "5th of december"
_YEAR_MONTH_DAY = re.compile(r"(?<!\d)(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})(?!\d)")
_CN_MONTH_DAY = re.compile(rf"(?<![\d{_CN}])({_NUM})\s*月\s*({_NUM})(?!\d)")  # "12月5", "十二月五日"
# "12/5", "12-5" but not part of a phone number, a time or a range of people ("2-3个人").
_SLASH_MONTH_DAY = re.compile(r"(?<![\d/.:\-])(\d{1,2})[/\-](\d{1,2})(?![\d/.:\-])(?!\s*[个人位点岁天晚])")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})")  # "12.5": a date only when it is the whole message
# "5号": not the 日 of 周日/周六日, and not "5号线" (a subway line), "3号出口" or "一日游".
_DAY_ONLY = re.compile(rf"(?<![\d月周期拜{_CN}])({_NUM})\s*[号日](?!线|出口|口|门|楼|馆|游)")


def _int(token: str) -> int | None:
    """"12", "十二", "两", "零" -> the whole number; None if it is not one."""
    if token and not token.strip("零〇"):
        return 0
    value = parse_amount(token)
    return int(value) if value is not None and value == int(value) else None


def _make(year: int, month: int | None, day: int | None) -> date | None:
    try:
        return date(year, month or 0, day or 0)
    except ValueError:  # "2月30日", "13/5"
        return None


def _upcoming(month: int | None, day: int | None, today: date) -> date | None:
    """A month and day without a year: this year's if not past, else next year's."""
    for year in (today.year, today.year + 1):
        found = _make(year, month, day)
        if found and found >= today:
            return found
    return None


def _day_of_month(day: int | None, today: date) -> date | None:
    """"5号": this month's if not past, else next month's."""
    next_month = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    for first in (today.replace(day=1), next_month):
        found = _make(first.year, first.month, day)
        if found and found >= today:
            return found
    return None


def _weekday(text: str, today: date) -> date | None:
    """周六 = the next Saturday (today included); 这周六 = this week's, 下周六 = next week's (Mon–Sun weeks)."""
    if m := _CN_WEEKDAY_RE.search(text):
        prefix, day = m[1], _CN_WEEKDAYS[m[2]]
    elif m := _EN_WEEKDAY_RE.search(text):
        prefix, day = m[1], _EN_WEEKDAYS.index(m[2][:3])
    else:
        return None
    if not prefix:
        return today + timedelta(days=(day - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=_WEEK_OFFSET[prefix], days=day)  # may be past: the caller says why not


def parse_date(text: str, today: date) -> date | None:
    """The day a traveler means, relative to `today` (already in Asia/Seoul). None if the text names no day."""
    s = fold(text).strip(_PUNCT)
    # The most explicit form found decides, even when it is impossible: "2月30日" is not "30日".
    if m := _DOTTED.fullmatch(s):
        return _upcoming(int(m[1]), int(m[2]), today)
    if m := _YEAR_MONTH_DAY.search(s):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _CN_MONTH_DAY.search(s) or _SLASH_MONTH_DAY.search(s):
        return _upcoming(_int(m[1]), _int(m[2]), today)
    if m := _EN_MONTH_DAY.search(s) or _EN_DAY_MONTH.search(s):
        month, day = _MONTHS.index(m["month"][:3]) + 1, int(m["day"])
        return _make(int(m["year"]), month, day) if m["year"] else _upcoming(month, day, today)
    if m := _RELATIVE_RE.search(s):
        return today + timedelta(days=_RELATIVE[m[0]])
    if (found := _weekday(s, today)) is not None:
        return found
    if m := _DAY_ONLY.search(s):
        return _day_of_month(_int(m[1]), today)
    return None


# ---------------------------------------------------------------------------------------------- party


@dataclass(frozen=True)
class Party:
    adults: int
    children: int = 0

    @property
    def total(self) -> int:
        return self.adults + self.children


# Not part of a longer number, a pick ("第2个") or a range ("2-3个人": which one?).
_COUNT = rf"(?<![\d{_CN}第\-~])(\d{{1,3}}|[{_CN}百]{{1,3}})"
_ADULT = r"(?:大人|成人|adults?\b)"
_CHILD = r"(?:小朋友|小孩子?|孩子|儿童|children|child|kids?\b)"
_MEASURE = r"\s*(?:个|位|名)?\s*"
# "2大1小" / "2个大人1个小孩" / "2 adults 1 child": the number comes first ...
_NUMBER_FIRST = (re.compile(rf"{_COUNT}{_MEASURE}(?:{_ADULT}|大)"),
                 re.compile(rf"{_COUNT}{_MEASURE}(?:{_CHILD}|小(?!时))"))  # "2小时" is two hours
# ... or after the word: "大人2小孩1", "大人两个小孩一个".
_WORD_FIRST = (re.compile(rf"{_ADULT}\s*:?\s*{_COUNT}"), re.compile(rf"{_CHILD}\s*:?\s*{_COUNT}"))
_PLUS = re.compile(rf"{_COUNT}\s*\+\s*{_COUNT}\s*(?:人|位)?")  # "2+1": adults + children
# "3个人", "三位", "3 people"; a bare "3个" only when no word follows ("3个小孩" is not three people).
_TOTAL = re.compile(rf"{_COUNT}\s*(?:个人|人|位|名|个(?![\u4e00-\u9fff])|(?:people|persons?|pax|guests?|ppl)\b)")
# "订一个乱打秀", "订1个DMZ", "买一张票": how many of the product, not how many people ("订3个人的" still is).
_PRODUCT_COUNT = re.compile(rf"(?:预订|预定|预约|订|定|买)\s*(?:{_COUNT}\s*)?(?:个|张|份)(?!\s*(?:个人|人|位|名))")
_ALONE = {"我自己", "就我自己", "自己", "就我", "就我一个", "只有我", "just me", "only me", "myself", "me alone"}


def _party(adults: int | None, children: int | None = 0) -> Party | None:
    if adults is None or children is None or adults < 1 or adults + children > 99:
        return None
    return Party(adults, children)


def parse_party(text: str) -> Party | None:
    """How many people: "2", "两个人", "2大1小", "大人2小孩1", "2 adults 1 child", "2+1", "就我自己"."""
    s = fold(text).strip(_PUNCT)
    if s in _ALONE:
        return Party(1)
    s = _PRODUCT_COUNT.sub(" ", s).strip(_PUNCT)
    if m := _PLUS.fullmatch(s):
        return _party(_int(m[1]), _int(m[2]))
    for adults_re, children_re in (_NUMBER_FIRST, _WORD_FIRST):
        if adults := adults_re.search(s):
            children = children_re.search(s)
            return _party(_int(adults[1]), _int(children[1]) if children else 0)
    if _NUMBER_FIRST[1].search(s) or _WORD_FIRST[1].search(s):
        return None  # "2个人1个小孩": does the 2 include the child? Better to ask again.
    if m := _TOTAL.search(s) or re.fullmatch(_COUNT, s):
        return _party(_int(m[1]))
    return None


# ---------------------------------------------------------------------------------------------- phone

_SEP = r"[\s.\-–—]*"  # people group digits with spaces, dashes or dots
# Not the tail of a longer number: "+86 010 12345678" (a Beijing landline) is not a Korean mobile.
_NOT_AFTER_DIGITS = r"(?<!\d)(?<!\d[\s.\-])"
_CN_MOBILE = re.compile(rf"{_NOT_AFTER_DIGITS}(?:\(?(?:\+|00)?86\)?{_SEP})?(1[3-9](?:{_SEP}\d){{9}})(?!\d)")
# 010-1234-5678, +82 10 1234 5678, +82 (0)10-...: the trunk 0 is dropped after the country code.
_KR_MOBILE = re.compile(rf"{_NOT_AFTER_DIGITS}(?:\(?(?:\+|00)?82\)?{_SEP}(?:\(?0\)?{_SEP})?|0)"
                        rf"(1[016789](?:{_SEP}\d){{7,8}})(?!\d)")


def parse_phone(text: str) -> str | None:
    """A mainland Chinese or Korean mobile number anywhere in the text, as "+86…" / "+82…"."""
    s = fold(text)
    for pattern, country in ((_CN_MOBILE, "+86"), (_KR_MOBILE, "+82")):
        if m := pattern.search(s):
            return country + re.sub(r"\D", "", m[1])
    return None


# ----------------------------------------------------------------------------------------------- name

_NAME_LEAD = re.compile(r"(?:我的名字是|我的名字叫|我的名字|名字是|名字叫|我叫|我是|我姓|姓名是|姓名|名字"
                        r"|联系人是|联系人"
                        r"|my name is\b|my name's\b|name is\b|name\b|i am\b|i'm\b)\s*:?\s*")
_NAME = re.compile(r"[\u3400-\u9fff\uf900-\ufaffA-Za-zÀ-ÖØ-öø-ɏ·.\-' ]{1,30}")
_NAME_MARKS = str.maketrans({"・": "·", "‧": "·", "•": "·", "’": "'"})
_URLISH = re.compile(r"https?|www\.|\.(?:com|cn|net|org|kr|io)\b", re.IGNORECASE)
_NAME_TRAILER = " \t\r\n,.!?;~。、"


def _aligned(text: str) -> tuple[str, str]:
    """The text as typed (full-width made half-width) and folded, index for index when fold allows.

    Words are matched on the folded text but returned as typed: "Li Wei" keeps its capitals.
    """
    kept = unicodedata.normalize("NFKC", text)
    folded = fold(kept)
    return (kept if len(kept) == len(folded) else folded), folded


_PHONE_LEAD = re.compile(r"[\s,，:：]*(?:手机号码?|手机|电话号码?|电话|联系方式|mobile|phone|tel)?[\s,，:：是]*$")


def _without_phone(text: str) -> str:
    """The text minus a mobile number and its lead-in: "我叫张伟，手机138 1234 5678" -> "我叫张伟"."""
    kept, folded = _aligned(text)
    for pattern in (_CN_MOBILE, _KR_MOBILE):
        if m := pattern.search(folded):
            head = folded[:m.start()]
            head_end = _PHONE_LEAD.search(head).start()  # type: ignore[union-attr]  # always matches
            return (kept[:head_end] + " " + kept[m.end():]).strip()
    return text


def parse_name(text: str) -> str | None:
    """A contact name ("张伟", "Li Wei", "欧阳·娜娜") after any lead-in like "我叫" or "my name is";
    a phone number given with it is left out ("张伟 13812345678")."""
    kept, folded = _aligned(_without_phone(text).strip())
    lead = _NAME_LEAD.match(folded)
    name = kept[lead.end():] if lead else kept
    name = " ".join(name.translate(_NAME_MARKS).strip(_NAME_TRAILER).split())
    if not _NAME.fullmatch(name) or _URLISH.search(name) or not any(ch.isalpha() for ch in name):
        return None
    if len(name) == 1 and name.isascii():  # "a" is a typo, not a name; "王" can be one
        return None
    return name


# ---------------------------------------------------------------------------------------------- slots

_PERIODS = {"上午": "am", "早上": "am", "早晨": "am", "morning": "am", "am": "am", "中午": "pm", "下午": "pm",
            "afternoon": "pm", "pm": "pm", "傍晚": "eve", "晚上": "eve", "evening": "eve", "night": "eve"}
_PERIOD_RANGES = {"am": (0, 12), "pm": (12, 18), "eve": (18, 24)}  # hours, end excluded
# English words whole only; am/pm only next to a number: "i am free in the afternoon" is not the morning.
_PERIOD_RE = "|".join(rf"\b{w}\b" if w.isascii() else w
                      for w in sorted(_PERIODS, key=len, reverse=True) if w not in ("am", "pm"))
# "14:00", "下午两点", "2点半", "十点30", "2pm", "2:30 pm"
# "8点 2个人" is eight o'clock and two people, not 8:02.
_CLOCK = re.compile(rf"(?:({_PERIOD_RE})\s*)?(?<!\d)({_NUM})\s*"
                    rf"(?::\s*(\d{{2}})|点\s*(半|\d{{1,2}}(?![\d\s]*[个人位名大小]))?)"
                    rf"\s*(am|pm)?"
                    rf"|(?<![\d:])(\d{{1,2}})\s*(am|pm)\b")
_INDEX = re.compile(rf"(第|no\.?|#)?\s*({_NUM})\s*(个|场|档|班|次)?")


def _slot_time(slot: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", slot)
    return (int(m[1]), int(m[2])) if m else None


def _hours(hour: int, period: str | None) -> set[int]:
    """The 24-hour clock hours "2点" could mean: 下午 makes it 14, no period leaves 2 or 14."""
    if _PERIODS.get(period or "") in ("pm", "eve") and hour < 12:
        return {hour + 12}
    if period or hour >= 12:
        return {hour}
    return {hour, hour + 12}


def _timed(slots: Sequence[str]) -> list[tuple[str, int, int]]:
    """(slot, hour, minute) for every slot written like "09:00"; others cannot be picked by time."""
    return [(slot, *t) for slot in slots if (t := _slot_time(slot))]


def _by_clock(slots: Sequence[str], hours: set[int], minute: int | None) -> str | None:
    found = [f for f in _timed(slots) if f[1] in hours and minute in (None, f[2])]
    if minute is None and len(found) > 1:  # "2点" with 14:00 and 14:30 on offer means 14:00
        found = [f for f in found if f[2] == 0]
    return found[0][0] if len(found) == 1 else None


def parse_slot(text: str, slots: Sequence[str]) -> str | None:
    """Which of `slots` ("09:00", "14:00") the traveler picks: by time, by position or by part of day."""
    s = fold(text).strip(_PUNCT).removesuffix("的").removesuffix("那场").strip()
    if m := _CLOCK.search(s):
        if m[6]:  # "2pm"
            return _by_clock(slots, _hours(int(m[6]), m[7]), 0)
        hour, half = _int(m[2]), m[4] == "半"
        minute = int(m[3]) if m[3] else 30 if half else int(m[4]) if m[4] else None
        return _by_clock(slots, _hours(hour, m[1] or m[5]), minute) if hour is not None else None
    if m := _INDEX.fullmatch(s):
        number = _int(m[2])
        if number and 1 <= number <= len(slots):
            return slots[number - 1]
        # A bare "14" that is no position is an hour.
        return None if m[1] or m[3] or number is None else _by_clock(slots, _hours(number, None), None)
    if m := re.search(_PERIOD_RE, s):
        start, end = _PERIOD_RANGES[_PERIODS[m[0]]]
        found = [slot for slot, hour, _ in _timed(slots) if start <= hour < end]
        return found[0] if len(found) == 1 else None
    return None


# --------------------------------------------------------------------------------------------- change

_CHANGE_VERB = re.compile(r"改成|改为|改到|换成|换到|换为|改一下"
                          r"|\bchange\s+(?:(?:it|the\s+\w+)\s+)?to\b|\bmake\s+it\b|\bswitch\s+to\b")
_FIELDS = ("人数", "日期", "时间", "场次", "手机号", "电话", "手机", "姓名", "名字")
_FIELD_LEAD = re.compile(rf"[\s,:]*(?:(?:{'|'.join(_FIELDS)})[\s,:]*(?:为|成|是|到)?)?[\s,:]*")
_TRAILER = re.compile(r"(?:[\s?!。.~,]|吧|可以吗|可以不|行吗|行不行|好吗|好不好|吗|呢|啊|呀)*$")


def strip_change(text: str) -> str | None:
    """"改成周日吧" -> "周日", "人数改成3个人" -> "3个人"; None when the text asks for no change.

    An empty string means a change was asked for without saying what to ("改一下").
    """
    kept, folded = _aligned(text)
    verbs = list(_CHANGE_VERB.finditer(folded))
    if not verbs:
        return None
    # The last verb: "改一下日期改成12月5号" is about 12月5号; what comes before it is the old value.
    # Both patterns can match nothing, so they always match.
    start = _FIELD_LEAD.match(folded, verbs[-1].end()).end()  # type: ignore[union-attr]
    end = _TRAILER.search(folded, start).start()  # type: ignore[union-attr]
    return kept[start:end].strip()
