"""`/admin/api/inbox`: the staff inbox (bot.inbox) over HTTP, on the admin API's blueprint (its bearer tokens and
its audit row per call: every change, and every read of travelers' messages).

    GET  /admin/api/inbox?status=open&kind=complaint&assignee=mei   items (default: all not closed) and counts
    GET  /admin/api/inbox/H12                                       one item, its messages, window, replies left
    POST /admin/api/inbox/H12/assign  {"to": "mei"}
    POST /admin/api/inbox/H12/reply   {"text": "...", "reply_id": "optional, sent once per id"}
    POST /admin/api/inbox/H12/close

A reply answers 201 when sent, 422 with the reason when refused (here or by WeChat), 502 when WeChat could not
be reached or did not answer (the reason says whether it may have been delivered). Long numbers (phones) in the
texts are masked, as in the orders API.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, request

from bot.web.admin_api import app_ext, bp, error, json_body, seoul_time

if TYPE_CHECKING:
    from bot.inbox import Inbox, InboxError, Item


def _inbox() -> Inbox:
    from bot.inbox import inbox  # loads on first use, like the other services

    return inbox(app_ext())


def _refused(exc: InboxError) -> Response:
    g.audit_detail = {**getattr(g, "audit_detail", {}), "refused": exc.message[:300]}
    return error(exc.status, exc.message)


def _object() -> dict[str, Any] | Response:
    """The JSON object of the body, or the error to answer (415 not JSON, 400 not an object)."""
    body = json_body()
    if not isinstance(body, dict):
        return error(415 if not request.is_json else 400, "expected a JSON object (Content-Type: application/json)")
    return body


@bp.get("/inbox")
def list_items() -> Response:
    """`?status=open|assigned|answered|closed` (default: all not closed), `&kind=handoff|complaint|group`,
    `&assignee=<name>`: items oldest first (closed: newest first), and the counts per status."""
    from bot.inbox import InboxError

    g.audit_read = True
    args = request.args
    try:
        box = _inbox()
        found = box.items(status=args.get("status") or None, kind=args.get("kind") or None,
                          assignee=args.get("assignee") or None)
        counts = box.counts()
    except InboxError as exc:
        return error(exc.status, exc.message, field="status" if "status" in exc.message else "kind")
    g.audit_detail = {"items": len(found)}
    return jsonify({"items": [_item(i) for i in found], "count": len(found), "counts": counts})


@bp.get("/inbox/<item_id>")
def show_item(item_id: str) -> Response:
    """One item with the traveler's messages and staff's replies, the end of WeChat's 48-hour window and the
    customer-service messages left in it."""
    from bot.inbox import InboxError

    g.audit_read = True
    g.audit_detail = {"item": item_id[:20]}
    try:
        item = _inbox().get(item_id)
    except InboxError as exc:
        return _refused(exc)
    return jsonify(_item(item, full=True))


@bp.post("/inbox/<item_id>/assign")
def assign_item(item_id: str) -> Response:
    """Body `{"to": "mei"}`."""
    from bot.inbox import InboxError

    body = _object()
    if isinstance(body, Response):
        return body
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        return error(400, "expected to: the name of the staff member who takes it", field="to")
    g.audit_detail = {"item": item_id[:20], "to": to[:60]}
    try:
        item = _inbox().assign(item_id, to, by=g.actor)
    except InboxError as exc:
        return _refused(exc)
    return jsonify(_item(item))


@bp.post("/inbox/<item_id>/reply")
def reply_item(item_id: str) -> Response:
    """Body `{"text": "...", "reply_id": "..."}` (reply_id optional: one per composed message makes a retried
    request safe for 48 hours; without it the same words to the same item within 10 minutes are one reply)."""
    from bot.inbox import InboxError

    body = _object()
    if isinstance(body, Response):
        return body
    text, reply_id = body.get("text"), body.get("reply_id")
    if not isinstance(text, str):
        return error(400, "expected text: the reply (1 to 600 characters)", field="text")
    if reply_id is not None and not isinstance(reply_id, str):
        return error(400, "expected reply_id as a string (1 to 64 characters)", field="reply_id")
    g.audit_detail = {"item": item_id[:20]}
    box = _inbox()
    try:
        sent = box.reply(item_id, text, by=g.actor, reply_id=reply_id)
    except InboxError as exc:
        if exc.status == 400:
            g.audit_detail["refused"] = exc.message[:300]
            return error(400, exc.message, field="reply_id" if "reply id" in exc.message else "text")
        return _refused(exc)
    g.audit_detail.update(sent=sent.sent, reason=sent.reason[:300])
    if not sent.sent:
        return error(422, sent.reason, sent=False, reason=sent.reason)
    response = jsonify({"sent": True, "reason": "", "item": _item(box.get(item_id))})
    response.status_code = 201
    return response


@bp.post("/inbox/<item_id>/close")
def close_item(item_id: str) -> Response:
    from bot.inbox import InboxError

    g.audit_detail = {"item": item_id[:20]}
    try:
        item = _inbox().close(item_id, by=g.actor)
    except InboxError as exc:
        return _refused(exc)
    return jsonify(_item(item))


# --- items as JSON ---------------------------------------------------------------------------------------
# A phone or passport number: 7+ characters of digits, spaces and dashes, not inside a longer one, not a day
# (2026-05-20 07:30 in a group request stays readable).
_NUMBER = re.compile(r"(?<![\d+-])(?!\d{4}-\d{2}-\d{2})\+?\d[\d -]{5,}\d")


def _masked(text: str) -> str:
    """Long numbers masked: a stored phone (+8613812345678) as the orders API shows it (+86 138****5678), others
    (typed in the chat) as the conversation state keeps them (138****78)."""
    from bot.web.pages import mask_phone

    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        digits = found.replace(" ", "").replace("-", "")
        return mask_phone(found) if found.startswith("+") and found[1:].isdigit() else digits[:3] + "****" + digits[-2:]
    return _NUMBER.sub(mask, text)


def _item(item: Item, full: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": item.id, "kind": item.kind, "status": item.status, "assignee": item.assignee, "openid": item.openid,
        "lang": item.lang, "text": _masked(item.text), "summary": _masked(item.summary),
        "transferred": item.transferred, "created_at": seoul_time(item.created_at),
        "answered_at": seoul_time(item.answered_at), "closed_at": seoul_time(item.closed_at)}
    if full:
        found.update(messages=[{"at": seoul_time(m.at), "who": m.who, "text": _masked(m.text)} for m in item.messages],
                     window_ends=seoul_time(item.window_ends), replies_left=item.replies_left)
    return found
