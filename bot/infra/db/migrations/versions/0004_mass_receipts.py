"""broadcasts received per follower and month

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mass_receipts",
        sa.Column("openid", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("received", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("broadcasts", sa.Column("month", sa.String(7)))


def downgrade() -> None:
    op.drop_column("broadcasts", "month")
    op.drop_table("mass_receipts")
