"""``text/calendar`` invites (iTIP REQUEST/CANCEL/REPLY) found in mail, read with icalendar."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time

from icalendar import Calendar

from secretary.mail.schemas import CalendarInvite

MAX_ICS_BYTES = 1_000_000


def _as_utc(value: object) -> tuple[datetime | None, bool]:
    """icalendar gives date, naive datetime (floating) or aware datetime; return aware UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), False  # floating time: best effort, read as UTC
        return value.astimezone(UTC), False
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC), True
    return None, False


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_invite(data: bytes, defects: list[str]) -> CalendarInvite | None:
    """The first VEVENT of an iCalendar object, or None (recording a defect) when unreadable."""
    # icalendar warns about guessed vendor TZIDs ("/mozilla.org/.../America/New_York"); the
    # guess is what we want, and a warning must not turn into an error under -W error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse_invite(data, defects)


def _parse_invite(data: bytes, defects: list[str]) -> CalendarInvite | None:
    try:
        cal = Calendar.from_ical(data[:MAX_ICS_BYTES].decode("utf-8", "replace"))
    except Exception:  # icalendar raises ValueError and friends on broken files
        defects.append("calendar_unparseable")
        return None
    method = _text(cal.get("METHOD"))
    for event in cal.walk("VEVENT"):
        try:
            start_prop = event.get("DTSTART")
            end_prop = event.get("DTEND")
            start_at, is_all_day = _as_utc(start_prop.dt if start_prop is not None else None)
            end_at, _ = _as_utc(end_prop.dt if end_prop is not None else None)
            if end_at is None and start_at is not None and event.get("DURATION") is not None:
                end_at = start_at + event.get("DURATION").dt
            organizer = _text(event.get("ORGANIZER"))
            if organizer and organizer.lower().startswith("mailto:"):
                organizer = organizer[7:]
            sequence_raw = event.get("SEQUENCE")
            sequence = int(sequence_raw) if sequence_raw is not None else None
        except Exception:  # one broken property must not lose the rest of the message
            defects.append("calendar_event_unparseable")
            continue
        return CalendarInvite(
            method=method.upper() if method else None,
            uid=_text(event.get("UID")),
            summary=_text(event.get("SUMMARY")),
            start_at=start_at,
            end_at=end_at,
            organizer=organizer,
            is_all_day=is_all_day,
            sequence=sequence,
        )
    return None
