"""What the user's edits taught about their style (issue 13), shown and editable.

One row per (user, scope, key): ``scope`` is ``all`` or ``to:<address>``; ``key`` is
``greeting``, ``closing``, ``signature``, ``max_words`` or ``avoid:<phrase>``. ``evidence``
counts the edits that agreed; ``source`` is ``edit``, ``reject`` or ``user``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class StylePreference(IdMixin, TimestampMixin, Base):
    __tablename__ = "style_preferences"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(330), default="all")
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(16), default="edit")
