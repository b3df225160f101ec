"""Durable data. Schema changes go through Alembic migrations in `bot/db/migrations/`."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Follower(Base):
    """A WeChat user of the account, kept current from subscribe / unsubscribe / any message."""

    __tablename__ = "followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    qrscene: Mapped[str | None] = mapped_column(String(64))  # acquisition channel (campaign QR code)
    first_channel: Mapped[str | None] = mapped_column(String(64))  # the first channel they came through: kept
    last_channel: Mapped[str | None] = mapped_column(String(64))  # the latest channel they scanned or followed
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    tags: Mapped[list[int]] = mapped_column(JSON, default=list)  # WeChat tag ids
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_followers_subscribed_last_active", "subscribed", "last_active_at"),
        Index("ix_followers_qrscene", "qrscene"),
        Index("ix_followers_first_channel", "first_channel"),
        Index("ix_followers_last_channel", "last_channel"),
    )


class ProductRow(Base):
    """A bookable product as last synced from content/products.yaml (`flask products sync`).

    Products that leave the file are retired, never deleted: bookings keep pointing at them.
    """

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    data: Mapped[dict] = mapped_column(JSON)  # the product's fields at the last sync (prices, rules)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlotInventory(Base):
    """Seats of one product on one day and start time: taken only by a conditional UPDATE."""

    __tablename__ = "slot_inventory"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[str] = mapped_column(String(5), primary_key=True)  # "HH:MM"
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("taken >= 0 AND taken <= capacity", name="ck_slot_inventory_taken"),)


class _Reservation:
    """What a booking and a group request both record: who, what, when, how many, how to reach them."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(12), unique=True)
    # One per confirmed flow: a retried or double-tapped "确认" finds this one.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(5))
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer, default=0)
    contact_name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Booking(_Reservation, Base):
    """An order. Its status moves only through `bot.bookings.lifecycle` (a conditional UPDATE and a
    BookingEvent row per move): see the README's "Orders" for the statuses and who moves them."""

    __tablename__ = "bookings"

    product_name: Mapped[str] = mapped_column(String(120))  # as booked, even if the product changes later
    price_krw: Mapped[int] = mapped_column(Integer)  # before the coupon
    discount_krw: Mapped[int] = mapped_column(Integer, default=0)
    coupon_id: Mapped[str | None] = mapped_column(String(40))
    # pending_payment | paid | redeemed | cancelled | expired | refunding | refunded; confirmed: paid to the partner
    # on site (payment on_site) or booked before payments existed (payment legacy)
    status: Mapped[str] = mapped_column(String(16), default="pending_payment")
    payment: Mapped[str] = mapped_column(String(10), default="wechat")  # wechat | on_site | free | legacy
    lang: Mapped[str] = mapped_column(String(16), default="zh-CN")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # seats held unpaid until
    pay_currency: Mapped[str | None] = mapped_column(String(3))  # what WeChat Pay was asked for
    pay_total: Mapped[int | None] = mapped_column(Integer)  # in that currency's minimal unit (won, fen)
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepaid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a prepay_id lasts 2 hours
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    redeemed_by: Mapped[str | None] = mapped_column(String(60))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the day-before reminder

    __table_args__ = (Index("ix_bookings_status_hold", "status", "hold_until"),
                      Index("ix_bookings_day_product", "day", "product_id"))

    @property
    def total_krw(self) -> int:
        return self.price_krw - self.discount_krw


class BookingTraveler(Base):
    """One traveler's passport details for a booking whose product needs them (the DMZ checkpoint list)."""

    __tablename__ = "booking_travelers"

    booking_ref: Mapped[str] = mapped_column(ForeignKey("bookings.ref"), primary_key=True)
    passport_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # as in the passport
    nationality: Mapped[str] = mapped_column(String(3))  # ISO 3166 alpha-3, e.g. CHN
    birth_date: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupRequest(_Reservation, Base):
    """A party too large for instant booking: staff call back with an offer."""

    __tablename__ = "group_requests"

    status: Mapped[str] = mapped_column(String(16), default="new")  # new | contacted | closed
    assignee: Mapped[str | None] = mapped_column(String(60))  # the staff member handling it (inbox)


class CouponClaim(Base):
    """A follower's claim of a campaign coupon: once per follower, spent by at most one booking."""

    __tablename__ = "coupon_claims"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    coupon_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_ref: Mapped[str | None] = mapped_column(String(12))


class Broadcast(Base):
    """A marketer's mass message (群发): what, to whom, when, and how it went."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[dict] = mapped_column(JSON)  # the validated broadcast file / API body
    mode: Mapped[str] = mapped_column(String(8))  # all | tag | openids: which WeChat API sends it
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned|sending|sent|stopped|cancelled
    audience: Mapped[int] = mapped_column(Integer, default=0)
    skipped_monthly_limit: Mapped[int] = mapped_column(Integer, default=0)
    month: Mapped[str | None] = mapped_column(String(7))  # whose monthly receive limit it counts against
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(300))


class BroadcastBatch(Base):
    """One WeChat mass-send call. Its own `clientmsgid` makes a resumed send skip it once sent."""

    __tablename__ = "broadcast_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    clientmsgid: Mapped[str] = mapped_column(String(64), unique=True)
    openids: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty for all / tag sends
    lang: Mapped[str] = mapped_column(String(16), default="zh-CN")  # which of the broadcast's texts it gets
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    msg_id: Mapped[str | None] = mapped_column(String(32), index=True)
    msg_data_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # From MASSSENDJOBFINISH: what WeChat says happened to this batch.
    total_count: Mapped[int | None] = mapped_column(Integer)
    sent_count: Mapped[int | None] = mapped_column(Integer)
    error_count: Mapped[int | None] = mapped_column(Integer)
    filter_count: Mapped[int | None] = mapped_column(Integer)  # WeChat's FilterCount: left AFTER its filters

    __table_args__ = (UniqueConstraint("broadcast_id", "seq", name="uq_broadcast_batches_seq"),)


class MassReceipt(Base):
    """How many broadcasts reached a follower in a calendar month (WeChat allows 4 for service accounts)."""

    __tablename__ = "mass_receipts"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11", Beijing time
    received: Mapped[int] = mapped_column(Integer, default=0)


class AdminAudit(Base):
    """Who did what through the admin API or the CLI (a token is named by a hash prefix, never stored)."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(60))  # "token:<8 hex of its sha256>" or "cli:<who>"
    method: Mapped[str] = mapped_column(String(8))  # the HTTP method, or "CLI"
    path: Mapped[str] = mapped_column(String(200))  # the API path, or the command line
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status, or the command's exit code
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class FollowerInterest(Base):
    """A category a follower asked about (美食, 韩流 ...) or booked a product of: an audience for broadcasts."""

    __tablename__ = "follower_interests"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WeChatMedia(Base):
    """A file uploaded to WeChat as permanent material (a news thumbnail), by the hash of its bytes,
    so it is uploaded once however many broadcasts use it."""

    __tablename__ = "wechat_media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # WeChat's material type: thumb, image
    media_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))  # the file it came from, for people reading the table
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HandoffRequest(Base):
    """A traveler asked for a person ("转人工") or complained ("投诉"): what staff follow up on.

    `source` is the WeChat delivery it came from (sender + message id + time), so a retried delivery
    records nothing more. Phone and passport numbers a traveler typed stay here, never in log lines.
    """

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # handoff | complaint
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | assigned | answered | closed
    text: Mapped[str] = mapped_column(String(1000), default="")  # what they wrote (truncated)
    recent: Mapped[list[str]] = mapped_column(JSON, default=list)  # their last few messages before it
    lang: Mapped[str] = mapped_column(String(16), default="zh-CN")
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)  # handed to a kf agent online
    source: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee: Mapped[str | None] = mapped_column(String(60))  # the staff member handling it
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last staff reply sent

    __table_args__ = (Index("ix_handoff_requests_openid_status", "openid", "status"),
                      Index("ix_handoff_requests_status_created", "status", "created_at"))


class BookingEvent(Base):
    """One move of an order's status: from what, to what, who or what moved it, why. Never edited."""

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    booking_ref: Mapped[str] = mapped_column(ForeignKey("bookings.ref"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    from_status: Mapped[str | None] = mapped_column(String(16))  # None: the order was created
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(60))  # traveler | wechatpay:notify | job:expire | staff:<name> ...
    reason: Mapped[str] = mapped_column(String(60), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class PaymentNotice(Base):
    """A WeChat Pay notification taken, by its envelope id: a repeated one is answered and not applied again."""

    __tablename__ = "payment_notices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    out_trade_no: Mapped[str] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(40))


class Refund(Base):
    """Money going back for an order: one row per refund request, `out_refund_no` is WeChat's idempotency key."""

    __tablename__ = "refunds"

    out_refund_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    booking_ref: Mapped[str] = mapped_column(ForeignKey("bookings.ref"), index=True)
    amount_krw: Mapped[int] = mapped_column(Integer)
    pay_amount: Mapped[int] = mapped_column(Integer)  # in the order's pay_currency unit
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested|PROCESSING|SUCCESS|CLOSED|ABNORMAL
    reason: Mapped[str] = mapped_column(String(80), default="")
    requested_by: Mapped[str] = mapped_column(String(60))
    refund_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Channel(Base):
    """An acquisition channel (an influencer, a campaign, a hotel desk): its permanent QR code's scene string."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the QR code's scene_str
    name: Mapped[str] = mapped_column(String(120))
    ticket: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(300))  # what the QR code encodes
    image_url: Mapped[str] = mapped_column(String(400))  # showqrcode?ticket=...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChannelScan(Base):
    """A follow or scan through a channel's QR code. `source` is the WeChat delivery it came from, so a
    retried event records once."""

    __tablename__ = "channel_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(10))  # subscribe | scan
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(160), unique=True)

    __table_args__ = (Index("ix_channel_scans_channel_at", "channel", "at"),)


class InboxReply(Base):
    """A staff answer to a traveler through the customer-service message API, sent or refused (and why).

    `item` names the inbox item: "H<id>" (hand-off or complaint) or "G<id>" (group request)."""

    __tablename__ = "inbox_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item: Mapped[str] = mapped_column(String(16))
    openid: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(String(1000))
    outcome: Mapped[str] = mapped_column(String(40))  # sent | refused: <reason>
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_inbox_replies_item", "item", "at"),)


class InsightDay(Base):
    """Messages per Seoul day, message kind, route and intent, answered or not: what stays after retention."""

    __tablename__ = "insight_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)  # text | voice | location | event:click ...
    route: Mapped[str] = mapped_column(String(60), primary_key=True)  # the handler's route name, "" for none
    intent: Mapped[str] = mapped_column(String(40), primary_key=True)  # "" when no intent was understood
    answered: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class UnansweredQuestion(Base):
    """One normalized question that reached the fallback, a low-confidence guess or a hand-off: an aggregate
    kept after its raw texts are deleted."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    norm: Mapped[str] = mapped_column(String(200))  # normalized text (NFKC, lower case, digits masked)
    route: Mapped[str] = mapped_column(String(60))  # fallback | suggest | handoff ...
    sample: Mapped[str] = mapped_column(String(200))  # one way it was written (digits masked)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("norm", "route", name="uq_unanswered_questions_norm_route"),
                      Index("ix_unanswered_questions_last_seen", "last_seen"))


class UnansweredMessage(Base):
    """One message behind an unanswered question, with its raw text (digits masked) and a hashed openid;
    deleted after the retention period."""

    __tablename__ = "unanswered_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("unanswered_questions.id"))
    openid_hash: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    lang: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_unanswered_messages_at", "at"),
                      Index("ix_unanswered_messages_question_at", "question_id", "at"))


class InsightFlush(Base):
    """A batch of message events moved from Redis into the tables above, by its id: a batch a crashed
    worker left behind is applied once, never twice."""

    __tablename__ = "insight_flushes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(Integer)
