from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    """A person using Secretary. Every other row is scoped to a user."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Google's stable OpenID ``sub`` of the account the user signs in with (ADR 0013);
    # None for users made before sign-in existed, until they first sign in.
    google_sub: Mapped[str | None] = mapped_column(String(255), unique=True)
    # A key of ``identity.rate_tiers``; None = ``identity.default_rate_tier``.
    rate_tier: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
