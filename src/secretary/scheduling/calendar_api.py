"""The Calendar calls scheduling makes, behind a small port (the emulator is its fake).

Only four calls: ``events.insert`` (booking, with a caller-chosen id so a retry finds its
own event instead of creating another), ``events.get``, ``events.patch`` (answering an
invitation) and ``freebusy.query`` (attendees' and a fresh check of the owner's busy time).
The Calendar client the workspace-sync stream adds can replace ``GoogleCalendarPort``
through ``bootstrap.GoogleClients.calendar`` once it lands; until then this module builds
its discovery client the same way Gmail's is built.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from googleapiclient.errors import HttpError
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.kit.logging import get_logger
from secretary.scheduling import slots

log = get_logger(__name__)

# Google's documented limits for freebusy.query: at most 50 calendars per request
# (calendarExpansionMax); long ranges are refused (timeRangeTooLong), so ranges are split
# into windows of at most 60 days, which keeps the API's 62-day windows to two calls.
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_RANGE = timedelta(days=60)


class CalendarPort(Protocol):
    def insert_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create ``body`` (with its ``id``); a 409 duplicate returns the existing event."""
        ...

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None: ...

    def patch_event(
        self, calendar_id: str, event_id: str, body: dict[str, Any]
    ) -> dict[str, Any]: ...

    def freebusy(
        self, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime
    ) -> dict[str, Any]: ...


def event_id_for(account_id: int, gmail_thread_id: str) -> str:
    """A deterministic Calendar event id for the booking made from one thread.

    Google allows ids of 5-1024 characters from base32hex (``a-v`` and ``0-9``); the hash
    of the account and thread in that alphabet is always valid and never collides in
    practice, so every retry of the booking names the same event.
    """
    digest = hashlib.sha256(f"secretary-booking:{account_id}:{gmail_thread_id}".encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def freebusy_windows(
    calendar_ids: Sequence[str], window: slots.Interval
) -> list[tuple[list[str], slots.Interval]]:
    """The (calendars, range) pairs one logical query is split into, within Google's limits."""
    batches = [
        list(calendar_ids[i : i + FREEBUSY_MAX_CALENDARS])
        for i in range(0, len(calendar_ids), FREEBUSY_MAX_CALENDARS)
    ]
    ranges: list[slots.Interval] = []
    start = window.start
    while start < window.end:
        end = min(window.end, start + FREEBUSY_MAX_RANGE)
        ranges.append(slots.Interval(start, end))
        start = end
    return [(batch, span) for batch in batches for span in ranges]


def query_busy(
    port: CalendarPort, calendar_ids: Sequence[str], window: slots.Interval
) -> list[slots.Interval]:
    """Busy intervals of ``calendar_ids`` over ``window`` (calendars Google cannot show us,
    e.g. outside the domain, report errors and contribute nothing)."""
    busy: list[slots.Interval] = []
    for batch, span in freebusy_windows(calendar_ids, window):
        answer = port.freebusy(batch, span.start, span.end)
        for entry in (answer.get("calendars") or {}).values():
            busy.extend(
                slots.Interval(slots.parse_rfc3339(b["start"]), slots.parse_rfc3339(b["end"]))
                for b in entry.get("busy") or []
            )
    return slots.merge(busy)


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class GoogleCalendarPort:
    """``CalendarPort`` over the official discovery client (Google or the emulator)."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._lock = threading.Lock()  # httplib2 is not thread-safe

    def insert_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            try:
                result: dict[str, Any] = (
                    self._service.events()
                    .insert(
                        calendarId=calendar_id,
                        body=body,
                        sendUpdates="all",
                        # 1: a conferenceData.createRequest (a Meet link) is honoured.
                        conferenceDataVersion=1,
                    )
                    .execute()
                )
                return result
            except HttpError as exc:
                if exc.resp.status != 409:
                    raise
        existing = self.get_event(calendar_id, str(body["id"]))
        if existing is None:  # pragma: no cover - 409 means it exists
            raise RuntimeError("Calendar reported a duplicate id it cannot find")
        return existing

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                result: dict[str, Any] = (
                    self._service.events().get(calendarId=calendar_id, eventId=event_id).execute()
                )
                return result
            except HttpError as exc:
                if exc.resp.status in (404, 410):
                    return None
                raise

    def patch_event(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            result: dict[str, Any] = (
                self._service.events()
                .patch(calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="all")
                .execute()
            )
            return result

    def freebusy(
        self, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime
    ) -> dict[str, Any]:
        body = {
            "timeMin": _rfc3339(time_min),
            "timeMax": _rfc3339(time_max),
            "items": [{"id": c} for c in calendar_ids],
        }
        with self._lock:
            result: dict[str, Any] = self._service.freebusy().query(body=body).execute()
            return result


CalendarFactory = Callable[[Session, int], CalendarPort]


def google_calendar_factory(settings: Settings, sessions: sessionmaker[Session]) -> CalendarFactory:
    """One ``GoogleCalendarPort`` per account, reused (like the Gmail factory)."""
    cache: dict[int, CalendarPort] = {}
    lock = threading.Lock()

    def factory(session: Session, account_id: int) -> CalendarPort:
        with lock:
            hit = cache.get(account_id)
        if hit is not None:
            return hit
        from secretary.accounts import service as accounts
        from secretary.google.client import ManagedCredentials, build_service

        token = accounts.get_access_token(session, account_id, settings=settings)
        refresher = accounts.make_token_refresher(
            sessions, account_id, settings=settings, current_token=token
        )
        port = GoogleCalendarPort(
            build_service("calendar", "v3", ManagedCredentials(token, refresher), settings)
        )
        with lock:
            return cache.setdefault(account_id, port)

    return factory


_factories: dict[int, CalendarFactory] = {}
_factories_lock = threading.Lock()


def calendar_factory(settings: Settings, sessions: sessionmaker[Session]) -> CalendarFactory:
    """The process's Calendar factory, built once per sessionmaker and kept.

    Integration note: once ``bootstrap.GoogleClients.calendar`` carries a typed Calendar
    client, build this port from it in ``compose`` instead.
    """
    key = id(sessions)
    with _factories_lock:
        if key not in _factories:
            _factories[key] = google_calendar_factory(settings, sessions)
        return _factories[key]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def attendee_busy_source(
    session: Session,
    user_id: int,
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    tolerant: bool = False,
) -> Callable[[Sequence[str], slots.Interval], list[slots.Interval]]:
    """Busy time of the internal attendees (same domain as the user's account) through
    ``freebusy.query``; external attendees' calendars are not visible and are skipped.

    ``tolerant``: a Google failure yields no attendee busy time instead of an error (the
    draft stage: slots are still the owner's real free time, and the booking re-checks)."""
    from secretary.scheduling import repository

    def busy(attendees: Sequence[str], window: slots.Interval) -> list[slots.Interval]:
        account = repository.primary_account(session, user_id)
        if account is None:
            return []
        own = domain_of(account.email)
        internal = [
            a for a in attendees if domain_of(a) == own and a.lower() != account.email.lower()
        ]
        if not internal:
            return []
        try:
            port = calendar_factory(settings, sessions)(session, account.id)
            return query_busy(port, internal, window)
        except Exception:
            if not tolerant:
                raise
            log.warning("attendee_freebusy_failed", attendees=len(internal))
            return []

    return busy
