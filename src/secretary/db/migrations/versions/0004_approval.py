"""approval: issue 7 approval integrity (digests, flags)

``drafts`` gains what the approval queue needs to send exactly what the user saw: the Bcc
list (a Gmail-side edit may add one), the flags of the exfiltration check, the version the
user last saw before Gmail changed the draft (for the highlighted diff), the digest that
was approved and when the reply was sent. See ADR 0017.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drafts",
        sa.Column(
            "bcc_addrs",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
    )
    op.add_column(
        "drafts",
        sa.Column(
            "flags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "drafts", sa.Column("seen_version", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("drafts", sa.Column("approved_digest", sa.String(length=64), nullable=True))
    op.add_column("drafts", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    # Drafts sent before this revision: their last update is when they were sent.
    op.execute("update drafts set sent_at = updated_at where status = 'sent'")


def downgrade() -> None:
    for column in ("sent_at", "approved_digest", "seen_version", "flags", "bcc_addrs"):
        op.drop_column("drafts", column)
