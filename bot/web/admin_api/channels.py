"""`/admin/api/channels`: acquisition channels (influencers, campaigns, hotel desks) for marketers' tools.

Routes on the admin API's blueprint (its bearer tokens and audit log):

    GET  /admin/api/channels                                 the channels and their QR code images
    POST /admin/api/channels {"id": "kol_hallyu_01", "name": "韩流KOL 01"}   201 made, 200 it existed
    GET  /admin/api/channels/report?from=2026-12-01&to=2026-12-07[&format=csv]
"""
from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import Response, g, jsonify, request
from wechatpy.exceptions import WeChatClientException

from bot.followers import channels
from bot.infra.db.models import Channel
from bot.web.admin_api import app_ext, bp, error, json_body, seoul_time


@bp.get("/channels")
def list_channels() -> Response:
    return jsonify([_channel(c) for c in channels.all_channels(app_ext().db)])


@bp.post("/channels")
def create_channel() -> Response:
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    channel_id, name = body.get("id"), body.get("name", "")
    if not isinstance(channel_id, str) or not channel_id:
        return error(400, "id is required: the QR code's scene string, e.g. kol_hallyu_01", "id")
    if not isinstance(name, str):
        return error(400, "name must be a string", "name")
    ext = app_ext()
    try:
        made = channels.create(ext.db, ext.wechat, channel_id, name, ext.clock.now())
    except channels.ChannelError as exc:
        return error(400, str(exc), exc.field)
    except WeChatClientException as exc:
        return error(502, f"WeChat refused the QR code: {exc.errcode} {exc.errmsg}")
    g.audit_detail = {"channel": made.channel.id, "new": made.new}
    response = jsonify({**_channel(made.channel), "new": made.new})
    response.status_code = 201 if made.new else 200
    return response


@bp.get("/channels/report")
def channel_report() -> Response:
    first, last = _day("from"), _day("to")
    if isinstance(first, Response):
        return first
    if isinstance(last, Response):
        return last
    if (last - first).days >= channels.REPORT_MAX_DAYS:
        return error(400, f"a report covers at most {channels.REPORT_MAX_DAYS} days", "to")
    try:
        lines = channels.report(app_ext().db, first, last)
    except channels.ChannelError as exc:
        return error(400, str(exc), exc.field)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        channels.write_csv(lines, out)
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="channels-{first}-{last}.csv"'})
    return jsonify({"from": first.isoformat(), "to": last.isoformat(),
                    "channels": [{"id": line.channel, "name": line.name, **line.counts()} for line in lines]})


def _day(name: str) -> date | Response:
    raw = request.args.get(name, "")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return error(400, f"{name} must be a day like 2026-12-01 (Seoul), not {raw!r}" if raw
                      else f"{name} is required: a day like 2026-12-01 (Seoul)", name)


def _channel(c: Channel) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "image_url": c.image_url, "url": c.url, "created_at": seoul_time(c.created_at)}
