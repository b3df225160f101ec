"""The time the bot believes it is: real by default, fixed for tests and conversation fixtures."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")  # every wall time the bot reads or shows


class Clock:
    def __init__(self, fixed: datetime | None = None) -> None:
        self.fixed = fixed

    def now(self) -> datetime:
        """Now in Asia/Seoul (aware)."""
        return self.fixed.astimezone(SEOUL) if self.fixed else datetime.now(SEOUL)


def in_seoul(when: datetime) -> datetime:
    """A stored time as Seoul wall time, aware. SQLite gives times back without their zone: those were written as
    Seoul wall time by our clock; PostgreSQL gives them back in UTC."""
    return when.astimezone(SEOUL) if when.tzinfo else when.replace(tzinfo=SEOUL)
