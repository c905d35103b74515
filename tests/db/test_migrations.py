"""The migrations build exactly the schema the ORM models declare."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from secretary.db import migrate, models  # noqa: F401  (models registers every table)
from secretary.db.base import Base

# Indexes the migrations create by hand and the models do not declare: a descending
# (user_id, created_at) index for the audit log, the HNSW index of the vectors and the
# push webhook's lookup of accounts by lower(email).
_HAND_MADE_INDEXES = frozenset(
    {
        "ix_audit_log_user_created",
        "ix_search_vectors_embedding",
        "ix_google_accounts_lower_email",
    }
)


def test_the_database_is_at_the_head_revision(session: Session) -> None:
    current = MigrationContext.configure(session.connection()).get_current_revision()
    assert current == migrate.head_revision()


def test_the_migrations_match_the_models(session: Session) -> None:
    context = MigrationContext.configure(session.connection())
    diffs = [
        _describe(d)
        for d in compare_metadata(context, Base.metadata)
        if not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name in _HAND_MADE_INDEXES)
    ]
    assert diffs == []


def _describe(diff: Any) -> str:
    """Short text of one autogenerate difference (a tuple, or a list of column changes)."""
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    kind, *rest = diff
    return f"{kind} {' '.join(str(getattr(x, 'name', x)) for x in rest[:3])}"
