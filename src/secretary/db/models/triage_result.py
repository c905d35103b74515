from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class TriageResult(IdMixin, TimestampMixin, Base):
    """The verdict on one message: category, flags, priority, and why (rule or model).

    One row per message (``message_id`` is unique); a reprocess overwrites it in place.
    """

    __tablename__ = "triage_results"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    category: Mapped[str] = mapped_column(String(32), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    meeting_request: Mapped[bool] = mapped_column(Boolean, default=False)
    cold_outreach: Mapped[bool] = mapped_column(Boolean, default=False)
    has_deadline: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    matched_rule_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    draft_decision: Mapped[str] = mapped_column(
        String(16), default="auto"
    )  # auto | never | always (set by rules)
    labels_to_apply: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    archive: Mapped[bool] = mapped_column(Boolean, default=False)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    classified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    labels_applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why no draft was written although the category would have asked for one (issue 13).
    no_draft_reason: Mapped[str | None] = mapped_column(Text)
