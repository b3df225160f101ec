"""Staff hours for hand-offs (Asia/Seoul), the `handoff` config section, and what hand-off log lines hide."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.followers.staff_hours import StaffHours
from bot.infra.clock import SEOUL
from bot.infra.config import ConfigError, HandoffConfig, load_config
from bot.infra.text import mask_digits


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """A time in May 2026 in Seoul (the 1st is a Friday)."""
    return datetime(2026, 5, day, hh, mm, tzinfo=SEOUL)


DAILY = StaffHours(9 * 60, 21 * 60)


@pytest.mark.parametrize("now, open_", [
    (at(1, 8, 59), False), (at(1, 9, 0), True), (at(1, 20, 59), True), (at(1, 21, 0), False), (at(1, 23), False),
])
def test_daily_hours_open_at_opening_and_close_at_closing(now, open_):
    assert DAILY.is_open(now) is open_


def test_next_open_is_now_inside_hours_later_today_before_and_tomorrow_after():
    assert DAILY.next_open(at(1, 12)) == at(1, 12)
    assert DAILY.next_open(at(1, 7, 30)) == at(1, 9)
    assert DAILY.next_open(at(1, 22)) == at(2, 9)
    assert DAILY.days_until(at(1, 22), DAILY.next_open(at(1, 22))) == 1


def test_times_in_other_zones_are_compared_in_seoul():
    utc_noon = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
    assert DAILY.is_open(utc_noon)
    late = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)  # 22:00 in Seoul
    assert not DAILY.is_open(late)
    assert DAILY.next_open(late) == at(2, 9)


def test_weekdays_only_skip_the_weekend():
    weekdays = StaffHours(9 * 60, 18 * 60, (0, 1, 2, 3, 4))
    assert weekdays.is_open(at(1, 10))  # Friday
    assert not weekdays.is_open(at(2, 10))  # Saturday
    nxt = weekdays.next_open(at(1, 19))  # Friday evening -> Monday 09:00
    assert nxt == at(4, 9)
    assert nxt.weekday() == 0 and weekdays.days_until(at(1, 19), nxt) == 3
    assert not weekdays.every_day and DAILY.every_day


def test_a_shift_over_midnight_belongs_to_the_day_it_starts():
    nights = StaffHours(22 * 60, 30 * 60, (4,))  # Friday 22:00 to Saturday 06:00
    assert nights.is_open(at(1, 23))
    assert nights.is_open(at(2, 5, 59))  # Saturday early morning: Friday's shift
    assert not nights.is_open(at(2, 6))
    assert not nights.is_open(at(2, 23))  # Saturday night: no shift starts on Saturday
    assert nights.next_open(at(2, 7)) == at(8, 22)
    assert nights.label() == "22:00-06:00"


def test_all_day_is_always_open():
    always = StaffHours(0, 24 * 60)
    assert always.is_open(at(1, 0)) and always.is_open(at(1, 23, 59))
    assert always.label() == "00:00-24:00"


@pytest.mark.parametrize("opens, closes, days", [(9 * 60, 9 * 60, (0,)), (-1, 60, (0,)), (60, 120, ()),
                                                 (60, 120, (7,)), (60, 60 + 24 * 60 + 1, (0,))])
def test_impossible_hours_are_refused(opens, closes, days):
    with pytest.raises(ValueError):
        StaffHours(opens, closes, days)


# --- the config section ------------------------------------------------------------------------------
BASE = {"wechat.token": "tok123", "wechat.appid": "wx1", "redis.url": "redis://localhost:6379/0",
        "database.url": "sqlite:///x.db"}


def full_config(tmp_path, handoff: str):  # type: ignore[no-untyped-def]
    """The checkout's config.yaml with its handoff section replaced."""
    from bot.infra.config import DEFAULT_FILE

    text = DEFAULT_FILE.read_text(encoding="utf-8")
    head, _, rest = text.partition("handoff:")
    tail = rest[rest.index("\nadmin:"):]
    path = tmp_path / "config.yaml"
    path.write_text(head + handoff.rstrip() + "\n" + tail, encoding="utf-8")
    return path


def load(path):  # type: ignore[no-untyped-def]
    return load_config(path, environ={}, overrides=BASE, dev=False)


def test_the_shipped_config_has_kf_off_and_daily_hours():
    cfg = load_config(environ={}, overrides=BASE, dev=False).handoff
    assert cfg == HandoffConfig(kf_enabled=False, hours="09:00-21:00", opens=540, closes=1260, days=tuple(range(7)))


def test_handoff_section_is_read_and_typed(tmp_path):
    path = full_config(tmp_path, 'handoff:\n  kf_enabled: true\n  hours: "22:00-06:00"\n  days: [Mon, fri]\n')
    cfg = load(path).handoff
    assert cfg.kf_enabled is True
    assert (cfg.opens, cfg.closes, cfg.days) == (22 * 60, 30 * 60, (0, 4))
    assert StaffHours.from_config(cfg).is_open(at(1, 23))


def test_a_missing_handoff_section_means_kf_off_every_day(tmp_path):
    path = full_config(tmp_path, "")
    assert load(path).handoff == HandoffConfig()


@pytest.mark.parametrize("section, key, message", [
    ('handoff:\n  hours: "9 to 5"\n', "handoff.hours", "like 09:00-21:00"),
    ('handoff:\n  hours: "09:00-25:00"\n', "handoff.hours", "not a time of day"),
    ('handoff:\n  hours: "09:00-09:00"\n', "handoff.hours", "the same"),
    ("handoff:\n  days: [mon, funday]\n", "handoff.days", "'funday' is not a weekday"),
    ("handoff:\n  days: []\n", "handoff.days", "list of weekdays"),
    ('handoff:\n  kf_enabled: "yes"\n', "handoff.kf_enabled", "true or false"),
])
def test_bad_handoff_settings_name_the_file_line_and_key(tmp_path, section, key, message):
    path = full_config(tmp_path, section)
    with pytest.raises(ConfigError) as err:
        load(path)
    text = str(err.value)
    assert key in text and message in text and "config.yaml" in text
    assert err.value.line is not None


def test_log_lines_hide_every_digit():
    assert mask_digits("电话 010-1234-5678 护照 E12345678") == "电话 ###-####-#### 护照 E########"
