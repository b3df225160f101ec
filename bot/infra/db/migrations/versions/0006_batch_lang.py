"""the language of a broadcast batch (texts per follower language)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("broadcast_batches", sa.Column("lang", sa.String(16), nullable=False, server_default="zh-CN"))


def downgrade() -> None:
    op.drop_column("broadcast_batches", "lang")
