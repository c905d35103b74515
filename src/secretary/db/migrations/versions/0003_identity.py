"""identity: issue 7 identity, sessions, API tokens, audit log, row-level security

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa  # noqa: F401 -- used once this revision has content
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
