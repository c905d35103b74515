"""Scheduling (issue 10): the owner's preferences and the meeting slots offered in a thread.

- ``scheduling_preferences``: one row per user; NULL columns mean "the default" (the time
  zone then is the primary Calendar's, the calendars every calendar the user owns).
- ``meeting_offers``: what a draft offered in a Gmail thread (the slots, the duration, the
  requester's zone, the attendees), so that the reply accepting "the first one" can be
  matched to a real slot; ``event_google_id`` is the deterministic Calendar event id the
  booking uses, derived from the thread, so a retried booking never creates a second event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class SchedulingPreference(IdMixin, TimestampMixin, Base):
    __tablename__ = "scheduling_preferences"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # {"mon": [["09:00", "17:00"]], ...}; a weekday missing is not a working day
    working_hours: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSONB)
    buffer_minutes: Mapped[int | None] = mapped_column(Integer)
    minimum_notice_minutes: Mapped[int | None] = mapped_column(Integer)
    no_meeting_days: Mapped[list[str] | None] = mapped_column(ARRAY(String(3)))
    date_overrides: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSONB)
    max_meetings_per_day: Mapped[int | None] = mapped_column(Integer)
    slot_step_minutes: Mapped[int | None] = mapped_column(Integer)
    calendars: Mapped[list[str] | None] = mapped_column(ARRAY(Text))


class MeetingOfferStatus:
    OFFERED = "offered"  # the draft with these slots exists
    PROPOSED = "proposed"  # a reply accepted a slot; a booking proposal waits for approval
    BOOKED = "booked"
    CLOSED = "closed"  # rejected or replaced by a newer offer


class MeetingOffer(IdMixin, TimestampMixin, Base):
    __tablename__ = "meeting_offers"
    __table_args__ = (UniqueConstraint("account_id", "gmail_thread_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    gmail_thread_id: Mapped[str] = mapped_column(String(64))
    request_message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default=MeetingOfferStatus.OFFERED)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    owner_time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    requester_time_zone: Mapped[str | None] = mapped_column(String(64))
    # [{"start": RFC 3339, "end": RFC 3339}] in the order the draft listed them
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    attendees: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str | None] = mapped_column(Text)
    video: Mapped[bool] = mapped_column(default=False)
    event_google_id: Mapped[str] = mapped_column(String(1024))
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
