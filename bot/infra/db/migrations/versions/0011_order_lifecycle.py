"""orders that are paid: payment kind, seat hold, WeChat Pay fields, status history, notices, refunds

Existing bookings were confirmed without payment: they keep status `confirmed` with payment `legacy`.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("payment", sa.String(10), nullable=False, server_default="legacy"))
        for name, kind in (("hold_until", _TZ), ("pay_currency", sa.String(3)), ("pay_total", sa.Integer()),
                           ("prepay_id", sa.String(64)), ("prepaid_at", _TZ), ("transaction_id", sa.String(64)),
                           ("paid_at", _TZ), ("redeemed_at", _TZ), ("redeemed_by", sa.String(60))):
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.create_index("ix_bookings_status_hold", ["status", "hold_until"])
        batch.create_index("ix_bookings_day_product", ["day", "product_id"])
    # The server default only marked the rows that existed; new rows say what they are.
    with op.batch_alter_table("bookings") as batch:
        batch.alter_column("payment", server_default=None)
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("booking_ref", sa.String(12), sa.ForeignKey("bookings.ref"), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_booking_events_booking_ref", "booking_events", ["booking_ref"])
    op.create_table(
        "payment_notices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("received_at", _TZ, nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
    )
    op.create_index("ix_payment_notices_out_trade_no", "payment_notices", ["out_trade_no"])
    op.create_table(
        "refunds",
        sa.Column("out_refund_no", sa.String(64), primary_key=True),
        sa.Column("booking_ref", sa.String(12), sa.ForeignKey("bookings.ref"), nullable=False),
        sa.Column("amount_krw", sa.Integer(), nullable=False),
        sa.Column("pay_amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("requested_by", sa.String(60), nullable=False),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ, nullable=True),
    )
    op.create_index("ix_refunds_booking_ref", "refunds", ["booking_ref"])


def downgrade() -> None:
    op.drop_index("ix_refunds_booking_ref", "refunds")
    op.drop_table("refunds")
    op.drop_index("ix_payment_notices_out_trade_no", "payment_notices")
    op.drop_table("payment_notices")
    op.drop_index("ix_booking_events_booking_ref", "booking_events")
    op.drop_table("booking_events")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_index("ix_bookings_day_product")
        batch.drop_index("ix_bookings_status_hold")
        for name in ("redeemed_by", "redeemed_at", "paid_at", "transaction_id", "prepaid_at", "prepay_id",
                     "pay_total", "pay_currency", "hold_until", "payment"):
            batch.drop_column(name)
