"""The audit log (table `admin_audit`): who changed what through the admin API or a staff command, and how
it ended. One writer for both, so the rows read the same whichever door the change came through.

    record(db, actor="token:1a2b3c4d", method="POST", path="/admin/api/broadcasts", status=201,
           detail={"broadcast": 7, "audience": 3})
    record(db, actor="cli:mei", method="CLI", path="broadcast send 7 --now", status=0)
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.infra.db import Database

log = logging.getLogger(__name__)


def record(where: Database | Session, *, actor: str, method: str, path: str, status: int,
           detail: dict[str, Any] | None = None) -> bool:
    """Write one audit row; whether it was written.

    `actor` is "token:<hash prefix>" or "cli:<who>"; `method` the HTTP method or "CLI"; `path` the API path
    or the command line; `status` the HTTP status or the exit code. Given a `Database`, the row gets its own
    transaction and a failure is logged, not raised: the action already happened, and its caller's outcome
    matters more than the log. Given a `Session`, the row joins the caller's transaction.
    """
    from sqlalchemy.orm import Session  # here: importing the audit writer costs an app's start-up nothing

    from bot.infra.db.models import AdminAudit

    row = AdminAudit(at=datetime.now(UTC), actor=actor[:60], method=method[:8], path=path[:200],
                     status=status, detail=detail or {})
    if isinstance(where, Session):
        where.add(row)
        return True
    try:
        with where.session() as s:
            s.add(row)
    except Exception:  # noqa: BLE001 - see the docstring: say so in the log instead
        log.exception("could not write the audit record for %s %s (%s)", method, path, actor)
        return False
    return True
