from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Message(IdMixin, TimestampMixin, Base):
    """One Gmail message. Metadata arrives first; ``body_fetched_at`` marks the full fetch."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "gmail_id"),
        Index("ix_messages_account_internal_date", "account_id", "internal_date"),
        Index("ix_messages_account_thread", "account_id", "gmail_thread_id"),
        Index("ix_messages_label_ids", "label_ids", postgresql_using="gin"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    gmail_id: Mapped[str] = mapped_column(String(64))
    gmail_thread_id: Mapped[str] = mapped_column(String(64))
    history_id: Mapped[int | None] = mapped_column(BigInteger)
    internal_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    label_ids: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    size_estimate: Mapped[int | None] = mapped_column(Integer)
    snippet: Mapped[str | None] = mapped_column(Text)

    # Parsed headers (from the metadata fetch onwards).
    message_id_header: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    subject: Mapped[str | None] = mapped_column(Text)
    from_name: Mapped[str | None] = mapped_column(Text)
    from_addr: Mapped[str | None] = mapped_column(Text)
    to_addrs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    reply_to: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    list_id: Mapped[str | None] = mapped_column(Text)
    list_unsubscribe: Mapped[str | None] = mapped_column(Text)
    precedence: Mapped[str | None] = mapped_column(String(64))
    auto_submitted: Mapped[str | None] = mapped_column(String(64))
    # Topmost Authentication-Results / Received-SPF (the user's provider's verdicts),
    # List-Unsubscribe-Post and X-Mailer, for the local triage tier; only those present.
    triage_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)

    # Body (full fetch).
    body_text: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    has_calendar_invite: Mapped[bool] = mapped_column(Boolean, default=False)
    parse_defects: Mapped[list[Any] | None] = mapped_column(JSONB)
    body_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
