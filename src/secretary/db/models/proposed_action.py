"""A proposed action waiting for the user's approval (ADR: the proposed-action queue).

Anything Secretary wants to do in the user's name besides sending a reviewed draft (create
or update a Calendar event, answer an invitation, send an email, share a file) is stored
here first as ``pending_approval`` with a human ``summary`` and a machine ``payload``; only
an explicit approve applies it. ``dedupe_key`` makes proposing idempotent (one proposal per
thread and slot, per invitation); ``result`` records what applying did (ids, links).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class ProposedActionStatus:
    PENDING = "pending_approval"
    APPLYING = "applying"  # approved; the side effect is under way (safe to retry)
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # replaced by another proposal (e.g. new slots)


class ProposedAction(IdMixin, TimestampMixin, Base):
    __tablename__ = "proposed_actions"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    # draft_email | send_email | create_event | update_event | respond_to_invite | share_file
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(
        String(24), default=ProposedActionStatus.PENDING, index=True
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="")
    gmail_thread_id: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
