"""workspace: issue 8 Calendar and Drive in the store, sync status, shared quota

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa  # noqa: F401 -- used once this revision has content
from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
