"""uploaded news thumbnails; CLI actors in the audit log

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_media",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("media_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("admin_audit") as batch:
        batch.alter_column("actor", type_=sa.String(60), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("admin_audit") as batch:
        batch.alter_column("actor", type_=sa.String(16), existing_type=sa.String(60), existing_nullable=False)
    op.drop_table("wechat_media")
