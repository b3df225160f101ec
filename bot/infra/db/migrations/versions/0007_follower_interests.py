"""categories followers asked about

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follower_interests",
        sa.Column("openid", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(40), primary_key=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_follower_interests_category", "follower_interests", ["category"])


def downgrade() -> None:
    op.drop_table("follower_interests")
