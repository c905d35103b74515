"""search: issue 9 the search index (vectors, index state)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa  # noqa: F401 -- used once this revision has content
from alembic import op  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
