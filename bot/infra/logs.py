"""Logging set-up: one line per record, with every configured secret masked, and the row values PostgreSQL puts
in its error texts (passport numbers, names, phones) masked in tracebacks too."""
from __future__ import annotations

import logging
import re
import sys
from typing import Iterable

# PostgreSQL's DETAIL lines quote the values of the row that failed: "Key (passport_no)=(E12345678) already
# exists", "Failing row contains (YJ7K4M2P, ZHANG WEI, ...)". SQLAlchemy hides bound parameters
# (hide_parameters); these come from the server's own message.
_ROW_VALUES = [(re.compile(r"(Key \([^)]*\)=\()[^\n]*?(\)( already exists| is not present|\.|$))", re.M), r"\1***\2"),
               (re.compile(r"(Failing row contains \()[^\n]*(\))"), r"\1***\2")]


def scrub_rows(text: str) -> str:
    for pattern, replacement in _ROW_VALUES:
        text = pattern.sub(replacement, text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """The whole formatted record, traceback included, without row values or secrets."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        text = scrub_rows(super().format(record))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


LINE = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        handler.setFormatter(ScrubbingFormatter(LINE))
        root.addHandler(handler)
        root.setLevel(level)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is enough noise
    secrets = list(secrets)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(RedactSecrets(secrets))
        if getattr(handler, "_yjy", False):
            handler.setFormatter(ScrubbingFormatter(LINE, secrets))
