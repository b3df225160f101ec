"""Which handlers may run on the web thread: those that do no blocking I/O of their own.

A message's handler runs on the request's own thread when its route does no I/O (most answers: places, cards,
lists, conversions from cached rates): no hop to the handler pool and back. Routes registered with `io=True`
(bookings, hand-offs, coupons ...) run in the pool, where the reply deadline can give up on them.

A mistake must not cost a reply: the database and the WeChat API call `check()`, which raises `BlockingCall`
inside an inline handler; the pipeline then logs it and answers that message from the pool instead.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_inline: ContextVar[bool] = ContextVar("inline", default=False)


class BlockingCall(RuntimeError):
    """Blocking I/O attempted by a handler running inline (its route needs `io=True`)."""


@contextmanager
def running_inline() -> Iterator[None]:
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


def check(what: str) -> None:
    """Raise `BlockingCall` if called from an inline handler: `what` would block the web thread."""
    if _inline.get():
        raise BlockingCall(f"{what} used by a handler running inline")
