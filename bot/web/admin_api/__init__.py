"""`/admin/api/`: the staff's HTTP API. Bearer tokens from config (`ADMIN_TOKENS`, `name:token` entries name
their holder); JSON in and out. One module per area adds its routes to this package's blueprint:

    broadcasts.py   /broadcasts...           mass messages: plan, preview, send, cancel, results
    orders.py       /orders..., /group-requests...   orders, refunds, confirmations, group requests
    channels.py     /channels...             acquisition channels, their QR codes, the report (JSON, CSV)
    inbox.py        /inbox...                hand-offs, complaints, group requests; kf replies
    insights.py     /insights/...            messages answered per day, unanswered questions, intents

Without a valid token nothing is readable (401); every authenticated call that changes something, and every
read of travelers' orders, messages and group requests, is written to the audit log with the caller: `staff:<name>`
for a named token, `token:<fingerprint>` for a bare one.
Orders and group requests come with masked phone numbers and never with passport details.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from bot.infra import audit as audit_log
from bot.infra.config import find_admin

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin/api")


def error(status: int, message: str, field: str | None = None, **extra: Any) -> Response:
    """A JSON error: `{"error": why, "field": what}` and anything `extra` to say."""
    body: dict[str, Any] = {"error": message, **extra}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def app_ext() -> Any:
    return current_app.extensions["yjy"]


@bp.before_request
def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    # Compared with every configured token, in constant time, without stopping at the first match.
    login = find_admin(app_ext().config.admin_logins, token)
    if login is None:
        log.warning("admin API refused %s %s from %s: %s", request.method, request.path,
                    request.headers.get("X-Forwarded-For", request.remote_addr), "bad token" if token else "no token")
        response = error(401, "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="yijiyou-admin"'
        return response
    g.actor = login.actor  # staff:<name> for a named token, token:<sha256 prefix> for a bare one
    return None


@bp.after_request
def audit(response: Response) -> Response:
    if (request.method != "GET" or getattr(g, "audit_read", False)) and getattr(g, "actor", None):
        audit_log.record(app_ext().db, actor=g.actor, method=request.method, path=request.path,
                         status=response.status_code, detail=getattr(g, "audit_detail", {}))
    return response


def json_body() -> Any:
    if not request.is_json:
        return None
    return request.get_json(silent=True)


def seoul_time(when: datetime | None) -> str | None:
    """A stored time in Seoul's zone (SQLite gives it back without one: Seoul wall time already)."""
    from bot.infra.clock import in_seoul

    return in_seoul(when).isoformat() if when is not None else None


# Each adds its routes to `bp` (they import it from here; this package imports them once it exists).
from bot.web.admin_api import broadcasts, channels, inbox, insights, orders  # noqa: E402,F401
