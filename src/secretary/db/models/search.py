"""The search index's state in Postgres (issue 9): what is indexed, and the stored vectors.

The index is derived, never the truth: ``search_items`` records which version of each source
row (message, event, file) the lexical index holds, so a stage can find what changed and a
crash repeats work instead of losing it. ``search_vectors`` keeps every embedding, including
the one classification computed, so no text is embedded twice.
"""

from __future__ import annotations

from datetime import datetime

from pgvector.sqlalchemy import HALFVEC
from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin

EMBEDDING_DIM = 384


class SearchItem(IdMixin, Base):
    """One indexed source row; ``source_updated_at`` and ``label_ids`` are what was indexed."""

    __tablename__ = "search_items"
    __table_args__ = (
        UniqueConstraint("kind", "source_id"),
        Index("ix_search_items_user_kind", "user_id", "kind"),
    )

    # No foreign key to users or the source rows: deleting a message must leave this row so
    # the next index pass can see the deletion and drop the item from the lexical index.
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # email | event | file
    source_id: Mapped[int] = mapped_column(BigInteger)  # messages.id / events.id / files.id
    external_id: Mapped[str] = mapped_column(String(256))  # Gmail / Calendar / Drive id
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    label_ids: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    lexical_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    embedded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SearchVector(IdMixin, Base):
    """One embedded chunk of an item (chunk 0 of a message is its classification vector)."""

    __tablename__ = "search_vectors"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", "chunk"),
        # user_id first: the HNSW filter; text_digest: identical texts are embedded once.
        Index("ix_search_vectors_user_id_text_digest", "user_id", "text_digest"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int] = mapped_column(BigInteger)
    chunk: Mapped[int] = mapped_column(SmallInteger, default=0)
    # blake2b of the embedded text: a vector is reused only for the very same text.
    text_digest: Mapped[str] = mapped_column(String(32))
    # halfvec: half the bytes of vector(384) with no measurable recall loss at this size.
    embedding: Mapped[list[float]] = mapped_column(HALFVEC(EMBEDDING_DIM))
