"""voice_stats: issue 13 stats, follow-ups and skipped drafts

What the stats need (the suggestion as first written, the edit size when sent), the kind
of a draft (a reply, or a nudge on the user's own unanswered mail), a per-thread
follow-up delay, and why triage decided no draft was written (cold outreach, newsletter).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drafts", sa.Column("suggested_body", sa.Text(), nullable=True))
    op.add_column("drafts", sa.Column("edit_distance", sa.Float(), nullable=True))
    op.add_column(
        "drafts",
        sa.Column("kind", sa.String(length=16), server_default="reply", nullable=False),
    )
    op.add_column("threads", sa.Column("followup_days", sa.Float(), nullable=True))
    op.add_column("triage_results", sa.Column("no_draft_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("triage_results", "no_draft_reason")
    op.drop_column("threads", "followup_days")
    op.drop_column("drafts", "kind")
    op.drop_column("drafts", "edit_distance")
    op.drop_column("drafts", "suggested_body")
