"""Calendar sync: ``calendarList`` and every selected calendar's events into the store.

Per calendar (independent of the others, several in parallel):

- **Full listing** (first sync, or after a 410): in one transaction the calendar's events
  are wiped and ``listing`` is set; then each page (``singleEvents=false``,
  ``showDeleted=true``, no time bounds: the whole calendar) is stored in its own
  transaction together with the next ``page_token``, so a ``kill -9`` resumes at the page
  after the last one committed: no gaps (every page is committed before its token moves)
  and no duplicates (rows are upserts on ``(calendar_id, google_id)``). The last page's
  ``nextSyncToken`` is stored with it.
- **Incremental**: ``syncToken`` listing; pages are applied as they come (idempotent
  upserts and deletes) and the new sync token is stored only with the last page, so an
  interrupted incremental run is simply replayed.
- **410 Gone** (``SyncTokenExpired``): Google's documented recovery — wipe that calendar's
  events and list it fully again, once per run; a second 410 for the same calendar in the
  same run raises ``SyncFailed`` (never a loop). Each one is counted in
  ``calendars.full_syncs`` and audited.

Changes racing a full listing are not lost: the sync token describes the calendar as of
the listing's first page, so the next incremental run returns them.

``calendar_instances`` is maintained in the same transactions as the events it derives
from (see ``calendar_records`` for the expansion and why).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AuditLog, Calendar, CalendarEvent, CalendarInstance
from secretary.db.session import unit_of_work
from secretary.google.calendar import CalendarClient, SyncTokenExpired
from secretary.google.resilience import http_status
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.sync.calendar_records import (
    Occurrence,
    event_row,
    expand,
    single_occurrence,
)
from secretary.sync.errors import SyncFailed
from secretary.sync.workspace import (
    CALENDAR,
    ProgressFn,
    WorkspaceSyncReport,
    get_state,
    open_credentials,
    record_error,
    save_state,
    service_lock,
    syncable_account,
)

log = get_logger(__name__)

_EVENT_COLUMNS = (
    "ical_uid",
    "etag",
    "status",
    "summary",
    "description",
    "location",
    "all_day",
    "start_at",
    "end_at",
    "start_date",
    "end_date",
    "start_time_zone",
    "end_time_zone",
    "recurrence",
    "recurring_event_id",
    "original_start",
    "transparency",
    "visibility",
    "event_type",
    "organizer_email",
    "organizer_name",
    "organizer_self",
    "self_response_status",
    "attendees",
    "conference_url",
    "html_link",
    "sequence",
    "google_updated_at",
)


@dataclass(frozen=True)
class _CalendarRef:
    id: int
    user_id: int
    account_id: int
    google_id: str
    time_zone: str


def open_calendar(
    sessions: sessionmaker[Session], account_id: int, settings: Settings
) -> CalendarClient:
    return CalendarClient(
        open_credentials(sessions, account_id, settings),
        settings=settings,
        account_key=str(account_id),
    )


class CalendarSync:
    """One account's Calendar sync. Hold ``service_lock`` around ``run`` (``sync_calendar``
    does)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        account_id: int,
        settings: Settings,
        *,
        client: CalendarClient | None = None,
        progress: ProgressFn | None = None,
        workers: int = 4,
    ) -> None:
        self.sessions = sessions
        self.account_id = account_id
        self.settings = settings
        self.client = client or open_calendar(sessions, account_id, settings)
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.workers = max(1, min(workers, settings.google.max_concurrent_requests))
        self.report = WorkspaceSyncReport(account=account_id, service=CALENDAR, phase="initial")

    # -- entry point ----------------------------------------------------------------------

    def run(self) -> WorkspaceSyncReport:
        started = time.monotonic()
        units_before = self.client.governor.stats.units_charged
        counters = (self.client.counters.http_requests, self.client.counters.retries)
        try:
            calendars = self._sync_calendar_list()
            done = 0
            self.progress("calendar", done, len(calendars))
            with ThreadPoolExecutor(self.workers, thread_name_prefix="calendar-sync") as pool:
                futures = [pool.submit(self._sync_one, cal) for cal in calendars]
                errors: list[BaseException] = []
                for future in futures:
                    try:
                        future.result()
                    except BaseException as exc:
                        errors.append(exc)
                    done += 1
                    self.progress("calendar", done, len(calendars))
            if errors:
                raise errors[0]
            with unit_of_work(self.sessions) as session:
                account = syncable_account(session, self.account_id)
                state = get_state(session, account, CALENDAR, for_update=True)
                save_state(
                    session,
                    state,
                    phase="incremental",
                    last_synced_at=utcnow(),
                    last_error=None,
                    full_resyncs=state.full_resyncs + self.report.full_syncs,
                )
                self.report.items = int(
                    session.scalar(
                        select(func.count()).where(CalendarEvent.account_id == self.account_id)
                    )
                    or 0
                )
        except Exception as exc:
            record_error(self.sessions, self.account_id, CALENDAR, exc)
            raise
        self.report.phase = "incremental"
        self.report.seconds = round(time.monotonic() - started, 3)
        self.report.units = self.client.governor.stats.units_charged - units_before
        self.report.http_requests = self.client.counters.http_requests - counters[0]
        self.report.retries = self.client.counters.retries - counters[1]
        return self.report

    # -- the calendar list ------------------------------------------------------------------

    def _sync_calendar_list(self) -> list[_CalendarRef]:
        entries = self.client.list_calendars()
        with unit_of_work(self.sessions) as session:
            account = syncable_account(session, self.account_id)
            listed = {str(e["id"]) for e in entries}
            session.execute(
                delete(Calendar).where(
                    Calendar.account_id == account.id, Calendar.google_id.not_in(listed)
                )
            )
            refs: list[_CalendarRef] = []
            for entry in entries:
                selected = bool(entry.get("selected")) or bool(entry.get("primary"))
                values = {
                    "summary": str(entry.get("summaryOverride") or entry.get("summary") or ""),
                    "description": entry.get("description"),
                    "time_zone": str(entry.get("timeZone") or "UTC"),
                    "is_primary": bool(entry.get("primary")),
                    "selected": selected,
                    "access_role": entry.get("accessRole"),
                    "background_color": entry.get("backgroundColor"),
                }
                row_id = session.execute(
                    insert(Calendar)
                    .values(
                        user_id=account.user_id,
                        account_id=account.id,
                        google_id=str(entry["id"]),
                        listing=False,
                        full_syncs=0,
                        **values,
                    )
                    .on_conflict_do_update(
                        index_elements=["account_id", "google_id"],
                        set_={**values, "updated_at": func.now()},
                    )
                    .returning(Calendar.id)
                ).scalar_one()
                if not selected:
                    # Unselected: keep the entry, drop its events; selecting it lists again.
                    self._wipe(session, row_id)
                    session.execute(
                        update(Calendar)
                        .where(Calendar.id == row_id)
                        .values(sync_token=None, page_token=None, listing=False)
                    )
                    continue
                refs.append(
                    _CalendarRef(
                        row_id,
                        account.user_id,
                        account.id,
                        str(entry["id"]),
                        str(values["time_zone"]),
                    )
                )
        return refs

    # -- one calendar -----------------------------------------------------------------------

    def _sync_one(self, cal: _CalendarRef) -> None:
        expired_once = False
        while True:
            with unit_of_work(self.sessions) as session:
                row = session.get(Calendar, cal.id, with_for_update=True)
                if row is None:
                    return  # removed from the calendar list meanwhile
                if row.sync_token is None and not row.listing:
                    self._wipe(session, cal.id)
                    row.listing = True
                    row.page_token = None
                sync_token, page_token, listing = row.sync_token, row.page_token, row.listing
            try:
                if listing:
                    self._full_listing(cal, page_token)
                else:
                    assert sync_token is not None
                    self._incremental(cal, sync_token)
                self._maybe_move_horizon(cal)
                return
            except SyncTokenExpired:
                if expired_once:
                    raise SyncFailed(
                        "a calendar's sync token expired again right after a full listing"
                    ) from None
                expired_once = True
                self._restart_listing(cal, reason="sync_token_expired")
            except HttpError as exc:
                # A stored page token of an interrupted listing that Google no longer
                # accepts: start that listing again (once).
                if listing and page_token and http_status(exc) in (400, 410) and not expired_once:
                    expired_once = True
                    self._restart_listing(cal, reason="page_token_invalid")
                    continue
                if http_status(exc) == 404:
                    # Deleted (or unshared) since the calendar list was read: drop it; the
                    # next calendarList agrees. One vanished calendar must not fail the rest.
                    log.warning("calendar_vanished", account_id=self.account_id)
                    with unit_of_work(self.sessions) as session:
                        session.execute(delete(Calendar).where(Calendar.id == cal.id))
                    return
                raise

    def _restart_listing(self, cal: _CalendarRef, *, reason: str) -> None:
        log.warning("calendar_full_resync", account_id=self.account_id, reason=reason)
        with unit_of_work(self.sessions) as session:
            row = session.get(Calendar, cal.id, with_for_update=True)
            if row is None:
                return
            self._wipe(session, cal.id)
            row.sync_token = None
            row.page_token = None
            row.listing = True
            row.full_syncs += 1
            session.add(
                AuditLog(
                    user_id=cal.user_id,
                    account_id=cal.account_id,
                    actor="sync",
                    action="calendar_full_resync",
                    details={"calendar": cal.id, "reason": reason},
                )
            )
        with self._report_lock():
            self.report.full_syncs += 1

    def _full_listing(self, cal: _CalendarRef, page_token: str | None) -> None:
        while True:
            page = self.client.list_events_page(cal.google_id, page_token=page_token)
            with unit_of_work(self.sessions) as session:
                row = session.get(Calendar, cal.id, with_for_update=True)
                if row is None or not row.listing:
                    return
                changed = self._apply(session, cal, page.items)
                row.page_token = page.next_page_token
                if page.next_sync_token:
                    row.sync_token = page.next_sync_token
                    row.listing = False
                    row.last_synced_at = utcnow()
                    self._set_horizon(row)
            with self._report_lock():
                self.report.changed += changed
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def _incremental(self, cal: _CalendarRef, sync_token: str) -> None:
        page_token: str | None = None
        while True:
            page = self.client.list_events_page(
                cal.google_id, sync_token=None if page_token else sync_token, page_token=page_token
            )
            with unit_of_work(self.sessions) as session:
                row = session.get(Calendar, cal.id, with_for_update=True)
                if row is None:
                    return
                if row.sync_token != sync_token:
                    raise SyncFailed("another sync moved this calendar's sync token; retry")
                changed = self._apply(session, cal, page.items)
                if page.next_sync_token:
                    row.sync_token = page.next_sync_token
                    row.last_synced_at = utcnow()
            with self._report_lock():
                self.report.changed += changed
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    # -- storing ------------------------------------------------------------------------------

    def _report_lock(self) -> Any:
        lock = getattr(self, "_lock", None)
        if lock is None:
            import threading

            lock = self._lock = threading.Lock()
        return lock

    def _horizon(self) -> tuple[datetime, datetime]:
        now = utcnow()
        return (
            now - timedelta(days=self.settings.sync.calendar_past_days),
            now + timedelta(days=self.settings.sync.calendar_future_days),
        )

    def _set_horizon(self, row: Calendar) -> None:
        row.instances_from, row.instances_until = self._horizon()

    @staticmethod
    def _wipe(session: Session, calendar_id: int) -> None:
        session.execute(delete(CalendarEvent).where(CalendarEvent.calendar_id == calendar_id))

    def _apply(self, session: Session, cal: _CalendarRef, items: list[dict[str, Any]]) -> int:
        """Store one page of events (upserts; deleted non-recurring events removed) and
        bring their instances up to date. Returns the number of rows written or removed."""
        if not items:
            return 0
        rows = [event_row(item, cal.time_zone) for item in items]
        # A page never repeats an id, but be safe: the last version wins.
        by_id = {r["google_id"]: r for r in rows}
        gone = [
            gid
            for gid, r in by_id.items()
            if r["status"] == "cancelled" and not r["recurring_event_id"]
        ]
        keep = [r for gid, r in by_id.items() if gid not in set(gone)]
        if gone:
            # A deleted single event or series (its exceptions go with it, as on Google).
            session.execute(
                delete(CalendarEvent).where(
                    CalendarEvent.calendar_id == cal.id,
                    (CalendarEvent.google_id.in_(gone))
                    | (CalendarEvent.recurring_event_id.in_(gone)),
                )
            )
        if keep:
            # executemany: one cached statement, pipelined by the driver (a many-row VALUES
            # list would be compiled afresh for every page size).
            stmt = insert(CalendarEvent)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["calendar_id", "google_id"],
                    set_={
                        **{c: getattr(stmt.excluded, c) for c in _EVENT_COLUMNS},
                        "updated_at": func.now(),
                    },
                ),
                [
                    {
                        "user_id": cal.user_id,
                        "account_id": cal.account_id,
                        "calendar_id": cal.id,
                        **r,
                    }
                    for r in keep
                ],
            )
        series = {r["recurring_event_id"] for r in keep if r["recurring_event_id"]}
        series |= {r["google_id"] for r in keep if r["recurrence"]}
        singles = [r for r in keep if not r["recurrence"] and not r["recurring_event_id"]]
        self._refresh_singles(session, cal, singles)
        self._refresh_series(session, cal, series)
        return len(keep) + len(gone)

    def _event_ids(
        self, session: Session, cal: _CalendarRef, google_ids: Iterable[str]
    ) -> dict[str, int]:
        ids = list(google_ids)
        if not ids:
            return {}
        rows = session.execute(
            select(CalendarEvent.google_id, CalendarEvent.id).where(
                CalendarEvent.calendar_id == cal.id, CalendarEvent.google_id.in_(ids)
            )
        )
        return {str(gid): int(pk) for gid, pk in rows.all()}

    def _refresh_singles(
        self, session: Session, cal: _CalendarRef, singles: list[dict[str, Any]]
    ) -> None:
        if not singles:
            return
        pks = self._event_ids(session, cal, (r["google_id"] for r in singles))
        session.execute(
            delete(CalendarInstance).where(CalendarInstance.event_id.in_(list(pks.values())))
        )
        # A former series (its rule removed) leaves no stale occurrences behind.
        session.execute(
            delete(CalendarInstance).where(
                CalendarInstance.calendar_id == cal.id,
                CalendarInstance.recurring_event_id.in_(list(pks)),
            )
        )
        occurrences = [(o, r) for r in singles if (o := single_occurrence(r)) is not None]
        self._insert_instances(session, cal, occurrences, pks)

    def _refresh_series(self, session: Session, cal: _CalendarRef, masters: set[str]) -> None:
        """Re-expand these series from the stored master and exceptions."""
        if not masters:
            return
        lo, hi = self._horizon()
        cols = [getattr(CalendarEvent, c) for c in ("google_id", *_EVENT_COLUMNS)]
        rows = [
            dict(r._mapping)
            for r in session.execute(
                select(*cols).where(
                    CalendarEvent.calendar_id == cal.id,
                    (CalendarEvent.google_id.in_(masters))
                    | (CalendarEvent.recurring_event_id.in_(masters)),
                )
            )
        ]
        session.execute(
            delete(CalendarInstance).where(
                CalendarInstance.calendar_id == cal.id,
                CalendarInstance.recurring_event_id.in_(masters),
            )
        )
        by_master: dict[str, dict[str, Any]] = {}
        exceptions: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["recurring_event_id"]:
                exceptions.setdefault(r["recurring_event_id"], []).append(r)
            else:
                by_master[r["google_id"]] = r
        occurrences: list[tuple[Occurrence, dict[str, Any]]] = []
        sources = {r["google_id"]: r for r in rows}
        for gid, master in by_master.items():
            occurrences.extend(
                (occ, sources[occ.source_google_id])
                for occ in expand(master, exceptions.get(gid, []), lo, hi, cal.time_zone)
            )
        # Exceptions whose master is not stored (yet, during a listing): nothing to expand.
        pks = self._event_ids(session, cal, {o.source_google_id for o, _ in occurrences})
        self._insert_instances(session, cal, occurrences, pks)

    @staticmethod
    def _insert_instances(
        session: Session,
        cal: _CalendarRef,
        occurrences: list[tuple[Occurrence, dict[str, Any]]],
        pks: dict[str, int],
    ) -> None:
        values = [
            {
                "user_id": cal.user_id,
                "account_id": cal.account_id,
                "calendar_id": cal.id,
                "event_id": pks[occ.source_google_id],
                "google_id": occ.google_id,
                "recurring_event_id": occ.recurring_event_id,
                "summary": src["summary"],
                "status": src["status"],
                "all_day": src["all_day"],
                "start_at": occ.start_at,
                "end_at": occ.end_at,
                "start_date": occ.start_date,
                "end_date": occ.end_date,
                "transparency": src["transparency"],
                "self_response_status": src["self_response_status"],
            }
            for occ, src in occurrences
            if occ.source_google_id in pks
        ]
        if values:
            stmt = insert(CalendarInstance)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["calendar_id", "google_id"],
                    set_={
                        c: getattr(stmt.excluded, c)
                        for c in (
                            "event_id",
                            "recurring_event_id",
                            "summary",
                            "status",
                            "all_day",
                            "start_at",
                            "end_at",
                            "start_date",
                            "end_date",
                            "transparency",
                            "self_response_status",
                        )
                    },
                ),
                values,
            )

    def _maybe_move_horizon(self, cal: _CalendarRef) -> None:
        """Time moves on: once a day, re-expand the calendar's series for the new horizon."""
        lo, hi = self._horizon()
        with unit_of_work(self.sessions) as session:
            row = session.get(Calendar, cal.id, with_for_update=True)
            if row is None or row.listing:
                return
            if row.instances_until is not None and hi - row.instances_until < timedelta(days=1):
                return
            masters = set(
                session.scalars(
                    select(CalendarEvent.google_id).where(
                        CalendarEvent.calendar_id == cal.id, CalendarEvent.recurrence.is_not(None)
                    )
                )
            )
            self._refresh_series(session, cal, masters)
            session.execute(
                delete(CalendarInstance).where(
                    CalendarInstance.calendar_id == cal.id,
                    CalendarInstance.recurring_event_id.is_not(None),
                    CalendarInstance.end_at <= lo,
                )
            )
            row.instances_from, row.instances_until = lo, hi


def sync_calendar(
    sessions: sessionmaker[Session],
    account_id: int,
    settings: Settings,
    *,
    client: CalendarClient | None = None,
    progress: ProgressFn | None = None,
) -> WorkspaceSyncReport:
    """Sync one account's calendars now (first full listing, or incremental)."""
    with service_lock(sessions, CALENDAR, account_id):
        return CalendarSync(sessions, account_id, settings, client=client, progress=progress).run()
