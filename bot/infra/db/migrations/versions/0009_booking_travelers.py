"""passport details of the travelers of bookings that need them (DMZ)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_travelers",
        sa.Column("booking_ref", sa.String(12), sa.ForeignKey("bookings.ref"), primary_key=True),
        sa.Column("passport_no", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("nationality", sa.String(3), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("booking_travelers")
