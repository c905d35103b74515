"""All of scheduling's SQL: preferences, the synced calendars and events, meeting offers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from secretary.db.models import (
    Calendar,
    CalendarEvent,
    GoogleAccount,
    MeetingOffer,
    SchedulingPreference,
    User,
)
from secretary.scheduling import slots


def get_preference_row(session: Session, user_id: int) -> SchedulingPreference | None:
    return session.scalars(
        select(SchedulingPreference).where(SchedulingPreference.user_id == user_id)
    ).first()


def upsert_preference_row(session: Session, user_id: int) -> SchedulingPreference:
    row = get_preference_row(session, user_id)
    if row is None:
        row = SchedulingPreference(user_id=user_id)
        session.add(row)
    return row


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def calendars(session: Session, user_id: int) -> Sequence[Calendar]:
    return session.scalars(
        select(Calendar).where(Calendar.user_id == user_id).order_by(Calendar.id)
    ).all()


def primary_account(session: Session, user_id: int) -> GoogleAccount | None:
    return session.scalars(
        select(GoogleAccount).where(GoogleAccount.user_id == user_id).order_by(GoogleAccount.id)
    ).first()


def _parse_original(value: str | None) -> datetime | date | None:
    """The sync's ``original_start`` key: ``YYYYMMDD`` (all-day) or ``YYYYMMDDTHHMMSSZ``
    (``sync.calendar_records.original_key``); ISO forms are read too."""
    if not value:
        return None
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    if len(text) == 16 and text.endswith("Z") and text[8] == "T":
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if len(text) == 10:
        return date.fromisoformat(text)
    return slots.parse_rfc3339(text)


def engine_events(
    session: Session, user_id: int, window: slots.Interval
) -> list[slots.CalendarEvent]:
    """The user's stored events that can touch ``window``, as engine values.

    Singles and exceptions are selected by time (with two days' margin for all-day events
    in far zones); every recurring master is loaded and expanded by the engine, so the
    answer does not depend on how far the sync expanded instances.
    """
    lo, hi = window.start - timedelta(days=2), window.end + timedelta(days=2)
    rows = session.execute(
        select(CalendarEvent, Calendar.google_id)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .where(
            CalendarEvent.user_id == user_id,
            or_(
                CalendarEvent.recurrence.is_not(None),
                CalendarEvent.recurring_event_id.is_not(None),
                and_(CalendarEvent.start_at < hi, CalendarEvent.end_at > lo),
                and_(
                    CalendarEvent.all_day.is_(True),
                    CalendarEvent.start_date <= hi.date(),
                    CalendarEvent.end_date >= lo.date(),
                ),
            ),
        )
    ).all()
    out: list[slots.CalendarEvent] = []
    for event, calendar_google_id in rows:
        start: datetime | date | None
        end: datetime | date | None
        if event.all_day:
            start, end = event.start_date, event.end_date
        else:
            start, end = event.start_at, event.end_at
        if start is None or end is None:
            continue
        out.append(
            slots.CalendarEvent(
                start=start,
                end=end,
                event_id=event.google_id,
                calendar_id=calendar_google_id,
                status=event.status,
                transparency=event.transparency or "opaque",
                response_status=event.self_response_status,
                recurrence=tuple(event.recurrence or ()),
                time_zone=event.start_time_zone,
                recurring_event_id=event.recurring_event_id,
                original_start=_parse_original(event.original_start),
            )
        )
    return out


def booked_meeting_starts(session: Session, user_id: int) -> Sequence[datetime]:
    """Starts of meetings booked through Secretary (what the user accepted before)."""
    rows = session.execute(
        select(MeetingOffer.slots, MeetingOffer.event_google_id).where(
            MeetingOffer.user_id == user_id, MeetingOffer.booked_at.is_not(None)
        )
    ).all()
    starts: list[datetime] = []
    for offered, _ in rows:
        starts.extend(slots.parse_rfc3339(item["start"]) for item in offered if item.get("booked"))
    return starts


def get_offer(session: Session, account_id: int, gmail_thread_id: str) -> MeetingOffer | None:
    return session.scalars(
        select(MeetingOffer).where(
            MeetingOffer.account_id == account_id, MeetingOffer.gmail_thread_id == gmail_thread_id
        )
    ).first()
