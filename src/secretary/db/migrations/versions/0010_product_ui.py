"""product_ui: issue 12/14 UI and throughput

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa  # noqa: F401 -- used once this revision has content
from alembic import op  # noqa: F401

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
