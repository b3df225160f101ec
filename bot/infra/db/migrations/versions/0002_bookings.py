"""products, slot inventory, bookings, group requests, coupon claims

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "slot_inventory",
        sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("slot", sa.String(5), primary_key=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="ck_slot_inventory_taken"),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(12), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("product_name", sa.String(120), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(5), nullable=False),
        sa.Column("adults", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("contact_name", sa.String(60), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("price_krw", sa.Integer(), nullable=False),
        sa.Column("discount_krw", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("coupon_id", sa.String(40)),
        sa.Column("status", sa.String(16), nullable=False, server_default="confirmed"),
        sa.Column("lang", sa.String(16), nullable=False, server_default="zh-CN"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_bookings_openid", "bookings", ["openid"])
    op.create_table(
        "group_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(12), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(5), nullable=False),
        sa.Column("adults", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("contact_name", sa.String(60), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_requests_openid", "group_requests", ["openid"])
    op.create_table(
        "coupon_claims",
        sa.Column("openid", sa.String(64), primary_key=True),
        sa.Column("coupon_id", sa.String(40), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_ref", sa.String(12)),
    )


def downgrade() -> None:
    for table in ("coupon_claims", "group_requests", "bookings", "slot_inventory", "products"):
        op.drop_table(table)
