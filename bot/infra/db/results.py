"""What a statement did, read the same way on SQLite and PostgreSQL."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy.engine import CursorResult, Result


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed (`Session.execute` is typed as a plain `Result`)."""
    return cast(CursorResult[Any], result).rowcount
