from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Thread(IdMixin, TimestampMixin, Base):
    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("account_id", "gmail_thread_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    gmail_thread_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(Text)
    snippet: Mapped[str | None] = mapped_column(Text)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Days without an answer before this thread counts as awaiting a reply / unanswered
    # (None: ``Settings.followups``).
    followup_days: Mapped[float | None] = mapped_column(Float)
