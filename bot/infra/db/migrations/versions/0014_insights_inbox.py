"""insights (messages per day and route, unanswered questions, their raw texts) and the staff inbox

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(24), primary_key=True),
        sa.Column("route", sa.String(60), primary_key=True),
        sa.Column("intent", sa.String(40), primary_key=True),
        sa.Column("answered", sa.Boolean(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "unanswered_questions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("norm", sa.String(200), nullable=False),
        sa.Column("route", sa.String(60), nullable=False),
        sa.Column("sample", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("norm", "route", name="uq_unanswered_questions_norm_route"),
    )
    op.create_index("ix_unanswered_questions_last_seen", "unanswered_questions", ["last_seen"])
    op.create_table(
        "unanswered_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("question_id", sa.Integer(), sa.ForeignKey("unanswered_questions.id"), nullable=False),
        sa.Column("openid_hash", sa.String(16), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_unanswered_messages_at", "unanswered_messages", ["at"])
    op.create_index("ix_unanswered_messages_question_at", "unanswered_messages", ["question_id", "at"])
    op.create_table(
        "insight_flushes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("assignee", sa.String(60), nullable=True))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("group_requests") as batch:
        batch.add_column(sa.Column("assignee", sa.String(60), nullable=True))
    op.create_table(
        "inbox_replies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item", sa.String(16), nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbox_replies_item", "inbox_replies", ["item", "at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_replies_item", "inbox_replies")
    op.drop_table("inbox_replies")
    with op.batch_alter_table("group_requests") as batch:
        batch.drop_column("assignee")
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("assignee")
    op.drop_table("insight_flushes")
    op.drop_index("ix_unanswered_messages_question_at", "unanswered_messages")
    op.drop_index("ix_unanswered_messages_at", "unanswered_messages")
    op.drop_table("unanswered_messages")
    op.drop_index("ix_unanswered_questions_last_seen", "unanswered_questions")
    op.drop_table("unanswered_questions")
    op.drop_table("insight_days")
