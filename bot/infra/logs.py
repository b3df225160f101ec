"""Logging set-up: one line per record, with every configured secret masked."""
from __future__ import annotations

import logging
import sys
from typing import Iterable


class RedactSecrets(logging.Filter):
    """Replace secret values wherever they appear in a formatted record (arguments included)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup(secrets: Iterable[str], level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_yjy", False) for h in root.handlers):
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler._yjy = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is enough noise
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(RedactSecrets(secrets))
