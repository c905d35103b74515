from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class DraftFeedback(IdMixin, TimestampMixin, Base):
    """What the user said about a suggestion: a reject reason or a regenerate instruction.

    Kept for learning (the voice stream reads it), so it outlives the draft's status and
    holds the user's own words only, never the draft or the email."""

    __tablename__ = "draft_feedback"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    draft_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("drafts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "rejected" | "regenerate"
    text: Mapped[str] = mapped_column(Text, default="")
