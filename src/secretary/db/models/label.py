from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Label(IdMixin, TimestampMixin, Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("account_id", "gmail_label_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    gmail_label_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(500))
    type: Mapped[str] = mapped_column(String(16), default="user")
