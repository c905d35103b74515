"""scheduling: issue 10 scheduling preferences, meeting offers and proposed actions

Tables: scheduling_preferences (one row per user), meeting_offers (slots a draft offered in
a thread), proposed_actions (the generic approval queue for bookings, invitation answers
and, later, the assistant's actions). Models: ``secretary.db.models.scheduling`` and
``secretary.db.models.proposed_action``. All are tenant tables with ``user_id``.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def _user(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    op.create_table(
        "scheduling_preferences",
        *_user("scheduling_preferences"),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("working_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("buffer_minutes", sa.Integer(), nullable=True),
        sa.Column("minimum_notice_minutes", sa.Integer(), nullable=True),
        sa.Column("no_meeting_days", postgresql.ARRAY(sa.String(length=3)), nullable=True),
        sa.Column("date_overrides", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("max_meetings_per_day", sa.Integer(), nullable=True),
        sa.Column("slot_step_minutes", sa.Integer(), nullable=True),
        sa.Column("calendars", postgresql.ARRAY(sa.Text()), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("user_id", name="uq_scheduling_preferences_user_id"),
    )

    op.create_table(
        "meeting_offers",
        *_user("meeting_offers"),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("gmail_thread_id", sa.String(length=64), nullable=False),
        sa.Column("request_message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("owner_time_zone", sa.String(length=64), nullable=False),
        sa.Column("requester_time_zone", sa.String(length=64), nullable=True),
        sa.Column("slots", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attendees", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("video", sa.Boolean(), nullable=False),
        sa.Column("event_google_id", sa.String(length=1024), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["google_accounts.id"],
            name="fk_meeting_offers_account_id_google_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_message_id"],
            ["messages.id"],
            name="fk_meeting_offers_request_message_id_messages",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "account_id", "gmail_thread_id", name="uq_meeting_offers_account_id_gmail_thread_id"
        ),
    )
    op.create_index("ix_meeting_offers_user_id", "meeting_offers", ["user_id"])

    op.create_table(
        "proposed_actions",
        *_user("proposed_actions"),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("gmail_thread_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["google_accounts.id"],
            name="fk_proposed_actions_account_id_google_accounts",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_proposed_actions_user_id_dedupe_key"),
    )
    op.create_index("ix_proposed_actions_user_id", "proposed_actions", ["user_id"])
    op.create_index("ix_proposed_actions_status", "proposed_actions", ["status"])


def downgrade() -> None:
    op.drop_table("proposed_actions")
    op.drop_table("meeting_offers")
    op.drop_table("scheduling_preferences")
