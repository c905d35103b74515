"""triage_headers: the receiving server's verdicts and bulk-mail headers, issue 13

The local tier reads the topmost Authentication-Results and Received-SPF (the user's own
provider's verdicts on the sender), List-Unsubscribe-Post (one-click unsubscribe) and
X-Mailer. One small nullable JSONB dict keeps them, only the headers a message has.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("triage_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("messages", "triage_headers")
