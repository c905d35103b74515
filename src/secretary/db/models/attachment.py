from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Attachment(IdMixin, TimestampMixin, Base):
    """Attachment metadata only; content stays in Gmail and is fetched on demand."""

    __tablename__ = "attachments"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    gmail_attachment_id: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_id: Mapped[str | None] = mapped_column(Text)
