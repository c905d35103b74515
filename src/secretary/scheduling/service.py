"""Scheduling use cases: preferences, availability (issue 10 §2).

Loads the preferences and the synced calendars from the store, calls the pure engine
(``slots.py``) and renders its UTC instants in the requested zone. Services flush, never
commit: the edge owns the transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from secretary.kit.clock import utcnow
from secretary.scheduling import repository, slots
from secretary.scheduling.errors import InvalidSchedulingRequest, WindowTooLarge
from secretary.scheduling.schemas import (
    MAX_WINDOW_DAYS,
    AvailabilityIn,
    AvailabilityOut,
    SchedulingPreferencesIn,
    SchedulingPreferencesOut,
    SlotOut,
)

DEFAULT_WORKING_HOURS: dict[str, list[list[str]]] = {
    d: [["09:00", "17:00"]] for d in slots.WEEKDAYS[:5]
}
DEFAULT_BUFFER_MINUTES = 10
DEFAULT_NOTICE_MINUTES = 240
DEFAULT_STEP_MINUTES = 30

# Given the attendees and a window, their busy intervals (freebusy.query for internal ones).
AttendeeBusy = Callable[[Sequence[str], slots.Interval], list[slots.Interval]]


# -- preferences ----------------------------------------------------------------------------


def default_time_zone(session: Session, user_id: int) -> str:
    """The primary Calendar's zone (synced), else the user's, else UTC."""
    for calendar in repository.calendars(session, user_id):
        if calendar.is_primary and calendar.time_zone:
            return calendar.time_zone
    user = repository.get_user(session, user_id)
    return user.timezone if user and user.timezone else "UTC"


def owned_calendar_ids(session: Session, user_id: int) -> list[str]:
    """Every calendar the user owns; subscribed ones (holidays, a colleague's) do not count."""
    return [
        c.google_id
        for c in repository.calendars(session, user_id)
        if c.is_primary or c.access_role == "owner"
    ]


def get_preferences(session: Session, user_id: int) -> SchedulingPreferencesOut:
    """The effective preferences: the user's choices, defaults for what they left unset."""
    row = repository.get_preference_row(session, user_id)

    def chosen(name: str) -> Any:
        return getattr(row, name) if row is not None else None

    def number(name: str, default: int) -> int:
        value = chosen(name)
        return int(value) if value is not None else default

    working = chosen("working_hours")
    calendars = chosen("calendars")
    return SchedulingPreferencesOut(
        time_zone=chosen("time_zone") or default_time_zone(session, user_id),
        working_hours=working if working is not None else DEFAULT_WORKING_HOURS,
        buffer_minutes=number("buffer_minutes", DEFAULT_BUFFER_MINUTES),
        minimum_notice_minutes=number("minimum_notice_minutes", DEFAULT_NOTICE_MINUTES),
        no_meeting_days=list(chosen("no_meeting_days") or []),
        date_overrides=dict(chosen("date_overrides") or {}),
        max_meetings_per_day=chosen("max_meetings_per_day"),
        slot_step_minutes=number("slot_step_minutes", DEFAULT_STEP_MINUTES),
        calendars=list(calendars)
        if calendars is not None
        else owned_calendar_ids(session, user_id),
    )


def put_preferences(
    session: Session, user_id: int, body: SchedulingPreferencesIn
) -> SchedulingPreferencesOut:
    """Replace the preferences (validated); keys left out return to their defaults."""
    if body.time_zone is not None and not _valid_zone(body.time_zone):
        _bad(f"unknown time zone {body.time_zone!r}")
    working = _normalise_week(body.working_hours) if body.working_hours is not None else None
    overrides = (
        _normalise_overrides(body.date_overrides) if body.date_overrides is not None else None
    )
    no_meeting = None
    if body.no_meeting_days is not None:
        unknown = sorted(set(body.no_meeting_days) - set(slots.WEEKDAYS))
        if unknown:
            _bad(f"unknown weekday(s) {unknown}; use {list(slots.WEEKDAYS)}")
        no_meeting = [d for d in slots.WEEKDAYS if d in body.no_meeting_days]
    row = repository.upsert_preference_row(session, user_id)
    row.time_zone = body.time_zone
    row.working_hours = working
    row.buffer_minutes = body.buffer_minutes
    row.minimum_notice_minutes = body.minimum_notice_minutes
    row.no_meeting_days = no_meeting
    row.date_overrides = overrides
    row.max_meetings_per_day = body.max_meetings_per_day
    row.slot_step_minutes = body.slot_step_minutes
    row.calendars = list(dict.fromkeys(body.calendars)) if body.calendars is not None else None
    session.flush()
    return get_preferences(session, user_id)


def _valid_zone(name: str) -> bool:
    try:
        slots.zone_of(name)
    except slots.InvalidPreference:
        return False
    return True


def _bad(message: str) -> NoReturn:
    raise InvalidSchedulingRequest(message)


def _intervals(pairs: list[list[str]], where: str) -> list[list[str]]:
    try:
        parsed = slots.parse_intervals(pairs)
    except slots.InvalidPreference as exc:
        raise InvalidSchedulingRequest(f"{where}: {exc}") from None
    return [[slots.format_hhmm(a), slots.format_hhmm(b)] for a, b in parsed]


def _normalise_week(week: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    unknown = sorted(set(week) - set(slots.WEEKDAYS))
    if unknown:
        _bad(f"working_hours: unknown weekday(s) {unknown}; use {list(slots.WEEKDAYS)}")
    return {d: _intervals(week[d], f"working_hours.{d}") for d in slots.WEEKDAYS if d in week}


def _normalise_overrides(overrides: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    out = {}
    for key in sorted(overrides):
        try:
            day = date.fromisoformat(key)
        except ValueError:
            raise InvalidSchedulingRequest(
                f"date_overrides: {key!r} is not a YYYY-MM-DD date"
            ) from None
        out[day.isoformat()] = _intervals(overrides[key], f"date_overrides.{key}")
    return out


def engine_preferences(prefs: SchedulingPreferencesOut) -> slots.Preferences:
    return slots.Preferences(
        time_zone=prefs.time_zone,
        working_hours={d: slots.parse_intervals(v) for d, v in prefs.working_hours.items()},
        buffer_minutes=prefs.buffer_minutes,
        minimum_notice_minutes=prefs.minimum_notice_minutes,
        no_meeting_days=frozenset(prefs.no_meeting_days),
        date_overrides={
            date.fromisoformat(k): slots.parse_intervals(v) for k, v in prefs.date_overrides.items()
        },
        max_meetings_per_day=prefs.max_meetings_per_day,
        slot_step_minutes=prefs.slot_step_minutes,
        calendars=frozenset(prefs.calendars),
    )


def learned_scoring(session: Session, user_id: int, zone: ZoneInfo) -> slots.Scoring:
    """Scoring with what the user accepted before: booked meetings by weekday and hour."""
    tally: Counter[tuple[int, int]] = Counter()
    for start in repository.booked_meeting_starts(session, user_id):
        local = start.astimezone(zone)
        tally[(local.weekday(), local.hour)] += 1
    return slots.Scoring(learned=dict(tally))


# -- availability ---------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_window(start: str, end: str, zone: ZoneInfo) -> slots.Interval:
    """RFC 3339 instants (end exclusive) or dates (whole local days, end inclusive)."""
    try:
        lo = (
            slots.day_bounds(date.fromisoformat(start), zone).start
            if _DATE.match(start.strip())
            else slots.parse_rfc3339(start)
        )
        hi = (
            slots.day_bounds(date.fromisoformat(end), zone).end
            if _DATE.match(end.strip())
            else slots.parse_rfc3339(end)
        )
    except ValueError as exc:
        raise InvalidSchedulingRequest(
            f"start and end must be RFC 3339 timestamps with an offset or YYYY-MM-DD dates ({exc})"
        ) from None
    if hi <= lo:
        raise InvalidSchedulingRequest("end must be after start")
    wall = hi.astimezone(zone).replace(tzinfo=None) - lo.astimezone(zone).replace(tzinfo=None)
    if wall > timedelta(days=MAX_WINDOW_DAYS):
        raise WindowTooLarge(
            f"the window is {wall.days} days long; at most {MAX_WINDOW_DAYS} days are allowed",
            details={"max_days": MAX_WINDOW_DAYS},
        )
    return slots.Interval(lo, hi)


def find_availability(
    session: Session,
    user_id: int,
    body: AvailabilityIn,
    *,
    attendee_busy: AttendeeBusy | None = None,
    now: datetime | None = None,
) -> AvailabilityOut:
    """Free slots in the window, best first, rendered in the request's zone (else the owner's)."""
    prefs = get_preferences(session, user_id)
    zone_name = body.time_zone or prefs.time_zone
    if not _valid_zone(zone_name):
        raise InvalidSchedulingRequest(f"unknown time zone {zone_name!r}")
    zone = slots.zone_of(zone_name)
    window = parse_window(body.start, body.end, zone)
    found = compute_slots(
        session,
        user_id,
        window=window,
        duration=timedelta(minutes=body.duration_minutes),
        attendees=body.attendees or [],
        attendee_busy=attendee_busy,
        now=now,
        prefs=prefs,
    )
    return AvailabilityOut(
        time_zone=zone_name,
        slots=[
            SlotOut(
                start=slots.to_rfc3339(s.start, zone),
                end=slots.to_rfc3339(s.end, zone),
                score=s.score,
            )
            for s in found[: body.max_slots]
        ],
    )


def compute_slots(
    session: Session,
    user_id: int,
    *,
    window: slots.Interval,
    duration: timedelta,
    attendees: Sequence[str] = (),
    attendee_busy: AttendeeBusy | None = None,
    now: datetime | None = None,
    prefs: SchedulingPreferencesOut | None = None,
) -> list[slots.Slot]:
    """Every valid slot (best first) from the store's events and the preferences."""
    prefs = prefs or get_preferences(session, user_id)
    engine_prefs = engine_preferences(prefs)
    others = attendee_busy(attendees, window) if attendees and attendee_busy else []
    return slots.find_free_slots(
        events=repository.engine_events(session, user_id, window),
        preferences=engine_prefs,
        window=window,
        duration=duration,
        now=now or utcnow(),
        attendee_busy=others,
        scoring=learned_scoring(session, user_id, slots.zone_of(prefs.time_zone)),
    )
