from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base


class PushReceipt(Base):
    """One Pub/Sub push we answered, by its ``messageId`` (ADR 0021).

    Pub/Sub delivers at least once: a redelivery (a lost 204, a restart, another server
    behind the same subscription) finds the receipt and is answered ``duplicate``. The row
    is written in the transaction that records the push, so "answered 204" and "recorded"
    are one fact. A system table, not a tenant one: a receipt names no user or address,
    and the ``messageId`` space is the subscription's, across users. Receipts older than
    Pub/Sub's longest retention (7 days) can no longer be redelivered and are pruned.
    """

    __tablename__ = "push_receipts"
    __table_args__ = (Index("ix_push_receipts_received_at", "received_at"),)

    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
