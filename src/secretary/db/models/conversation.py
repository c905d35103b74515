"""Ask conversations (issue #11): one row per conversation, one per turn.

A turn keeps the question, the structured intent, the answer, its citations, the plan and
the proposed actions, so a follow-up ("and the one before that?") resolves against the
previous turn and the user can read the history back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # opaque, not an oracle
    title: Mapped[str] = mapped_column(Text, default="")


class ConversationTurn(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversation_turns"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    question: Mapped[str] = mapped_column(Text)
    intent: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    answer: Mapped[str] = mapped_column(Text, default="")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    partial_failures: Mapped[list[str]] = mapped_column(JSONB, default=list)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
