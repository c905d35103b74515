"""search: issue 9 the search index (vectors, index state)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import HALFVEC
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_items",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("label_ids", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("lexical_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_items")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_search_items_kind_source_id")),
    )
    op.create_index("ix_search_items_user_kind", "search_items", ["user_id", "kind"])
    op.create_table(
        "search_vectors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("chunk", sa.SmallInteger(), nullable=False),
        sa.Column("text_digest", sa.String(length=32), nullable=False),
        sa.Column("embedding", HALFVEC(384), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_vectors")),
        sa.UniqueConstraint(
            "kind", "source_id", "chunk", name=op.f("uq_search_vectors_kind_source_id_chunk")
        ),
    )
    op.create_index(
        "ix_search_vectors_user_id_text_digest", "search_vectors", ["user_id", "text_digest"]
    )
    # HNSW over cosine distance; queries filter by user with pgvector 0.8's iterative scan.
    op.execute(
        "create index ix_search_vectors_embedding on search_vectors "
        "using hnsw (embedding halfvec_cosine_ops) with (m = 16, ef_construction = 64)"
    )


def downgrade() -> None:
    op.drop_table("search_vectors")
    op.drop_table("search_items")
