"""Durable data. Schema changes go through Alembic migrations in `bot/db/migrations/`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, String
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
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_followers_subscribed_last_active", "subscribed", "last_active_at"),
        Index("ix_followers_qrscene", "qrscene"),
    )
