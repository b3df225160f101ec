"""What can go wrong with a broadcast, as the entry points catch it. Its own module, free of heavy imports,
so the admin API and the CLI can name these without loading the broadcast machinery at start-up."""
from __future__ import annotations


class SpecError(ValueError):
    """A broadcast spec field that is wrong; `field` is its dotted name ("" for the whole spec)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class PlanError(ValueError):
    """An audience that cannot be sent to: empty, or a single follower."""


class NoScheduler(RuntimeError):
    """A send at a later time asked of the embedded runner, which has no RQ scheduler."""


class MessageError(RuntimeError):
    """The message could not be composed: a news article's content or thumbnail, or WeChat refused an upload."""
