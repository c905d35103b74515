"""Google Calendar v3 through the official client, metered like Gmail (``MeteredClient``).

Listing strategy (documented by Google for ``events.list``): a full listing with
``singleEvents=false`` and ``showDeleted=true`` and no time bounds (the whole calendar:
masters, exceptions, cancelled exceptions), keeping ``nextSyncToken``; later listings
send that ``syncToken`` with the same parameters and get only what changed, deletions
included. A sync token Google no longer honours answers 410 ``fullSyncRequired``:
``SyncTokenExpired``, after which the caller must clear that calendar and list it again.
``showDeleted=false`` must never accompany a ``syncToken`` (Google refuses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from googleapiclient.errors import HttpError

from secretary.config import Settings
from secretary.google.client import ManagedCredentials
from secretary.google.errors import GoogleError
from secretary.google.metered import MeteredClient
from secretary.google.quota import QuotaGovernor
from secretary.google.resilience import CircuitBreaker, http_status
from secretary.google.units import calendar_units

EVENTS_PAGE_SIZE = 2500  # events.list maximum; one page costs one call
CALENDAR_LIST_PAGE_SIZE = 250
SCOPES = (
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar",
)


class SyncTokenExpired(GoogleError):
    """``events.list`` answered 410 Gone: the calendar needs a full listing again."""

    status_code = 410
    code = "calendar_sync_token_expired"


@dataclass
class EventsPage:
    items: list[dict[str, Any]]
    next_page_token: str | None
    next_sync_token: str | None
    time_zone: str | None


class CalendarClient(MeteredClient):
    api = "calendar"
    version = "v3"

    def __init__(
        self,
        credentials: ManagedCredentials,
        *,
        settings: Settings,
        account_key: str,
        governor: QuotaGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        super().__init__(
            credentials,
            settings=settings,
            account_key=account_key,
            units=calendar_units,
            governor=governor,
            breaker=breaker,
            **kwargs,
        )
        self._calendar_list = self.service.calendarList()
        self._events = self.service.events()

    def list_calendars(self) -> list[dict[str, Any]]:
        """Every ``calendarList`` entry, hidden ones included (all pages)."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"maxResults": CALENDAR_LIST_PAGE_SIZE, "showHidden": True}
            if token:
                kwargs["pageToken"] = token
            page = self._execute(self._calendar_list.list(**kwargs), "calendarList.list")
            out.extend(page.get("items", []))
            token = page.get("nextPageToken")
            if not token:
                return out

    def list_events_page(
        self, calendar_id: str, *, sync_token: str | None = None, page_token: str | None = None
    ) -> EventsPage:
        """One page of a full listing (no tokens), its continuation (``page_token``) or an
        incremental listing (``sync_token``). Raises ``SyncTokenExpired`` on 410."""
        kwargs: dict[str, Any] = {
            "calendarId": calendar_id,
            "maxResults": min(self.settings.sync.calendar_page_size, EVENTS_PAGE_SIZE),
            "singleEvents": False,
            "showDeleted": True,
        }
        if page_token:
            kwargs["pageToken"] = page_token
        elif sync_token:
            kwargs["syncToken"] = sync_token
        try:
            page = self._execute(self._events.list(**kwargs), "events.list")
        except HttpError as exc:
            if http_status(exc) == 410:
                raise SyncTokenExpired(
                    "the calendar's sync token expired; a full listing is needed",
                    http_status=410,
                    reason="fullSyncRequired",
                ) from exc
            raise
        return EventsPage(
            items=list(page.get("items", [])),
            next_page_token=page.get("nextPageToken"),
            next_sync_token=page.get("nextSyncToken"),
            time_zone=page.get("timeZone"),
        )
