"""Calendar and Drive in the local store (issue #8), written by ``secretary.sync.calendar``
and ``secretary.sync.drive``; read by search, scheduling and the assistant.

Every table carries ``user_id`` (row-level security, ``db/tenancy.py``) and ``account_id``.
Reading guide for other streams:

- ``calendars``: one row per ``calendarList`` entry of an account. Events are synced for
  entries with ``selected`` (and the primary calendar); ``sync_token`` is the Calendar
  ``nextSyncToken`` of the last complete listing.
- ``calendar_events``: exactly what Google stores (``events.list`` with
  ``singleEvents=false``): single events, recurring **masters** (``recurrence`` holds the
  RRULE/EXRULE/RDATE/EXDATE lines) and **exceptions** (``recurring_event_id`` = the master's
  Google id, ``original_start`` = the occurrence they replace). A cancelled exception
  (``status='cancelled'``) is a deleted occurrence; deleted non-recurring events are removed.
  The whole calendar is here, however far in the past or future.
- ``calendar_instances``: what actually happens, for scheduling and "what's on ...":
  one row per occurrence (single events once, whatever their date; recurring series
  expanded from their RRULE over ``[instances_from, instances_until)`` of their calendar,
  exceptions applied, cancelled occurrences absent). ``event_id`` points at the
  ``calendar_events`` row whose details apply (the master, the exception or the single
  event). Use ``secretary.sync.calendar_expand.expand`` for dates beyond the horizon.
- Times: ``start_at``/``end_at`` are instants (timestamptz). All-day events have
  ``all_day = true`` and local ``start_date``/``end_date`` (end exclusive, as Google);
  their ``start_at``/``end_at`` are local midnight in the calendar's time zone.
  ``self_response_status`` is the account owner's own answer (``accepted``, ``declined``,
  ``tentative``, ``needsAction``; NULL when the owner is not an attendee, e.g. their own
  event without guests). ``description`` is sanitized plain text.
- ``drive_files``: every file the account can see in My Drive and shared drives
  (``drive_id`` set for shared-drive files), trashed ones with ``trashed = true`` and no
  text. ``text`` is the content as plain text (Docs/Slides exported as text/plain, Sheets
  as text/csv, text/markdown/CSV/PDF extracted); ``text_state`` says whether it is there:
  ``ok``, ``pending`` (not fetched yet), ``skipped`` or ``error`` with ``text_reason``
  (too big, unsupported type, unreadable PDF ...), ``none`` (folders and trashed files).
- ``quota_buckets`` / ``quota_leases``: the per-user Google quota shared by every process
  of a deployment (``secretary.google.shared_quota``). Not tenant data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class Calendar(IdMixin, TimestampMixin, Base):
    """One ``calendarList`` entry of an account, with its sync position."""

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("account_id", "google_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    google_id: Mapped[str] = mapped_column(String(320))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    selected: Mapped[bool] = mapped_column(Boolean, default=True)
    access_role: Mapped[str | None] = mapped_column(String(32))
    background_color: Mapped[str | None] = mapped_column(String(16))
    # Sync position: ``sync_token`` after a complete listing; ``page_token`` while a full
    # listing is under way (committed with each page, so a killed sync resumes there).
    sync_token: Mapped[str | None] = mapped_column(Text)
    page_token: Mapped[str | None] = mapped_column(Text)
    listing: Mapped[bool] = mapped_column(Boolean, default=False)
    full_syncs: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    instances_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    instances_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalendarEvent(IdMixin, TimestampMixin, Base):
    """One Google event: single, recurring master or exception (see the module docstring)."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("calendar_id", "google_id"),
        Index("ix_calendar_events_master", "calendar_id", "recurring_event_id"),
        Index("ix_calendar_events_user_start", "user_id", "start_at"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    calendar_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("calendars.id", ondelete="CASCADE")
    )
    google_id: Mapped[str] = mapped_column(String(1024))
    ical_uid: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    start_time_zone: Mapped[str | None] = mapped_column(String(64))
    end_time_zone: Mapped[str | None] = mapped_column(String(64))
    recurrence: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    recurring_event_id: Mapped[str | None] = mapped_column(String(1024))
    original_start: Mapped[str | None] = mapped_column(String(64))
    transparency: Mapped[str] = mapped_column(String(16), default="opaque")
    visibility: Mapped[str | None] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(32))
    organizer_email: Mapped[str | None] = mapped_column(String(320))
    organizer_name: Mapped[str | None] = mapped_column(Text)
    organizer_self: Mapped[bool] = mapped_column(Boolean, default=False)
    self_response_status: Mapped[str | None] = mapped_column(String(16))
    # [{"email", "name", "response_status", "optional", "organizer", "self", "resource"}]
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    conference_url: Mapped[str | None] = mapped_column(Text)
    html_link: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    google_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalendarInstance(IdMixin, Base):
    """One occurrence on a calendar (see the module docstring); derived, rebuilt freely."""

    __tablename__ = "calendar_instances"
    __table_args__ = (
        UniqueConstraint("calendar_id", "google_id"),
        Index("ix_calendar_instances_user_start", "user_id", "start_at"),
        Index("ix_calendar_instances_calendar_start", "calendar_id", "start_at"),
        Index("ix_calendar_instances_series", "calendar_id", "recurring_event_id"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    calendar_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("calendars.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("calendar_events.id", ondelete="CASCADE"), index=True
    )
    google_id: Mapped[str] = mapped_column(String(1024))
    recurring_event_id: Mapped[str | None] = mapped_column(String(1024))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    transparency: Mapped[str] = mapped_column(String(16), default="opaque")
    self_response_status: Mapped[str | None] = mapped_column(String(16))


class DriveFile(IdMixin, TimestampMixin, Base):
    """One Drive file or folder visible to the account, with its content as text."""

    __tablename__ = "drive_files"
    __table_args__ = (
        UniqueConstraint("account_id", "google_id"),
        Index("ix_drive_files_account_text_state", "account_id", "text_state"),
    )

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("google_accounts.id", ondelete="CASCADE")
    )
    google_id: Mapped[str] = mapped_column(String(256))
    drive_id: Mapped[str | None] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(Text, default="")
    mime_type: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    parents: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    owners: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    web_view_link: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(BigInteger)
    trashed: Mapped[bool] = mapped_column(Boolean, default=False)
    starred: Mapped[bool] = mapped_column(Boolean, default=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    google_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    google_modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str | None] = mapped_column(Text)
    text_state: Mapped[str] = mapped_column(String(16), default="pending")
    text_reason: Mapped[str | None] = mapped_column(Text)
    text_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    text_version: Mapped[int | None] = mapped_column(BigInteger)
    text_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuotaBucket(Base):
    """A token bucket per Google user, shared by every process (``google/shared_quota``)."""

    __tablename__ = "quota_buckets"

    user_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)  # epoch seconds (database clock)


class QuotaLease(IdMixin, Base):
    """One request in flight for a Google user (the shared concurrency limit)."""

    __tablename__ = "quota_leases"
    __table_args__ = (Index("ix_quota_leases_user_key_expires", "user_key", "expires_at"),)

    user_key: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[float] = mapped_column(Double)  # epoch seconds (database clock)
