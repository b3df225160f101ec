"""`/admin/api/`: the marketers' HTTP API for broadcasts. Bearer tokens from config; JSON in and out.

Without a valid token nothing is readable (401); every authenticated call that changes something is
written to the audit log with the caller's token fingerprint.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select

from bot.broadcasts import planning as broadcasts
from bot.infra.db.models import AdminAudit, Broadcast, BroadcastBatch

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin/api")


def _error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def _ext():  # type: ignore[no-untyped-def]
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
        try:
            with _ext().db.session() as s:
                s.add(AdminAudit(at=datetime.now(timezone.utc), actor=g.actor, method=request.method,
                                 path=request.path[:200], status=response.status_code,
                                 detail=getattr(g, "audit_detail", {})))
        except Exception:  # noqa: BLE001 - the action happened; say so in the log at least
            log.exception("could not write the admin audit record for %s %s", request.method, request.path)
    return response


def _json_body() -> Any:
    if not request.is_json:
        return None
    return request.get_json(silent=True)


@bp.get("/broadcasts")
def list_broadcasts() -> Response:
    with _ext().db.session() as s:
        rows = list(s.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(100)))
        found = broadcasts.results(_ext().db, [b.id for b in rows])
        return jsonify([{**_summary(b), "results": found[b.id].as_dict()} for b in rows])


@bp.post("/broadcasts")
def create_broadcast() -> Response:
    """Body: a broadcast spec as JSON, plus `"dry_run": true` for the audience size and a sample only."""
    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    dry_run = body.pop("dry_run", False) is True
    try:
        name, spec, segment = broadcasts.validate_spec(body, _ext().content)
    except broadcasts.SpecError as exc:
        return _error(400, exc.message, exc.field)
    ext = _ext()
    now = ext.clock.now()
    if dry_run:
        return jsonify({"name": name, "audience": segment.count(ext.db, now), "mode": segment.mode,
                        "sample": broadcasts.sample(ext.db, segment, now)})
    try:
        plan = broadcasts.create(ext.db, name, spec, segment, g.actor, now)
    except broadcasts.PlanError as exc:
        return _error(422, str(exc))
    g.audit_detail = {"broadcast": plan.broadcast_id, "audience": plan.audience}
    response = jsonify({"id": plan.broadcast_id, "mode": plan.mode, "audience": plan.audience,
                        "batches": plan.batches, "skipped_monthly_limit": plan.skipped_monthly_limit})
    response.status_code = 201
    return response


@bp.post("/broadcasts/preview")
def preview_broadcast() -> Response:
    """Body: a broadcast spec plus `"to": [test openids]`; sends it to them through WeChat's preview API."""
    from wechatpy.exceptions import WeChatClientException

    from bot.broadcasts import sending as broadcast_send
    from bot.broadcasts.news import NewsComposer

    body = _json_body()
    if not isinstance(body, dict):
        return _error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    to = body.pop("to", None)
    if not isinstance(to, list) or not 1 <= len(to) <= 20 or not all(isinstance(o, str) and o for o in to):
        return _error(400, "expected 1 to 20 test openids", "to")
    try:
        _name, spec, _segment = broadcasts.validate_spec(body, _ext().content)
        refused = broadcast_send.preview(_ext().api, spec, to, compose=NewsComposer(_ext().services).payload)
    except broadcasts.SpecError as exc:
        return _error(400, exc.message, exc.field)
    except (WeChatClientException, ValueError) as exc:
        return _error(502, f"could not compose the message: {exc}")
    g.audit_detail = {"to": len(to), "refused": refused}
    return jsonify({"sent": len(to) - len(refused), "refused": refused})


@bp.get("/broadcasts/<int:broadcast_id>")
def show_broadcast(broadcast_id: int) -> Response:
    with _ext().db.session() as s:
        b = s.get(Broadcast, broadcast_id)
        if b is None:
            return _error(404, f"no broadcast {broadcast_id}")
        batches = s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == broadcast_id)
                            .order_by(BroadcastBatch.seq))
        results = broadcasts.results(_ext().db, [b.id])[b.id].as_dict()
        return jsonify({**_summary(b), "results": results, "batches": [
            {"seq": x.seq, "size": x.size, "status": x.status, "attempts": x.attempts, "msg_id": x.msg_id,
             "error": x.error, "total": x.total_count, "sent": x.sent_count, "errors": x.error_count,
             "filter_count": x.filter_count} for x in batches]})


@bp.post("/broadcasts/<int:broadcast_id>/send")
def send_broadcast(broadcast_id: int) -> Response:
    """Queue the send on the RQ worker; body `{"at": "2026-12-01T10:00"}` (Asia/Seoul) schedules it."""
    ext = _ext()
    body = _json_body() or {}
    at = body.get("at") if isinstance(body, dict) else None
    when = None
    if at is not None:
        try:
            when = broadcasts.parse_send_time(str(at), ext.clock.now())
        except ValueError as exc:
            return _error(400, str(exc), "at")
    try:
        broadcasts.queue_send(ext.db, ext.queue, broadcast_id, when, ext.config.embedded_redis)
    except broadcasts.NoScheduler as exc:
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
        broadcasts.cancel(_ext().db, broadcast_id)
    except LookupError as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id}
    return jsonify({"id": broadcast_id, "status": "cancelled"})


def _summary(b: Broadcast) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "status": b.status, "mode": b.mode, "audience": b.audience,
            "skipped_monthly_limit": b.skipped_monthly_limit, "created_by": b.created_by,
            "created_at": b.created_at.isoformat(), "error": b.error,
            "scheduled_at": b.scheduled_at.isoformat() if b.scheduled_at else None}
