"""`/admin/inbox`: hand-offs, complaints and group requests waiting for staff (`bot.inbox`), filtered by
status, kind and "mine"; one item with the traveler's messages, the customer-service window and the replies
left in it, the traveler's latest orders (each a link to the order), and its actions: assign to me, reply,
close. A refusal (the window closed, already closed ...) is shown with its reason and status; a success goes
back to the item (POST/redirect/GET)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, request

from bot.web.console.common import audit_detail, audit_read, back, bp, ext, me, refuse, render, words
from bot.web.console.orders import PILLS, traveler_orders

if TYPE_CHECKING:
    from bot.inbox import InboxError

STATUSES = ("open", "assigned", "answered", "closed")
KINDS = ("handoff", "complaint", "group")


def _inbox() -> Any:
    from bot.inbox import inbox  # loads on first use, like the other services

    return inbox(ext())


def _max_reply() -> int:
    from bot.inbox.rules import MAX_TEXT

    return MAX_TEXT


def _errors() -> type[InboxError]:
    from bot.inbox import InboxError

    return InboxError


@bp.get("/inbox")
def inbox() -> Response:
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    mine = request.args.get("mine") == "1"
    if (status and status not in STATUSES) or (kind and kind not in KINDS):
        return refuse(400, words()["inbox"]["bad_filter"])
    box = _inbox()
    items = box.items(status=status or None, kind=kind or None, assignee=me().name if mine else None)
    audit_read(inbox=len(items))
    return render("inbox", items=items, counts=box.counts(), status=status, kind=kind, mine=mine,
                  statuses=STATUSES, kinds=KINDS)


def _item_page(item_id: str, status: int = 200, error: str = "", draft: str = "") -> Response:
    try:
        item = _inbox().get(item_id)
    except _errors() as exc:
        return refuse(exc.status, exc.message, link=("console.inbox", {}))
    orders = traveler_orders(item.openid)
    audit_read(item=item_id, orders=len(orders))
    return render("inbox_item", status, item=item, error=error, draft=draft, done=request.args.get("done", ""),
                  max_reply=_max_reply(), orders=orders, pills=PILLS)


@bp.get("/inbox/<item_id>")
def inbox_item(item_id: str) -> Response:
    return _item_page(item_id)


@bp.post("/inbox/<item_id>/assign")
def inbox_assign(item_id: str) -> Response:
    try:
        _inbox().assign(item_id, me().name, by=me().actor)
    except _errors() as exc:
        audit_detail(item=item_id, refused=exc.message[:200])
        return _item_page(item_id, exc.status, exc.message)
    audit_detail(item=item_id, assignee=me().name)
    return back("console.inbox_item", item_id=item_id, done="assigned")


@bp.post("/inbox/<item_id>/reply")
def inbox_reply(item_id: str) -> Response:
    t = words()["inbox"]
    text = request.form.get("text", "").strip()
    if not text:
        return _item_page(item_id, 400, t["reply_empty"])
    if len(text) > _max_reply():
        return _item_page(item_id, 400, t["reply_long"].format(max=_max_reply()), draft=text)
    try:
        sent = _inbox().reply(item_id, text, by=me().actor)
    except _errors() as exc:
        audit_detail(item=item_id, refused=exc.message[:200])
        return _item_page(item_id, exc.status, exc.message, draft=text)
    audit_detail(item=item_id, sent=sent.sent, reason=sent.reason[:200])
    if not sent.sent:
        said = t["refusals"].get(sent.code)
        reason = said.format(**sent.facts) if said else sent.reason  # in the page's language when it has words
        return _item_page(item_id, 409, t["reply_not_sent"].format(reason=reason), draft=text)
    return back("console.inbox_item", item_id=item_id, done="replied")


@bp.post("/inbox/<item_id>/close")
def inbox_close(item_id: str) -> Response:
    try:
        _inbox().close(item_id, by=me().actor)
    except _errors() as exc:
        audit_detail(item=item_id, refused=exc.message[:200])
        return _item_page(item_id, exc.status, exc.message)
    audit_detail(item=item_id)
    return back("console.inbox_item", item_id=item_id, done="closed")
