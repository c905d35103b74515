"""push_receipts: durable Pub/Sub de-duplication, issue 14

One row per answered push, keyed by Pub/Sub's ``messageId`` and written in the push's own
transaction, so a redelivery after a restart, after thousands of other pushes or to a
second server is answered ``duplicate`` (ADR 0021). A system table like ``quota_buckets``:
no ``user_id``, no row-level security; a receipt holds an opaque id and a time, nothing of
a user's. Also an index on ``lower(email)`` of ``google_accounts``, the push's account
lookup.

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
    op.create_table(
        "push_receipts",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("message_id", name="pk_push_receipts"),
    )
    op.create_index("ix_push_receipts_received_at", "push_receipts", ["received_at"])
    op.create_index("ix_google_accounts_lower_email", "google_accounts", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_google_accounts_lower_email", table_name="google_accounts")
    op.drop_index("ix_push_receipts_received_at", table_name="push_receipts")
    op.drop_table("push_receipts")
