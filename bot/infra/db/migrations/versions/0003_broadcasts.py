"""broadcasts and their batches

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="planned"),
        sa.Column("audience", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped_monthly_limit", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("scheduled_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.String(300)),
    )
    op.create_table(
        "broadcast_batches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("broadcast_id", sa.Integer(), sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("clientmsgid", sa.String(64), nullable=False, unique=True),
        sa.Column("openids", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("msg_id", sa.String(32)),
        sa.Column("msg_data_id", sa.String(32)),
        sa.Column("error", sa.String(300)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("total_count", sa.Integer()),
        sa.Column("sent_count", sa.Integer()),
        sa.Column("error_count", sa.Integer()),
        sa.Column("filter_count", sa.Integer()),
        sa.UniqueConstraint("broadcast_id", "seq", name="uq_broadcast_batches_seq"),
    )
    op.create_index("ix_broadcast_batches_broadcast_id", "broadcast_batches", ["broadcast_id"])
    op.create_index("ix_broadcast_batches_msg_id", "broadcast_batches", ["msg_id"])


def downgrade() -> None:
    op.drop_table("broadcast_batches")
    op.drop_table("broadcasts")
