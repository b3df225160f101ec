"""When staff answer travelers (Asia/Seoul): pure time arithmetic, no I/O.

A shift opens at `opens` minutes after midnight on one of `days` (0 = Monday) and closes `closes` minutes
after that midnight; `closes` past 1440 is a shift that ends the next morning ("22:00-06:00").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterator

from bot.infra.clock import SEOUL
from bot.infra.config import HandoffConfig

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class StaffHours:
    opens: int  # minutes after midnight
    closes: int  # minutes after the same midnight; > opens
    days: tuple[int, ...] = tuple(range(7))

    def __post_init__(self) -> None:
        if not 0 <= self.opens < DAY_MINUTES or not self.opens < self.closes <= self.opens + DAY_MINUTES:
            raise ValueError(f"bad staff hours: {self.opens}..{self.closes} minutes")
        if not self.days or not all(0 <= d <= 6 for d in self.days):
            raise ValueError(f"bad staff days: {self.days}")

    @classmethod
    def from_config(cls, config: HandoffConfig) -> StaffHours:
        return cls(config.opens, config.closes, tuple(config.days))

    def _shifts(self, now: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Shifts (open, close) in Seoul time, from the one that may have started yesterday onwards."""
        today = now.astimezone(SEOUL).date()
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            midnight = datetime.combine(day, time(0), SEOUL)
            # Seoul has no daylight saving time: minutes after midnight are wall-clock minutes.
            yield midnight + timedelta(minutes=self.opens), midnight + timedelta(minutes=self.closes)

    def is_open(self, now: datetime) -> bool:
        return any(start <= now < end for start, end in self._shifts(now))

    def next_open(self, now: datetime) -> datetime:
        """`now` (in Seoul time) if staff are in, else when the next shift starts."""
        for start, end in self._shifts(now):
            if start <= now < end:
                return now.astimezone(SEOUL)
            if start > now:
                return start
        raise AssertionError("no shift within 8 days although days is not empty")  # pragma: no cover

    def days_until(self, now: datetime, then: datetime) -> int:
        """Calendar days from `now` to `then` in Seoul: 0 today, 1 tomorrow."""
        return (then.astimezone(SEOUL).date() - now.astimezone(SEOUL).date()).days

    @property
    def every_day(self) -> bool:
        return len(set(self.days)) == 7

    def label(self) -> str:
        """"09:00-21:00" (a close at midnight or later written as the next day's wall time)."""
        def hhmm(minutes: int) -> str:
            minutes = minutes % DAY_MINUTES if minutes != DAY_MINUTES else minutes
            return f"{minutes // 60:02d}:{minutes % 60:02d}"
        return f"{hhmm(self.opens)}-{hhmm(self.closes)}"
