"""Passport details after booking a product that needs them: parsing what travelers type, filing each
traveler under the right booking (on both back-ends), the staff export and the booking page."""

from __future__ import annotations

from datetime import date

import pytest

from bot.bookings.passports import PassportProblem, mentions_passport, parse

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("text,name,number,nationality,born", [
    ("ZHANG WEI E12345678 1990-01-01", "ZHANG WEI", "E12345678", "CHN", date(1990, 1, 1)),
    ("护照号EA1234567，张伟 ZHANG WEI，1988年3月5日", "ZHANG WEI", "EA1234567", "CHN", date(1988, 3, 5)),
    ("name: Li Na, passport no. G12345678, dob 19851231", "LI NA", "G12345678", "CHN", date(1985, 12, 31)),
    ("Zhang Wei, E12345678, China, 1990/1/1", "ZHANG WEI", "E12345678", "CHN", date(1990, 1, 1)),
    ("护照 E12345678 出生 1990.01.01 姓名 WANG XIAO MING 国籍 CHN", "WANG XIAO MING", "E12345678", "CHN",
     date(1990, 1, 1)),
    ("CHAN TAI MAN K12345678 香港 1979-02-03", "CHAN TAI MAN", "K12345678", "HKG", date(1979, 2, 3)),
    ("ｚｈａｎｇ ｗｅｉ　Ｅ１２３４５６７８　１９９０－０１－０１", "ZHANG WEI", "E12345678", "CHN", date(1990, 1, 1)),
])
def test_passport_details_as_travelers_type_them(text, name, number, nationality, born):
    found = parse(text, TODAY)
    assert (found.name, found.number, found.nationality, found.birth_date) == (name, number, nationality, born)
    assert found.masked == number[:2] + "*" * (len(number) - 4) + number[-2:]


@pytest.mark.parametrize("text,missing", [
    ("E12345678 张伟 中国 1990年1月1日", "name"),  # the checkpoint list is in the passport's latin letters
    ("my passport is E12345678", "name"),
    ("ZHANG WEI E12345678", "birth_date"),
    ("ZHANG WEI E12345678 2027-01-01", "birth_date"),  # not born yet
    ("ZHANG WEI E12345678 1990-02-30", "birth_date"),
    ("ZHANG WEI 1990-01-01", "number"),
])
def test_what_is_missing_is_named(text, missing):
    with pytest.raises(PassportProblem) as info:
        parse(text, TODAY)
    assert str(info.value) == missing


@pytest.mark.parametrize("text", ["YJ7K4M2P", "取消订单 YJ7K4M2P", "13812345678", "+82 10 1234 5678", "KE123航班",
                                  "1000人民币", "oAbc1234567890", "E1234567890", "景福宫几点开门"])
def test_other_messages_are_not_passport_details(text):
    assert not mentions_passport(text)
