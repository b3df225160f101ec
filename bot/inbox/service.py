"""The staff inbox: hand-offs ("转人工" nobody took), complaints and group requests in one list, answered through
WeChat's customer-service (kf) message API. The CLI (`bot/cli/inbox.py`), the admin API
(`bot/web/admin_api/inbox.py`) and the console (`bot/web/console/inbox.py`) call this; each of them writes the audit
row of what its caller did (as for every staff action), so this service writes none.

    box = inbox(current_app.extensions["yjy"])
    box.items(status="open")                       # oldest first: who has waited longest; closed: newest first
    box.assign("H12", "mei", by="mei")             # open -> assigned
    box.reply("H12", "您好，我们已为您改到15:00", by="mei")   # Sent(sent=True, reason="") -> answered
    box.close("GR2ABCDE", by="staff:mei")

A reply is sent once: a reply id (the caller's, or derived from the item and the words) is claimed in Redis before
WeChat is called. Retrying a reply that went out answers "sent" again without sending; one whose call timed out
(WeChat may have delivered it) is held back instead of risking a second copy. See `reply`.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from wechatpy.exceptions import WeChatClientException

from bot.bookings.staff import GROUP_MOVES
from bot.inbox import rules, timeline
from bot.inbox.items import (
    KINDS,
    STATUSES,
    InboxError,
    Item,
    Message,
    Sent,
    group_status,
    handoff_status,
    parse_id,
    staff_name,
)
from bot.infra.clock import SEOUL, in_seoul
from bot.infra.db.models import Follower, GroupRequest, HandoffRequest, InboxReply, ProductRow
from bot.infra.db.results import affected
from bot.wechat import replies

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
SUMMARY = 80  # characters of the one-line summary
# How long a reply id is remembered: one derived from the words, 10 minutes (the same words again later are a
# new reply: "好的" twice in a day is fine); one the caller gave, the whole 48-hour window.
DERIVED_HOLD = 600
GIVEN_HOLD = int(rules.WINDOW.total_seconds())
SENT, SENDING, UNKNOWN = "sent", "sending", "unknown"
COUNTED = ("sent", "unknown: timeout")  # a reply whose call timed out may have been delivered: it counts too
H, G = HandoffRequest, GroupRequest


class Inbox:
    """The inbox over an app's services (`current_app.extensions["yjy"]` or its `Services`): .db, .wechat (the
    gateway), .store (conversation state), .redis, .keys, .clock."""

    def __init__(self, ext: Any) -> None:
        self._s = getattr(ext, "services", ext)

    # --- reading -----------------------------------------------------------------------------------------
    def items(self, *, status: str | None = None, kind: str | None = None, assignee: str | None = None,
              limit: int = 200) -> list[Item]:
        """Items in `status` (None: every one not closed), of `kind`, assigned to `assignee`. Oldest first: the
        traveler who has waited longest is answered first, and their 48-hour window closes first. Closed ones
        newest first (what was just done)."""
        if status is not None and status not in STATUSES:
            raise InboxError(f"no inbox status {status!r}: {', '.join(STATUSES)}", 400)
        if kind is not None and kind not in KINDS:
            raise InboxError(f"no inbox kind {kind!r}: {', '.join(KINDS)}", 400)
        limit = max(1, min(int(limit), MAX_LIMIT))
        newest_first = status == "closed"
        found: list[Item] = []
        with self._s.db.session() as s:
            if kind != "group":
                query = select(H).where(_handoff_in(status))
                if kind:
                    query = query.where(H.kind == kind)
                if assignee:
                    query = query.where(H.assignee == assignee)
                order = (H.created_at.desc(), H.id.desc()) if newest_first else (H.created_at, H.id)
                found += [_handoff_item(r) for r in s.scalars(query.order_by(*order).limit(limit))]
            if kind in (None, "group"):
                query = _groups().where(_group_in(status))
                if assignee:
                    query = query.where(G.assignee == assignee)
                order = (G.created_at.desc(), G.id.desc()) if newest_first else (G.created_at, G.id)
                rows = list(s.execute(query.order_by(*order).limit(limit)))
                found += _group_items(s, rows)
        found.sort(key=lambda i: i.created_at, reverse=newest_first)
        return found[:limit]

    def get(self, item_id: str) -> Item:
        """One item with its messages (see `bot.inbox.timeline`), the end of WeChat's 48-hour window and the
        customer-service messages left in it (both None for a closed item or a traveler with no activity on
        record). InboxError 404."""
        item = self._item(*parse_id(item_id))
        with self._s.db.session() as s:
            rows = list(s.scalars(select(InboxReply).where(InboxReply.item == item.id, InboxReply.outcome == "sent")
                                  .order_by(InboxReply.at, InboxReply.id)))
            follower = s.get(Follower, item.openid)
            stored = list(s.scalar(select(H.recent).where(H.id == int(item.id[1:]))) or []) \
                if item.id.startswith("H") else []
        sent = [Message(in_seoul(r.at), staff_name(r.actor), r.text) for r in rows]
        current = self._recent(item.openid)
        if item.kind == "group":
            item.messages = timeline.group_messages(request=item.text, created_at=item.created_at, replies=sent,
                                                    current=current)
        else:
            item.messages = timeline.handoff_messages(stored=[str(t) for t in stored], text=item.text,
                                                      created_at=item.created_at, replies=sent, current=current)
        last = _utc(follower.last_active_at) if follower is not None else None
        if item.status != "closed" and follower is not None and follower.subscribed and last is not None:
            ends = rules.window_ends(last)
            assert ends is not None
            item.window_ends = ends.astimezone(SEOUL)
            now = self._s.clock.now()
            item.replies_left = 0 if now >= ends else max(0, rules.QUOTA - self._sent_since(item.openid, last))
        return item

    def counts(self) -> dict[str, int]:
        """Items per status (open, assigned, answered, closed), for the dashboard."""
        counts = dict.fromkeys(STATUSES, 0)
        with self._s.db.session() as s:
            taken = H.assignee.is_not(None)
            for stored, assigned, transferred, n in s.execute(
                    select(H.status, taken, H.transferred, func.count()).group_by(H.status, taken, H.transferred)):
                counts[handoff_status(stored, "x" if assigned else None, bool(transferred))] += n
            taken = G.assignee.is_not(None)
            for stored, assigned, n in s.execute(select(G.status, taken, func.count()).group_by(G.status, taken)):
                counts[group_status(stored, "x" if assigned else None)] += n
        return counts

    # --- changing ----------------------------------------------------------------------------------------
    def assign(self, item_id: str, assignee: str, *, by: str) -> Item:
        """Give the item to `assignee` (open -> assigned; an answered one stays answered with its new assignee).
        InboxError 400 (no name), 404, 409 (closed)."""
        name = " ".join((assignee or "").split())
        if not name or len(name) > 60:
            raise InboxError("give the name of the staff member who takes it (1 to 60 characters)", 400)
        _actor(by)
        kind, key = parse_id(item_id)
        with self._s.db.session() as s:
            if kind == "H":
                changed = affected(s.execute(update(H).where(H.id == key, H.status != "closed").values(
                    assignee=name, status=case((H.status == "open", "assigned"), else_=H.status))))
            else:
                changed = affected(s.execute(update(G).where(G.ref == key, G.status != "closed")
                                             .values(assignee=name)))
        item = self._item(kind, key)
        if not changed:
            raise InboxError(f"{item.id} is closed: it cannot be assigned", 409)
        log.info("inbox %s assigned to %s by %s", item.id, name, by)
        return item

    def close(self, item_id: str, *, by: str) -> Item:
        """Close the item (nothing more to do). InboxError 404, 409 (closed already)."""
        _actor(by)
        kind, key = parse_id(item_id)
        with self._s.db.session() as s:
            if kind == "H":
                changed = affected(s.execute(update(H).where(H.id == key, H.status != "closed")
                                             .values(status="closed", closed_at=self._s.clock.now())))
            else:
                changed = affected(s.execute(update(G).where(G.ref == key, G.status.in_(GROUP_MOVES["closed"]))
                                             .values(status="closed")))
        item = self._item(kind, key)
        if not changed:
            raise InboxError(f"{item.id} is closed already", 409)
        log.info("inbox %s closed by %s", item.id, by)
        return item

    def reply(self, item_id: str, text: str, *, by: str, reply_id: str | None = None) -> Sent:
        """Send `text` to the item's traveler as a kf text message, once.

        Refused here first, with the reason, when WeChat would refuse it (unfollowed, outside the 48-hour window,
        5 messages sent since the traveler last wrote: `bot.inbox.rules`); WeChat's own refusals (45015, 45047 ...)
        are final. Both are stored as refused replies and never retried. A sent reply moves the item to answered
        and gives it to the sender if nobody had it.

        Idempotent per reply id: `reply_id` (the caller's, e.g. one per composed message, kept 48 hours) or, by
        default, the item and the words (kept 10 minutes). A reply already sent answers Sent(True) again without
        sending; one being sent, or whose call timed out (WeChat may have delivered it), is InboxError 409 rather
        than a second copy. InboxError 400 (empty or too long), 404, 409 (closed), 502 (WeChat unreachable,
        timed out: not sent, or not known), 503 (Redis down: nothing sent).
        """
        body = rules.check_text(text)
        actor = _actor(by)
        if reply_id is not None and not (isinstance(reply_id, str) and 1 <= len(reply_id) <= 64):
            raise InboxError("a reply id is 1 to 64 characters", 400)
        kind, key = parse_id(item_id)
        item = self._item(kind, key)
        mark = self._mark(item.id, body, reply_id)
        hold = GIVEN_HOLD if reply_id else DERIVED_HOLD
        earlier = self._claim(mark, hold)
        if earlier is not None:
            return self._again(item, earlier, mark)
        try:
            if item.status == "closed":
                raise InboxError(f"{item.id} is closed: reopen a conversation by answering a newer request", 409)
            now = self._s.clock.now()
            refused = self._rules(item.openid, now)
            if refused is not None:
                self._record(item, actor, body, refused.outcome, now)
                log.info("inbox %s: reply by %s refused here (%s)", item.id, actor, refused.outcome)
                self._forget(mark)
                return Sent(False, refused.reason, refused.code, refused.facts)
        except BaseException:
            self._forget(mark)
            raise
        return self._send(item, actor, body, mark, hold, now)

    # --- the reply's steps -------------------------------------------------------------------------------
    def _rules(self, openid: str, now: datetime) -> rules.Refusal | None:
        with self._s.db.session() as s:
            follower = s.get(Follower, openid)
        if follower is None:
            return rules.refusal(now=now, subscribed=None, unsubscribed_at=None, last_active=None, sent_since=0)
        last = _utc(follower.last_active_at)
        sent = self._sent_since(openid, last) if last is not None else 0
        return rules.refusal(now=now, subscribed=bool(follower.subscribed),
                             unsubscribed_at=_utc(follower.unsubscribed_at), last_active=last, sent_since=sent)

    def _send(self, item: Item, actor: str, body: str, mark: str, hold: int, now: datetime) -> Sent:
        payload = replies.to_customer_service(replies.text(body), item.openid)
        try:
            self._s.wechat.send_custom(payload)
        except WeChatClientException as exc:
            return self._failed(item, actor, body, mark, hold, now, exc)
        except BaseException:
            self._forget(mark)
            raise
        self._set(mark, f"{SENT}|{now.isoformat()}", hold)
        name = staff_name(actor)[:60]
        try:
            with self._s.db.session() as s:
                s.add(InboxReply(item=item.id, openid=item.openid, actor=actor[:60], text=body, outcome="sent",
                                 at=now))
                if item.id.startswith("H"):
                    s.execute(update(H).where(H.id == int(item.id[1:]), H.status != "closed").values(
                        status="answered", answered_at=now, assignee=func.coalesce(H.assignee, name)))
                else:
                    contacted = case((G.status.in_(GROUP_MOVES["contacted"]), "contacted"), else_=G.status)
                    s.execute(update(G).where(G.ref == item.id, G.status != "closed").values(
                        status=contacted, assignee=func.coalesce(G.assignee, name)))
        except SQLAlchemyError:  # sent all the same: the mark keeps a retry from sending it twice
            log.exception("inbox %s: reply by %s sent, but the database did not record it", item.id, actor)
        log.info("inbox %s: reply by %s sent", item.id, actor)
        return Sent(True, "")

    def _failed(self, item: Item, actor: str, body: str, mark: str, hold: int, now: datetime,
                exc: WeChatClientException) -> Sent:
        code, detail = exc.errcode, str(exc.errmsg or "")
        if code is None and "Timeout" in detail and not detail.startswith("Connect"):
            # WeChat got the request and did not answer in time: it may have delivered it. Twice is worse than
            # not at all here, so the mark stays (see `_again`) and the reply counts against the quota.
            self._set(mark, f"{UNKNOWN}|{now.isoformat()}", hold)
            self._record(item, actor, body, "unknown: timeout", now)
            log.warning("inbox %s: reply by %s timed out: it may have been delivered", item.id, actor)
            raise InboxError("WeChat did not answer in time: the reply may or may not have reached the traveler. "
                             "It is not sent again by itself; ask the traveler, or send it in other words", 502)
        self._forget(mark)
        if code is None or code in rules.RETRY_ERRCODES:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            why = f"HTTP {status}" if status else (f"errcode {code}" if code is not None else detail.split(":")[0])
            log.warning("inbox %s: reply by %s not sent, WeChat unreachable (%s)", item.id, actor, why)
            raise InboxError(f"WeChat could not be reached ({why or 'no answer'}): the reply was not sent; try again",
                             502)
        refused = rules.wechat_refusal(code, detail)
        self._record(item, actor, body, refused.outcome, now)
        log.warning("inbox %s: reply by %s refused by WeChat (%s)", item.id, actor, code)
        return Sent(False, refused.reason, refused.code, refused.facts)

    def _again(self, item: Item, earlier: str, mark: str) -> Sent:
        """The same reply was claimed before: its outcome again, never a second copy."""
        state, _, at = earlier.partition("|")
        since = rules.stamp(datetime.fromisoformat(at)) if at else "a moment ago"
        if state == SENT:
            log.info("inbox %s: the same reply again: sent already (%s), not sent twice", item.id, since)
            return Sent(True, "")
        if state == UNKNOWN:
            left = self._ttl(mark)
            raise InboxError(f"this reply timed out at {since} and may have reached the traveler: it is not sent "
                             f"twice. Ask them, or send it in other words{_within(left)}", 409)
        raise InboxError(f"this reply is being sent right now (since {since}): look at {item.id} again in a moment",
                         409)

    def _record(self, item: Item, actor: str, body: str, outcome: str, now: datetime) -> None:
        with self._s.db.session() as s:
            s.add(InboxReply(item=item.id, openid=item.openid, actor=actor[:60], text=body, outcome=outcome[:40],
                             at=now))

    def _sent_since(self, openid: str, since: datetime) -> int:
        """kf replies counted against the traveler's quota since `since` (compared here, not in SQL: SQLite keeps
        followers' times in UTC and ours in Seoul time, both without their zone)."""
        with self._s.db.session() as s:
            times = list(s.scalars(select(InboxReply.at).where(InboxReply.openid == openid,
                                                               InboxReply.outcome.in_(COUNTED))
                                   .order_by(InboxReply.id.desc()).limit(rules.QUOTA)))
        return sum(1 for t in times if in_seoul(t) >= since)

    # --- the reply marks (Redis) -------------------------------------------------------------------------
    def _mark(self, item_id: str, body: str, reply_id: str | None) -> str:
        what = f"id:{reply_id}" if reply_id else f"text:{body}"
        digest = hashlib.sha256(f"{item_id}\n{what}".encode()).hexdigest()[:32]
        return str(self._s.keys.inbox_reply(digest))

    def _claim(self, mark: str, hold: int) -> str | None:
        """None: this call sends the reply; else what the earlier attempt left ("sent|<time>" ...)."""
        now = self._s.clock.now().isoformat()
        try:
            for _ in range(2):  # the earlier mark may expire between SET and GET
                if self._s.redis.set(mark, f"{SENDING}|{now}", nx=True, ex=hold):
                    return None
                found = self._s.redis.get(mark)
                if found is not None:
                    return found.decode() if isinstance(found, bytes) else str(found)
        except redis.RedisError as exc:
            log.warning("inbox: Redis did not answer (%s): no reply sent", type(exc).__name__)
            raise InboxError("Redis did not answer, so this reply could not be guarded against a double send: "
                             "nothing was sent; try again", 503) from None
        raise InboxError("this reply is being sent right now: look at the item again in a moment", 409)

    def _set(self, mark: str, value: str, hold: int) -> None:
        try:
            self._s.redis.set(mark, value, ex=hold)
        except redis.RedisError:  # still "sending" (or gone): a retry is held back, or checked again
            log.warning("inbox: could not update a reply mark")

    def _forget(self, mark: str) -> None:
        try:
            self._s.redis.delete(mark)
        except redis.RedisError:
            log.warning("inbox: could not clear a reply mark: the same reply is held back until it expires")

    def _ttl(self, mark: str) -> int:
        try:
            return int(self._s.redis.ttl(mark))
        except (redis.RedisError, TypeError, ValueError):
            return -1

    def _recent(self, openid: str) -> list[str]:
        """The traveler's last texts from the conversation state ([] when Redis does not answer: the rest of the
        item is still worth showing)."""
        try:
            recent = self._s.store.load(openid).get("recent") or []
        except redis.RedisError as exc:
            log.warning("inbox: conversation state of %s unreadable (%s)", openid, type(exc).__name__)
            return []
        return [str(t) for t in recent if isinstance(t, str)]

    # --- one item ----------------------------------------------------------------------------------------
    def _item(self, kind: str, key: int | str) -> Item:
        with self._s.db.session() as s:
            if kind == "H":
                row = s.get(H, key)
                if row is not None:
                    return _handoff_item(row)
            else:
                found = s.execute(_groups().where(G.ref == key)).first()
                if found is not None:
                    return _group_items(s, [found])[0]
        raise InboxError(f"no inbox item {kind}{key}" if kind == "H" else f"no group request {key}", 404)


def inbox(ext: Any) -> Inbox:
    """The inbox over an app's services: `current_app.extensions["yjy"]` or its `Services`."""
    return Inbox(ext)


# --- rows as items ---------------------------------------------------------------------------------------
def _handoff_in(status: str | None) -> Any:
    taken = (H.assignee.is_not(None)) | (H.transferred.is_(True))
    untaken = H.assignee.is_(None) & H.transferred.is_not(True)
    return {"open": (H.status == "open") & untaken,
            "assigned": (H.status == "assigned") | ((H.status == "open") & taken),
            "answered": H.status == "answered", "closed": H.status == "closed", None: H.status != "closed"}[status]


def _group_in(status: str | None) -> Any:
    return {"open": (G.status == "new") & G.assignee.is_(None),
            "assigned": (G.status == "new") & G.assignee.is_not(None),
            "answered": G.status == "contacted", "closed": G.status == "closed", None: G.status != "closed"}[status]


def _groups() -> Any:  # Select[GroupRequest, str]
    return select(G, ProductRow.name).outerjoin(ProductRow, ProductRow.id == G.product_id)


def _handoff_item(row: HandoffRequest) -> Item:
    text = row.text or ""
    return Item(id=f"H{row.id}", kind=row.kind, status=handoff_status(row.status, row.assignee, bool(row.transferred)),
                assignee=row.assignee, openid=row.openid, lang=row.lang or "zh-CN", text=text,
                created_at=in_seoul(row.created_at), answered_at=_seoul(row.answered_at),
                closed_at=_seoul(row.closed_at), summary=_one_line(text), transferred=bool(row.transferred))


def _group_items(s: Any, rows: list[Any]) -> list[Item]:
    """Group requests as items: their travelers' languages and last replies in one query each."""
    if not rows:
        return []
    openids = {r[0].openid for r in rows}
    refs = [r[0].ref for r in rows]
    langs = dict(s.execute(select(Follower.openid, Follower.language).where(Follower.openid.in_(openids))).all())
    answered = dict(s.execute(select(InboxReply.item, func.max(InboxReply.at))
                              .where(InboxReply.item.in_(refs), InboxReply.outcome == "sent")
                              .group_by(InboxReply.item)).all())
    items = []
    for g, product_name in rows:
        party = g.adults + g.children
        summary = f"{g.product_id} {g.day.isoformat()} {g.slot}, party {party}"
        text = (f"group request {g.ref}: {product_name or g.product_id} on {g.day.isoformat()} at {g.slot}, "
                f"{g.adults} adult(s) and {g.children} child(ren); contact {g.contact_name} {g.phone}")
        items.append(Item(id=g.ref, kind="group", status=group_status(g.status, g.assignee), assignee=g.assignee,
                          openid=g.openid, lang=langs.get(g.openid) or "zh-CN", text=text,
                          created_at=in_seoul(g.created_at), answered_at=_seoul(answered.get(g.ref)), closed_at=None,
                          summary=summary, transferred=False))
    return items


def _one_line(text: str) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= SUMMARY else line[:SUMMARY - 1] + "…"


def _actor(by: str) -> str:
    actor = (by or "").strip() if isinstance(by, str) else ""
    if not actor:
        raise InboxError("say who does it (by)", 400)
    return actor


def _seoul(when: datetime | None) -> datetime | None:
    return in_seoul(when) if when is not None else None


def _utc(when: datetime | None) -> datetime | None:
    """A follower's time, aware. `bot.followers.records` writes them in UTC; SQLite gives them back without a zone."""
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _within(seconds: int) -> str:
    if seconds <= 0:
        return ""
    return f"; the same words can be sent again in {max(1, round(seconds / 60))} minute(s)"

