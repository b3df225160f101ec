"""What the inbox shows: items (hand-offs, complaints, group requests) in one vocabulary of statuses, their
messages, a reply's outcome, and the refusals callers turn into HTTP statuses or exit codes.

Item ids: "H<id>" for a hand-off or complaint (`handoff_requests.id`), and a group request's own reference
("GR2ABCDE", the one `bookings groups` shows and `bookings group-status` takes: it already starts with G).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

STATUSES = ("open", "assigned", "answered", "closed")
KINDS = ("handoff", "complaint", "group")

HANDOFF_ID = re.compile(r"[Hh](\d{1,12})")
GROUP_ID = re.compile(r"[Gg][Rr][0-9A-Za-z]{1,10}")

# A group request's own statuses (bot.bookings.staff) in the inbox's words; "new" is "assigned" once someone
# took it.
GROUP_TO_INBOX = {"new": "open", "contacted": "answered", "closed": "closed"}


class InboxError(Exception):
    """A refusal for the person at the keyboard: `status` 400 a bad value, 404 no such item, 409 not in this
    state (closed, the same reply under way), 502 WeChat could not be reached, 503 storage did not answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Message:
    at: datetime | None  # None: one of the traveler's recent messages, whose time is not kept
    who: str  # "traveler", or the staff member who replied
    text: str  # the traveler's earlier messages as stored (long numbers masked); the request as typed


@dataclass
class Item:
    id: str
    kind: str  # handoff | complaint | group
    status: str  # open | assigned | answered | closed
    assignee: str | None
    openid: str
    lang: str
    text: str  # what the traveler wrote; a group request: product, day, party, contact
    created_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None  # group requests keep no closing time: None
    summary: str  # one line: the request's first line, or the group request's product / day / party
    transferred: bool  # a kf agent took the conversation in WeChat's workbench
    messages: list[Message] = field(default_factory=list)  # get(): earlier, the request, replies, recent
    window_ends: datetime | None = None  # get(): the end of WeChat's 48-hour window (None: unknown, closed)
    replies_left: int | None = None  # get(): customer-service messages left in that window (None: unknown)


@dataclass
class Sent:
    sent: bool
    reason: str  # "" when sent; else a sentence for staff (English)
    code: str = ""  # why not, for a page to say in its language: see `rules.Refusal`
    facts: dict[str, str] = field(default_factory=dict)


def handoff_status(stored: str, assignee: str | None, transferred: bool) -> str:
    """A hand-off's status for staff. A traveler's follow-up to a complaint (`handoff.add_detail`) sets the row
    back to "open" with its assignee kept: that is still assigned. A kf agent took a transferred one: assigned
    too (to the agent in WeChat's workbench), so "open" lists only what nobody has."""
    if stored == "open" and (assignee or transferred):
        return "assigned"
    return stored if stored in STATUSES else "open"


def group_status(stored: str, assignee: str | None) -> str:
    unified = GROUP_TO_INBOX.get(stored, "open")
    return "assigned" if unified == "open" and assignee else unified


def parse_id(item_id: str) -> tuple[str, int | str]:
    """("H", 12) or ("G", "GR2ABCDE"); InboxError 404 for anything else."""
    raw = (item_id or "").strip()
    if m := HANDOFF_ID.fullmatch(raw):
        return "H", int(m.group(1))
    if GROUP_ID.fullmatch(raw):
        return "G", raw.upper()
    raise InboxError(f"no inbox item {raw[:40]!r}: ids are H<number> (hand-offs, complaints) or a group "
                     "request's reference (GR...)", 404)


def staff_name(by: str) -> str:
    """The name in an actor: "staff:mei" (the console, a named API token) and "cli:mei" are "mei"."""
    for prefix in ("staff:", "cli:"):
        if by.startswith(prefix):
            return by[len(prefix):]
    return by
