"""workspace: issue 8 Calendar and Drive in the store, sync status, shared quota

Tables: calendars, calendar_events, calendar_instances, drive_files (tenant tables, each
with user_id for row-level security) and quota_buckets, quota_leases (the per-user Google
quota shared by every process). Models and their meaning: ``secretary.db.models.workspace``.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
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


def _tenant(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["google_accounts.id"],
            name=f"fk_{table}_account_id_google_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    op.create_table(
        "calendars",
        *_tenant("calendars"),
        sa.Column("google_id", sa.String(length=320), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("access_role", sa.String(length=32), nullable=True),
        sa.Column("background_color", sa.String(length=16), nullable=True),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("page_token", sa.Text(), nullable=True),
        sa.Column("listing", sa.Boolean(), nullable=False),
        sa.Column("full_syncs", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instances_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instances_until", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("account_id", "google_id", name="uq_calendars_account_id_google_id"),
    )
    op.create_index("ix_calendars_user_id", "calendars", ["user_id"])

    op.create_table(
        "calendar_events",
        *_tenant("calendar_events"),
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("google_id", sa.String(length=1024), nullable=False),
        sa.Column("ical_uid", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("start_time_zone", sa.String(length=64), nullable=True),
        sa.Column("end_time_zone", sa.String(length=64), nullable=True),
        sa.Column("recurrence", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("recurring_event_id", sa.String(length=1024), nullable=True),
        sa.Column("original_start", sa.String(length=64), nullable=True),
        sa.Column("transparency", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=True),
        sa.Column("organizer_email", sa.String(length=320), nullable=True),
        sa.Column("organizer_name", sa.Text(), nullable=True),
        sa.Column("organizer_self", sa.Boolean(), nullable=False),
        sa.Column("self_response_status", sa.String(length=16), nullable=True),
        sa.Column("attendees", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("conference_url", sa.Text(), nullable=True),
        sa.Column("html_link", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("google_updated_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name="fk_calendar_events_calendar_id_calendars",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "calendar_id", "google_id", name="uq_calendar_events_calendar_id_google_id"
        ),
    )
    op.create_index("ix_calendar_events_user_id", "calendar_events", ["user_id"])
    op.create_index(
        "ix_calendar_events_master", "calendar_events", ["calendar_id", "recurring_event_id"]
    )
    op.create_index("ix_calendar_events_user_start", "calendar_events", ["user_id", "start_at"])

    op.create_table(
        "calendar_instances",
        *_tenant("calendar_instances"),
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("google_id", sa.String(length=1024), nullable=False),
        sa.Column("recurring_event_id", sa.String(length=1024), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("transparency", sa.String(length=16), nullable=False),
        sa.Column("self_response_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name="fk_calendar_instances_calendar_id_calendars",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["calendar_events.id"],
            name="fk_calendar_instances_event_id_calendar_events",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "calendar_id", "google_id", name="uq_calendar_instances_calendar_id_google_id"
        ),
    )
    op.create_index("ix_calendar_instances_user_id", "calendar_instances", ["user_id"])
    op.create_index("ix_calendar_instances_event_id", "calendar_instances", ["event_id"])
    op.create_index(
        "ix_calendar_instances_user_start", "calendar_instances", ["user_id", "start_at"]
    )
    op.create_index(
        "ix_calendar_instances_calendar_start", "calendar_instances", ["calendar_id", "start_at"]
    )
    op.create_index(
        "ix_calendar_instances_series",
        "calendar_instances",
        ["calendar_id", "recurring_event_id"],
    )

    op.create_table(
        "drive_files",
        *_tenant("drive_files"),
        sa.Column("google_id", sa.String(length=256), nullable=False),
        sa.Column("drive_id", sa.String(length=256), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parents", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("owners", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("web_view_link", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("md5", sa.String(length=64), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("trashed", sa.Boolean(), nullable=False),
        sa.Column("starred", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("google_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("google_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_state", sa.String(length=16), nullable=False),
        sa.Column("text_reason", sa.Text(), nullable=True),
        sa.Column("text_truncated", sa.Boolean(), nullable=False),
        sa.Column("text_version", sa.BigInteger(), nullable=True),
        sa.Column("text_fetched_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("account_id", "google_id", name="uq_drive_files_account_id_google_id"),
    )
    op.create_index("ix_drive_files_user_id", "drive_files", ["user_id"])
    op.create_index(
        "ix_drive_files_account_text_state", "drive_files", ["account_id", "text_state"]
    )

    op.create_table(
        "quota_buckets",
        sa.Column("user_key", sa.String(length=128), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("user_key", name="pk_quota_buckets"),
    )
    op.create_table(
        "quota_leases",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_key", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quota_leases"),
    )
    op.create_index("ix_quota_leases_user_key_expires", "quota_leases", ["user_key", "expires_at"])


def downgrade() -> None:
    op.drop_table("quota_leases")
    op.drop_table("quota_buckets")
    op.drop_table("drive_files")
    op.drop_table("calendar_instances")
    op.drop_table("calendar_events")
    op.drop_table("calendars")
