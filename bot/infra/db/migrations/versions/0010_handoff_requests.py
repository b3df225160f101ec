"""requests for a person (转人工) and complaints (投诉), for staff to follow up

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(160), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_handoff_requests_openid_status", "handoff_requests", ["openid", "status"])
    op.create_index("ix_handoff_requests_status_created", "handoff_requests", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_handoff_requests_status_created", "handoff_requests")
    op.drop_index("ix_handoff_requests_openid_status", "handoff_requests")
    op.drop_table("handoff_requests")
