from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Rule(IdMixin, TimestampMixin, Base):
    """A user's triage rule: structured conditions and actions, evaluated by ``position``.

    ``conditions``/``actions`` hold ``triage.schemas.RuleConditions``/``RuleActions`` as JSON;
    ``instruction`` is the optional plain-English form an LLM tier may evaluate.
    """

    __tablename__ = "rules"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    stop: Mapped[bool] = mapped_column(Boolean, default=False)  # stop evaluating later rules
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    actions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    instruction: Mapped[str | None] = mapped_column(Text)
