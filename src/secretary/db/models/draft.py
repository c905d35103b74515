from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class DraftStatus:
    PENDING = "pending"  # waiting in the approval queue
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"
    SUPERSEDED = "superseded"  # a newer suggestion replaced it


class DraftKind:
    REPLY = "reply"  # a reply to a received message
    NUDGE = "nudge"  # a follow-up on the user's own sent mail that got no answer


class Draft(IdMixin, TimestampMixin, Base):
    """A suggested reply, stored locally and mirrored as a Gmail draft.

    ``draft_key`` is written into the Gmail draft as ``X-Secretary-Draft-Key`` so that a retry
    after a crash between "Gmail created it" and "we stored its id" finds it instead of
    creating a second one. ``body_hash`` is the hash of what we last wrote to Gmail: a
    different hash in Gmail means a human edited it, and we never overwrite that.
    """

    __tablename__ = "drafts"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    draft_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.PENDING, index=True)
    gmail_thread_id: Mapped[str] = mapped_column(String(64))
    gmail_draft_id: Mapped[str | None] = mapped_column(String(128))
    gmail_message_id: Mapped[str | None] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(Text, default="")
    to_addrs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # Only ever set by a human in Gmail; shown in the queue and covered by the digest.
    bcc_addrs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    body_hash: Mapped[str | None] = mapped_column(String(64))
    human_edited: Mapped[bool] = mapped_column(default=False)
    intent: Mapped[str] = mapped_column(String(64), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    model: Mapped[str] = mapped_column(String(128), default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    gmail_create_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    gmail_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Approval integrity (ADR 0017): the exfiltration check's findings, the
    # version the user saw before Gmail changed it (the queue highlights the difference),
    # the digest the user approved, and when the reply left.
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    seen_version: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    approved_digest: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Stats (issue 13): the suggestion as first written, and how much the user changed it
    # (normalised character edit distance, set when it is sent).
    suggested_body: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(
        String(16), default=DraftKind.REPLY, server_default=DraftKind.REPLY
    )
