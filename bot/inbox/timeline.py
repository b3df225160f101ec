"""An item's conversation for staff, oldest first: the traveler's messages before the request (kept with it), the
request, staff's replies, then what the traveler wrote since.

The conversation state keeps the traveler's last 5 texts (`recent`, long numbers masked) without their times.
What came after the request is found by lining that list up with the one stored with the request: the longest
end of the stored list that the current list starts with is what both saw; the rest is newer. Those newer
messages have no time (`at` None) and come last: when among the replies they were written is not known.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from bot.inbox.items import Message
from bot.infra.text import mask_numbers

TRAVELER = "traveler"


def newer(stored: list[str], current: list[str]) -> list[str]:
    """The messages of `current` (the state's `recent` now) written after those of `stored` (`recent` when the
    request was recorded). With no overlap (5 or more new messages, or a conversation state that expired) every
    message of `current` is newer."""
    for k in range(min(len(stored), len(current)), 0, -1):
        if current[:k] == stored[-k:]:
            return list(current[k:])
    return list(current)


def handoff_messages(*, stored: list[str], text: str, created_at: datetime, replies: Iterable[Message],
                     current: list[str]) -> list[Message]:
    """A hand-off or complaint: `stored` its `recent` (which ends with the request itself when the state had it),
    `text` the request (a complaint's details appended line by line), `current` the state's `recent` now."""
    first = mask_numbers(text[:120]).strip()
    earlier = list(stored)
    if earlier and first.startswith(earlier[-1].strip()):
        earlier = earlier[:-1]  # the request itself: shown once, with its time
    later = newer(stored, current)
    lines = {mask_numbers(line).strip() for line in text.splitlines()}
    while later and later[0].strip() in lines:  # a complaint's detail, already in its text
        later = later[1:]
    return [*(Message(None, TRAVELER, t) for t in earlier), Message(created_at, TRAVELER, text),
            *sorted(replies, key=_at), *(Message(None, TRAVELER, t) for t in later)]


def group_messages(*, request: str, created_at: datetime, replies: Iterable[Message],
                   current: list[str]) -> list[Message]:
    """A group request: the request (booked in the chat), staff's replies, the traveler's recent messages."""
    return [Message(created_at, TRAVELER, request), *sorted(replies, key=_at),
            *(Message(None, TRAVELER, t) for t in current)]


def _at(message: Message) -> datetime:
    assert message.at is not None  # replies always have their time
    return message.at
