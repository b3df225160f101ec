"""`/admin/api/broadcasts`: mass messages (群发) through `bot.broadcasts.service`: plan (or dry-run), preview, send
now or at a time, cancel, results."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, request

from bot.broadcasts.errors import MessageError, NoScheduler, PlanError, SpecError
from bot.web.admin_api import app_ext, bp, error, json_body

if TYPE_CHECKING:
    from bot.broadcasts.service import BroadcastService, Status, Summary


def _service() -> BroadcastService:
    from bot.broadcasts.service import broadcast_service  # the broadcast machinery loads on first use

    return broadcast_service(app_ext())


@bp.get("/broadcasts")
def list_broadcasts() -> Response:
    return jsonify([_summary(b) for b in _service().newest(100)])


@bp.post("/broadcasts")
def create_broadcast() -> Response:
    """Body: a broadcast spec as JSON, plus `"dry_run": true` for the audience size and a sample only."""
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    dry_run = body.pop("dry_run", False) is True
    service = _service()
    try:
        draft = service.validate(body)
    except SpecError as exc:
        return error(400, exc.message, exc.field)
    try:
        if dry_run:  # counted as create would freeze it, and refused (422) the same way
            found = service.dry_run(draft)
            return jsonify({"name": found.name, "audience": found.audience, "mode": found.mode,
                            "batches": found.batches, "skipped_monthly_limit": found.skipped_monthly_limit,
                            "sample": found.sample})
        plan = service.create(draft, g.actor)
    except PlanError as exc:
        return error(422, str(exc))
    g.audit_detail = {"broadcast": plan.broadcast_id, "audience": plan.audience}
    response = jsonify({"id": plan.broadcast_id, "mode": plan.mode, "audience": plan.audience,
                        "batches": plan.batches, "skipped_monthly_limit": plan.skipped_monthly_limit})
    response.status_code = 201
    return response


@bp.post("/broadcasts/preview")
def preview_broadcast() -> Response:
    """Body: a broadcast spec plus `"to": [test openids]`; sends it to them through WeChat's preview API."""
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    to = body.pop("to", None)
    if not isinstance(to, list) or not 1 <= len(to) <= 20 or not all(isinstance(o, str) and o for o in to):
        return error(400, "expected 1 to 20 test openids", "to")
    service = _service()
    try:
        refused = service.preview(service.validate(body).spec, to)
    except SpecError as exc:
        return error(400, exc.message, exc.field)
    except MessageError as exc:
        return error(502, str(exc))
    g.audit_detail = {"to": len(to), "refused": refused}
    return jsonify({"sent": len(to) - len(refused), "refused": refused})


@bp.get("/broadcasts/<int:broadcast_id>")
def show_broadcast(broadcast_id: int) -> Response:
    try:
        found = _service().status(broadcast_id)
    except LookupError as exc:
        return error(404, str(exc))
    return jsonify(_status(found))


@bp.post("/broadcasts/<int:broadcast_id>/send")
def send_broadcast(broadcast_id: int) -> Response:
    """Queue the send on the RQ worker; body `{"at": "2026-12-01T10:00"}` (Asia/Seoul) schedules it, and
    `{"skip_failed": true}` gives up on the batches WeChat refused (otherwise the send retries them)."""
    service = _service()
    body = json_body() or {}
    at = body.get("at") if isinstance(body, dict) else None
    skip_failed = isinstance(body, dict) and body.get("skip_failed", False)
    if skip_failed not in (True, False):
        return error(400, "expected true or false", "skip_failed")
    when = None
    if at is not None:
        try:
            when = service.parse_time(str(at))
        except ValueError as exc:
            return error(400, str(exc), "at")
    skipped = None
    try:
        service.check_sendable(broadcast_id)  # nothing given up on a broadcast that cannot be sent
        if skip_failed:
            batches, followers = service.skip_failed(broadcast_id)
            skipped = {"batches": batches, "followers": followers}
        when = service.queue_send(broadcast_id, when)
    except NoScheduler as exc:
        return error(422, f"{exc}; send without `at`", "at")
    except LookupError as exc:
        return error(404, str(exc))
    except ValueError as exc:  # sent or cancelled
        return error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id, **({"at": when.isoformat()} if when else {}),
                      **({"skipped": skipped} if skipped else {})}
    response = jsonify({"id": broadcast_id, "queued": True, "at": at, **({"skipped": skipped} if skipped else {})})
    response.status_code = 202
    return response


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def cancel_broadcast(broadcast_id: int) -> Response:
    try:
        _service().cancel(broadcast_id)
    except LookupError as exc:
        return error(404, str(exc))
    except ValueError as exc:
        return error(409, str(exc))
    g.audit_detail = {"broadcast": broadcast_id}
    return jsonify({"id": broadcast_id, "status": "cancelled"})


def _summary(b: Summary) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "status": b.status, "mode": b.mode, "audience": b.audience,
            "skipped_monthly_limit": b.skipped_monthly_limit, "created_by": b.created_by,
            "created_at": b.created_at.isoformat(), "error": b.error,
            "scheduled_at": b.scheduled_at.isoformat() if b.scheduled_at else None,
            "results": b.results.as_dict(), "not_reached": b.not_reached}


def _status(found: Status) -> dict[str, Any]:
    return {**_summary(found.broadcast), "batches": [
        {"seq": x.seq, "size": x.size, "status": x.status, "attempts": x.attempts, "msg_id": x.msg_id,
         "error": x.error, "total": x.total, "sent": x.sent, "errors": x.errors, "filter_count": x.filter_count}
        for x in found.batches]}
