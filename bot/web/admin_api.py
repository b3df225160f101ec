"""`/admin/api/`: the marketers' HTTP API for broadcasts. Bearer tokens from config; JSON in and out.

Without a valid token nothing is readable (401); every authenticated call that changes something is
written to the audit log with the caller's token fingerprint.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from bot.broadcasts.errors import MessageError, NoScheduler, PlanError, SpecError
from bot.infra import audit as audit_log

if TYPE_CHECKING:
    from bot.broadcasts.service import BroadcastService, Status, Summary

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin/api")


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def _ext() -> Any:
    return current_app.extensions["yjy"]


@bp.before_request
def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    # Compare with every configured token, in constant time, without stopping at the first match.
    ok = False
    for known in _ext().config.admin_tokens:
        ok |= hmac.compare_digest(token.encode(), known.encode())
    if not token or not ok:
        log.warning("admin API refused %s %s from %s: %s", request.method, request.path,
                    request.headers.get("X-Forwarded-For", request.remote_addr), "bad token" if token else "no token")
        response = _error(401, "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="yijiyou-admin"'
        return response
    g.actor = "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]
    return None


@bp.after_request
def audit(response: Response) -> Response:
    if request.method != "GET" and getattr(g, "actor", None):
        audit_log.record(_ext().db, actor=g.actor, method=request.method, path=request.path,
                         status=response.status_code, detail=getattr(g, "audit_detail", {}))
    return response


def _json_body() -> Any:
    if not request.is_json:
        return None
    return request.get_json(silent=True)


def _service() -> BroadcastService:
    from bot.broadcasts.service import broadcast_service  # the broadcast machinery loads on first use

    return broadcast_service(_ext())


@bp.get("/broadcasts")
def list_broadcasts() -> Response:
    return jsonify([_summary(b) for b in _service().newest(100)])


@bp.post("/broadcasts")
def create_broadcast() -> Response:
    """Body: a broadcast spec as JSON, plus `"dry_run": true` for the audience size and a sample only."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    dry_run = body.pop("dry_run", False) is True
    service = _service()
    try:
        draft = service.validate(body)
    except SpecError as exc:
        return _error(400, exc.message, exc.field)
    if dry_run:
        found = service.dry_run(draft)
        return jsonify({"name": found.name, "audience": found.audience, "mode": found.mode, "sample": found.sample})
    try:
        plan = service.create(draft, g.actor)
    except PlanError as exc:
        return _error(422, str(exc))
    g.audit_detail = {"broadcast": plan.broadcast_id, "audience": plan.audience}
    response = jsonify({"id": plan.broadcast_id, "mode": plan.mode, "audience": plan.audience,
                        "batches": plan.batches, "skipped_monthly_limit": plan.skipped_monthly_limit})
    response.status_code = 201
    return response


@bp.post("/broadcasts/preview")
def preview_broadcast() -> Response:
    """Body: a broadcast spec plus `"to": [test openids]`; sends it to them through WeChat's preview API."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    to = body.pop("to", None)
    if not isinstance(to, list) or not 1 <= len(to) <= 20 or not all(isinstance(o, str) and o for o in to):
        return _error(400, "expected 1 to 20 test openids", "to")
    service = _service()
    try:
        refused = service.preview(service.validate(body).spec, to)
    except SpecError as exc:
        return _error(400, exc.message, exc.field)
    except MessageError as exc:
        return _error(502, str(exc))
    g.audit_detail = {"to": len(to), "refused": refused}
    return jsonify({"sent": len(to) - len(refused), "refused": refused})


@bp.get("/broadcasts/<int:broadcast_id>")
def show_broadcast(broadcast_id: int) -> Response:
    try:
        found = _service().status(broadcast_id)
    except LookupError as exc:
        return _error(404, str(exc))
    return jsonify(_status(found))


@bp.post("/broadcasts/<int:broadcast_id>/send")
def send_broadcast(broadcast_id: int) -> Response:
    """Queue the send on the RQ worker; body `{"at": "2026-12-01T10:00"}` (Asia/Seoul) schedules it."""
    service = _service()
    body = _json_body() or {}
    at = body.get("at") if isinstance(body, dict) else None
    when = None
    if at is not None:
        try:
            when = service.parse_time(str(at))
        except ValueError as exc:
            return _error(400, str(exc), "at")
    try:
        when = service.queue_send(broadcast_id, when)
    except NoScheduler as exc:
        return _error(422, f"{exc}; send without `at`", "at")
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:  # sent or cancelled
        return _error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id, **({"at": when.isoformat()} if when else {})}
    response = jsonify({"id": broadcast_id, "queued": True, "at": at})
    response.status_code = 202
    return response


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def cancel_broadcast(broadcast_id: int) -> Response:
    try:
        _service().cancel(broadcast_id)
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id}
    return jsonify({"id": broadcast_id, "status": "cancelled"})


# --- the service's results as JSON ----------------------------------------------------------------
def _summary(b: Summary) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "status": b.status, "mode": b.mode, "audience": b.audience,
            "skipped_monthly_limit": b.skipped_monthly_limit, "created_by": b.created_by,
            "created_at": b.created_at.isoformat(), "error": b.error,
            "scheduled_at": b.scheduled_at.isoformat() if b.scheduled_at else None,
            "results": b.results.as_dict()}


def _status(found: Status) -> dict[str, Any]:
    return {**_summary(found.broadcast), "batches": [
        {"seq": x.seq, "size": x.size, "status": x.status, "attempts": x.attempts, "msg_id": x.msg_id,
         "error": x.error, "total": x.total, "sent": x.sent, "errors": x.errors, "filter_count": x.filter_count}
        for x in found.batches]}
