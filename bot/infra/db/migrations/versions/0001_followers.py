"""followers table

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "followers",
        sa.Column("openid", sa.String(64), primary_key=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("subscribed_at", sa.DateTime(timezone=True)),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
        sa.Column("qrscene", sa.String(64)),
        sa.Column("language", sa.String(16), nullable=False, server_default="zh-CN"),
        sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("last_active_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_followers_subscribed_last_active", "followers", ["subscribed", "last_active_at"])
    op.create_index("ix_followers_qrscene", "followers", ["qrscene"])


def downgrade() -> None:
    op.drop_table("followers")
