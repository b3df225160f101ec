"""Which customer-service (kf) agent can take a traveler now, from getonlinekflist's answer.

Each item: `status` (0 offline, 1 web, 2 phone, 3 both), `auto_accept` (the most sessions the agent takes
automatically; 0 means sessions wait in the queue until an agent picks them) and `accepted_case` (sessions
the agent has now). An agent with auto_accept > 0 and accepted_case >= auto_accept is full: a transfer
aimed at them waits behind their sessions, so they are not chosen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pick:
    available: bool  # someone online can take the traveler (now, or from the queue)
    account: str | None = None  # the agent with most spare automatic capacity, to aim the transfer at
    online: int = 0
    full: int = 0


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def pick_agent(items: list[dict[str, Any]]) -> Pick:
    online = [a for a in items if _int(a.get("status")) > 0]
    spare = {str(a.get("kf_account") or ""): _int(a.get("auto_accept")) - _int(a.get("accepted_case"))
             for a in online if _int(a.get("auto_accept")) > 0}
    full = sum(1 for left in spare.values() if left <= 0)
    queue = any(_int(a.get("auto_accept")) <= 0 for a in online)  # someone picks from the waiting queue
    best = max((acc for acc, left in spare.items() if left > 0 and acc), key=lambda acc: spare[acc], default=None)
    return Pick(available=best is not None or queue, account=best, online=len(online), full=full)
