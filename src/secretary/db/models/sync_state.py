from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class SyncState(IdMixin, TimestampMixin, Base):
    """Cursor and progress of one service's sync for one account.

    ``cursor`` is the Gmail ``historyId``, the Calendar ``syncToken`` or the Drive page token.
    ``phase`` is ``initial`` until the backfill completes, then ``incremental``.
    ``progress`` is resumable state (e.g. the backfill's listing position).
    """

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("account_id", "service"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    service: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16), default="initial")
    cursor: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    full_resyncs: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    watch_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
