"""acquisition channels: their QR codes, every scan, first and last channel of each follower

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followers") as batch:
        batch.add_column(sa.Column("first_channel", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_channel", sa.String(64), nullable=True))
    op.create_index("ix_followers_first_channel", "followers", ["first_channel"])
    op.create_index("ix_followers_last_channel", "followers", ["last_channel"])
    # What followers came through before channels were kept: the scene of their latest follow.
    op.execute("UPDATE followers SET first_channel = qrscene, last_channel = qrscene WHERE qrscene IS NOT NULL")
    op.create_table(
        "channels",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("ticket", sa.String(200), nullable=False),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("image_url", sa.String(400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "channel_scans",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("event", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(160), nullable=False, unique=True),
    )
    op.create_index("ix_channel_scans_channel_at", "channel_scans", ["channel", "at"])


def downgrade() -> None:
    op.drop_index("ix_channel_scans_channel_at", "channel_scans")
    op.drop_table("channel_scans")
    op.drop_table("channels")
    op.drop_index("ix_followers_last_channel", "followers")
    op.drop_index("ix_followers_first_channel", "followers")
    with op.batch_alter_table("followers") as batch:
        batch.drop_column("last_channel")
        batch.drop_column("first_channel")
