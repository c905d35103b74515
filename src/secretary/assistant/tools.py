"""Reads over the local store that the agents, the API and the MCP server share.

Every function takes a session already scoped to one user (``tenancy.act_as``) and the
user's id, and filters by it as well: row-level security is the second wall, not the
only one. Ids in and out are Google's (Gmail message/thread ids, Calendar event ids, Drive
file ids), so a citation opens the same item in Google.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from secretary.assistant.schemas import Item, TimeRange
from secretary.db.models import CalendarEvent, CalendarInstance, DriveFile, Message
from secretary.errors import NotFound

_HIDDEN_LABELS = ("SPAM", "TRASH")
_MAX_TEXT = 4000


def message_item(message: Message) -> Item:
    people = [p for p in (message.from_name, message.from_addr) if p]
    text = message.reply_text or message.body_text or message.snippet or ""
    return Item(
        kind="email",
        id=message.gmail_id,
        title=message.subject or "(no subject)",
        text=text[:_MAX_TEXT],
        at=message.sent_at or message.internal_date,
        people=people,
        thread_id=message.gmail_thread_id,
    )


def event_item(event: CalendarEvent, instance: CalendarInstance | None = None) -> Item:
    attendees = [str(a.get("email", "")) for a in (event.attendees or []) if a.get("email")]
    return Item(
        kind="event",
        id=instance.google_id if instance is not None else event.google_id,
        title=event.summary or "(untitled event)",
        text=(event.description or "")[:_MAX_TEXT],
        at=instance.start_at if instance is not None else event.start_at,
        end=instance.end_at if instance is not None else event.end_at,
        all_day=event.all_day,
        people=attendees,
        location=event.location,
    )


def file_item(file: DriveFile) -> Item:
    return Item(
        kind="file",
        id=file.google_id,
        title=file.name,
        text=(file.text or "")[:_MAX_TEXT],
        at=file.google_modified_at,
        people=list(file.owners or []),
    )


def _person_filter(people: Sequence[str]) -> Any:
    clauses = []
    for person in people:
        pattern = f"%{person.strip()}%"
        clauses.append(or_(Message.from_name.ilike(pattern), Message.from_addr.ilike(pattern)))
    return or_(*clauses)


def _in_range(column: Any, time_range: TimeRange | None) -> list[Any]:
    if time_range is None:
        return []
    out = []
    if time_range.start is not None:
        out.append(column >= time_range.start)
    if time_range.end is not None:
        out.append(column < time_range.end)
    return out


def _visible_messages(user_id: int) -> Select[Message]:
    return select(Message).where(
        Message.user_id == user_id,
        ~Message.label_ids.overlap(list(_HIDDEN_LABELS)),
    )


def count_messages(
    session: Session,
    user_id: int,
    *,
    people: Sequence[str] = (),
    time_range: TimeRange | None = None,
    sample: int = 5,
    received_only: bool = False,
) -> tuple[int, list[Item]]:
    """How many visible messages match (sender, time), and the newest few to cite."""
    query = _visible_messages(user_id)
    if received_only:
        query = query.where(~Message.label_ids.overlap(["SENT", "DRAFT"]))
    if people:
        query = query.where(_person_filter(people))
    query = query.where(*_in_range(Message.internal_date, time_range))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest = session.scalars(query.order_by(Message.internal_date.desc()).limit(sample)).all()
    return int(total), [message_item(m) for m in newest]


def count_events(
    session: Session,
    user_id: int,
    *,
    time_range: TimeRange | None = None,
    sample: int = 5,
    zone: str = "UTC",
) -> tuple[int, list[Item]]:
    if time_range is not None and time_range.start and time_range.end:
        listed = events_between(
            session, user_id, time_range.start, time_range.end, limit=1000, zone=zone
        )
        return len(listed), listed[:sample]
    query = (
        select(CalendarInstance, CalendarEvent)
        .join(CalendarEvent, CalendarEvent.id == CalendarInstance.event_id)
        .where(
            CalendarInstance.user_id == user_id,
            CalendarInstance.status != "cancelled",
            _not_declined(),
            *_in_range(CalendarInstance.start_at, time_range),
        )
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(CalendarInstance.start_at).limit(sample)).all()
    return int(total), [event_item(event, instance) for instance, event in rows]


def count_files(
    session: Session, user_id: int, *, time_range: TimeRange | None = None, sample: int = 5
) -> tuple[int, list[Item]]:
    query = select(DriveFile).where(
        DriveFile.user_id == user_id,
        DriveFile.trashed.is_(False),
        DriveFile.mime_type != "application/vnd.google-apps.folder",
        *_in_range(DriveFile.google_modified_at, time_range),
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DriveFile.google_modified_at.desc()).limit(sample)).all()
    return int(total), [file_item(f) for f in rows]


def _not_declined() -> Any:
    return or_(
        CalendarInstance.self_response_status.is_(None),
        CalendarInstance.self_response_status != "declined",
    )


def events_between(
    session: Session,
    user_id: int,
    start: datetime,
    end: datetime,
    *,
    limit: int = 20,
    zone: str = "UTC",
) -> list[Item]:
    """Occurrences overlapping ``[start, end)`` that the owner has not declined. All-day
    events count by their local dates (a date is not a UTC midnight)."""
    tz = ZoneInfo(zone)
    first_day = start.astimezone(tz).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    rows = session.execute(
        select(CalendarInstance, CalendarEvent)
        .join(CalendarEvent, CalendarEvent.id == CalendarInstance.event_id)
        .where(
            CalendarInstance.user_id == user_id,
            CalendarInstance.status != "cancelled",
            or_(
                and_(
                    CalendarInstance.all_day.is_(False),
                    CalendarInstance.start_at < end,
                    CalendarInstance.end_at > start,
                ),
                and_(
                    CalendarInstance.all_day.is_(True),
                    CalendarInstance.start_date <= last_day,
                    CalendarInstance.end_date > first_day,
                ),
            ),
            _not_declined(),
        )
        .order_by(CalendarInstance.start_at)
        .limit(limit)
    ).all()
    return [event_item(event, instance) for instance, event in rows]


def next_event(session: Session, user_id: int, now: datetime, *, query: str = "") -> Item | None:
    """The next timed occurrence after ``now`` (matching ``query`` words when given)."""
    stmt = (
        select(CalendarInstance, CalendarEvent)
        .join(CalendarEvent, CalendarEvent.id == CalendarInstance.event_id)
        .where(
            CalendarInstance.user_id == user_id,
            CalendarInstance.status != "cancelled",
            CalendarInstance.start_at >= now,
            CalendarInstance.all_day.is_(False),
            _not_declined(),
        )
    )
    words = [w for w in re.findall(r"[a-z0-9]{3,}", query.lower()) if w not in {"next", "meeting"}]
    if words:
        stmt = stmt.where(and_(*(CalendarEvent.summary.ilike(f"%{w}%") for w in words[:3])))
    row = session.execute(stmt.order_by(CalendarInstance.start_at).limit(1)).first()
    return event_item(row[1], row[0]) if row else None


def read_thread(session: Session, user_id: int, thread_id: str) -> list[Item]:
    messages = session.scalars(
        select(Message)
        .where(Message.user_id == user_id, Message.gmail_thread_id == thread_id)
        .order_by(Message.internal_date)
    ).all()
    if not messages:
        raise NotFound("thread not found", code="thread_not_found")
    items = []
    for message in messages:
        item = message_item(message)
        item.text = (message.body_text or item.text)[: _MAX_TEXT * 4]
        items.append(item)
    return items


def read_message(session: Session, user_id: int, message_id: str) -> Message:
    message = session.scalars(
        select(Message).where(Message.user_id == user_id, Message.gmail_id == message_id)
    ).first()
    if message is None:
        raise NotFound("message not found", code="message_not_found")
    return message


def read_event(session: Session, user_id: int, event_id: str) -> Item:
    """An event by its Google id, or an occurrence by its instance id."""
    instance = session.scalars(
        select(CalendarInstance).where(
            CalendarInstance.user_id == user_id, CalendarInstance.google_id == event_id
        )
    ).first()
    if instance is not None:
        event = session.get(CalendarEvent, instance.event_id)
        if event is not None:
            return event_item(event, instance)
    event = session.scalars(
        select(CalendarEvent).where(
            CalendarEvent.user_id == user_id, CalendarEvent.google_id == event_id
        )
    ).first()
    if event is None:
        raise NotFound("event not found", code="event_not_found")
    return event_item(event)


def read_file(session: Session, user_id: int, file_id: str) -> Item:
    file = session.scalars(
        select(DriveFile).where(DriveFile.user_id == user_id, DriveFile.google_id == file_id)
    ).first()
    if file is None:
        raise NotFound("file not found", code="file_not_found")
    item = file_item(file)
    item.text = file.text or ""
    return item


def latest_message_from(
    session: Session,
    user_id: int,
    people: Sequence[str],
    *,
    within_days: int = 60,
    now: datetime | None = None,
) -> Message | None:
    """The newest visible message from any of ``people`` (a name or an address)."""
    if not people:
        return None
    query = _visible_messages(user_id).where(_person_filter(people))
    if now is not None:
        query = query.where(Message.internal_date >= now - timedelta(days=within_days))
    return session.scalars(query.order_by(Message.internal_date.desc()).limit(1)).first()


def _words(query: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9'.-]*", query.lower()) if len(w) > 1][:8]


def match_events(session: Session, user_id: int, query: str, *, limit: int = 8) -> list[Item]:
    """Events whose title, place or description contain the query's words, most words first.

    A store-side look-up beside the index: the calendar of one user is small, and a
    question names an event by its words ("the dentist", "board prep").
    """
    words = _words(query)
    if not words:
        return []
    fields = (CalendarEvent.summary, CalendarEvent.location, CalendarEvent.description)
    rows = session.scalars(
        select(CalendarEvent)
        .where(
            CalendarEvent.user_id == user_id,
            CalendarEvent.status != "cancelled",
            or_(*(f.ilike(f"%{w}%") for w in words for f in fields)),
        )
        .limit(200)
    ).all()
    scored = sorted(
        ((_coverage(words, f"{e.summary} {e.location} {e.description}"), e) for e in rows),
        key=lambda pair: pair[0],
        reverse=True,
    )
    return [_with_score(event_item(e), s) for s, e in scored[:limit] if s > 0]


def match_files(session: Session, user_id: int, query: str, *, limit: int = 8) -> list[Item]:
    """Drive files whose name or text contain the query's words (names count double)."""
    words = _words(query)
    if not words:
        return []
    rows = session.scalars(
        select(DriveFile)
        .where(
            DriveFile.user_id == user_id,
            DriveFile.trashed.is_(False),
            or_(*(f.ilike(f"%{w}%") for w in words for f in (DriveFile.name, DriveFile.text))),
        )
        .limit(200)
    ).all()
    scored = sorted(
        ((_coverage(words, f.name) * 2 + _coverage(words, f.text or ""), f) for f in rows),
        key=lambda pair: pair[0],
        reverse=True,
    )
    return [_with_score(file_item(f), s) for s, f in scored[:limit] if s > 0]


def _coverage(words: list[str], text: str) -> float:
    lowered = text.lower()
    return sum(1 for w in words if re.search(rf"\b{re.escape(w)}", lowered)) / len(words)


def _with_score(item: Item, score: float) -> Item:
    item.score = score
    return item


def event_location(session: Session, user_id: int, event_id: str) -> tuple[int, str, str] | None:
    """(account id, calendar Google id, event Google id) of an event or an occurrence."""
    from secretary.db.models import Calendar

    row = session.execute(
        select(CalendarInstance.account_id, Calendar.google_id, CalendarInstance.google_id)
        .join(Calendar, Calendar.id == CalendarInstance.calendar_id)
        .where(CalendarInstance.user_id == user_id, CalendarInstance.google_id == event_id)
    ).first()
    if row is None:
        row = session.execute(
            select(CalendarEvent.account_id, Calendar.google_id, CalendarEvent.google_id)
            .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
            .where(CalendarEvent.user_id == user_id, CalendarEvent.google_id == event_id)
        ).first()
    return (int(row[0]), str(row[1]), str(row[2])) if row is not None else None


def file_account(session: Session, user_id: int, file_id: str) -> int | None:
    return session.scalar(
        select(DriveFile.account_id).where(
            DriveFile.user_id == user_id, DriveFile.google_id == file_id
        )
    )


def primary_account(session: Session, user_id: int) -> int | None:
    """The user's first connected Google account (where a proposed event is made)."""
    from secretary.db.models import GoogleAccount

    return session.scalar(
        select(GoogleAccount.id)
        .where(GoogleAccount.user_id == user_id)
        .order_by(GoogleAccount.id)
        .limit(1)
    )
