"""Calendar sync against the emulator over HTTP with the official client."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import expire_calendar_sync_tokens
from workspace_emulator.quota import quota_book

from secretary.db.models import AuditLog, Calendar, CalendarEvent, CalendarInstance
from secretary.google.calendar import CalendarClient
from secretary.sync.calendar import open_calendar, sync_calendar
from tests.sync.conftest import Connected
from tests.workspace.conftest import (
    emulator_events,
    emulator_instances,
    seed_calendars,
    store_events,
    store_instances,
)


def _horizon() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=300), now + timedelta(days=700)


def test_initial_then_incremental_sync_equals_the_emulator(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_calendars(emu, email, calendars=3, events=120)
    report = sync_calendar(sessions, workspace.account_id, workspace.settings)
    assert report.phase == "incremental"
    assert store_events(sessions, workspace.account_id) == emulator_events(emu, email)
    lo, hi = _horizon()
    assert store_instances(sessions, workspace.account_id, lo, hi) == emulator_instances(
        emu, email, lo, hi
    )

    # Changes: a new event far in the future, an edit, a deletion, an occurrence cancelled.
    store = emu.users[email].calendar
    far = datetime.now(UTC) + timedelta(days=3 * 365)
    with emu.lock:
        store.insert_event(
            email,
            {
                "summary": "Far away",
                "start": {"dateTime": far.isoformat()},
                "end": {"dateTime": (far + timedelta(hours=1)).isoformat()},
            },
        )
        singles = [
            e
            for e in store.events[email].values()
            if not e.body.get("recurrence")
            and not e.body.get("recurringEventId")
            and not e.cancelled
        ]
        store.patch_event(email, singles[0].id, {"summary": "Renamed"})
        store.delete_event(email, singles[1].id)
        master = next(
            e for e in store.events[email].values() if e.body.get("recurrence") and not e.cancelled
        )
        occurrence = store.instances(email, master.id, {})["items"][5]
        store.delete_event(email, occurrence["id"])
    report = sync_calendar(sessions, workspace.account_id, workspace.settings)
    assert report.changed >= 4
    assert store_events(sessions, workspace.account_id) == emulator_events(emu, email)
    assert store_instances(sessions, workspace.account_id, lo, hi) == emulator_instances(
        emu, email, lo, hi
    )
    with sessions() as session:
        far_row = session.scalars(
            select(CalendarEvent).where(
                CalendarEvent.summary == "Far away",
                CalendarEvent.account_id == workspace.account_id,
            )
        ).one()
        assert far_row.start_at is not None
        assert far_row.start_at > datetime.now(UTC) + timedelta(days=1000)
        # Single events are occurrences whatever their date (the whole calendar).
        assert session.scalar(
            select(CalendarInstance.id).where(CalendarInstance.event_id == far_row.id)
        )


def test_event_details_are_stored(sessions: sessionmaker[Session], workspace: Connected) -> None:
    emu, email = workspace.emulator.state, workspace.email
    store = emu.users[email].calendar
    with emu.lock:
        store.insert_event(
            email,
            {
                "summary": "Planning",
                "description": "<p>Agenda: <b>budget</b></p><script>alert(1)</script>",
                "location": "Room 4",
                "start": {"dateTime": "2027-03-10T10:00:00+01:00", "timeZone": "Europe/Paris"},
                "end": {"dateTime": "2027-03-10T11:00:00+01:00", "timeZone": "Europe/Paris"},
                "attendees": [
                    {"email": email, "responseStatus": "tentative"},
                    {"email": "ana@example.org", "displayName": "Ana", "optional": True},
                ],
                "organizer": {"email": "ana@example.org", "displayName": "Ana"},
                "conferenceData": {
                    "entryPoints": [{"entryPointType": "video", "uri": "https://meet.google.com/x"}]
                },
                "transparency": "opaque",
            },
        )
        store.insert_event(
            email,
            {
                "summary": "Holiday",
                "start": {"date": "2027-08-01"},
                "end": {"date": "2027-08-04"},
                "transparency": "transparent",
            },
        )
    sync_calendar(sessions, workspace.account_id, workspace.settings)
    with sessions() as session:
        planning = session.scalars(
            select(CalendarEvent).where(
                CalendarEvent.account_id == workspace.account_id,
                CalendarEvent.summary == "Planning",
            )
        ).one()
        assert planning.description == "Agenda: budget"
        assert planning.location == "Room 4"
        assert planning.start_time_zone == "Europe/Paris"
        assert planning.start_at == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
        assert planning.self_response_status == "tentative"
        assert planning.organizer_email == "ana@example.org"
        assert planning.conference_url == "https://meet.google.com/x"
        assert {a["email"] for a in planning.attendees} == {email, "ana@example.org"}
        holiday = session.scalars(
            select(CalendarEvent).where(
                CalendarEvent.account_id == workspace.account_id, CalendarEvent.summary == "Holiday"
            )
        ).one()
        assert holiday.all_day
        assert holiday.start_date == date(2027, 8, 1)
        assert holiday.end_date == date(2027, 8, 4)
        assert holiday.transparency == "transparent"
        primary = session.scalars(
            select(Calendar).where(Calendar.account_id == workspace.account_id, Calendar.is_primary)
        ).one()
        assert primary.sync_token
        assert not primary.listing


def test_410_wipes_the_calendar_and_lists_it_again_once(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_calendars(emu, email, calendars=2, events=40)
    sync_calendar(sessions, workspace.account_id, workspace.settings)
    expire_calendar_sync_tokens(emu, email)
    store = emu.users[email].calendar
    with emu.lock:
        victim = next(
            e
            for e in store.events[email].values()
            if not e.cancelled
            and not e.body.get("recurrence")
            and not e.body.get("recurringEventId")
        )
        store.delete_event(email, victim.id)
    report = sync_calendar(sessions, workspace.account_id, workspace.settings)
    assert report.full_syncs == 2  # both calendars answered 410 once, and only once
    assert store_events(sessions, workspace.account_id) == emulator_events(emu, email)
    with sessions() as session:
        audits = session.scalars(
            select(AuditLog.action).where(AuditLog.account_id == workspace.account_id)
        ).all()
        assert audits.count("calendar_full_resync") == 2
    # Quota stayed within the allowance.
    assert quota_book(emu).stats()["users"][email]["rejected_rate"] == 0


def test_recurrence_expansion_matches_google_across_dst_and_rules(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    """Series crossing a DST change, UNTIL, EXDATE, all-day weekly, a moved and a
    cancelled occurrence: the stored occurrences equal the emulator's singleEvents listing
    (ids, instants) over the horizon."""
    emu, email = workspace.emulator.state, workspace.email
    store = emu.users[email].calendar
    year = datetime.now(UTC).year + 1
    with emu.lock:
        dst = store.insert_event(
            email,
            {
                "summary": "Weekly across DST",
                "start": {"dateTime": f"{year}-03-02T09:30:00+01:00", "timeZone": "Europe/Paris"},
                "end": {"dateTime": f"{year}-03-02T10:00:00+01:00", "timeZone": "Europe/Paris"},
                "recurrence": [
                    f"RRULE:FREQ=WEEKLY;UNTIL={year}0501T000000Z",
                    f"EXDATE;TZID=Europe/Paris:{year}0316T093000",
                ],
            },
        )
        store.insert_event(
            email,
            {
                "summary": "All-day every other week",
                "start": {"date": f"{year}-01-02"},
                "end": {"date": f"{year}-01-03"},
                "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=12"],
            },
        )
        items = store.instances(email, dst["id"], {})["items"]
        store.patch_event(
            email,
            items[2]["id"],
            {
                "start": {"dateTime": f"{year}-03-24T15:00:00+01:00", "timeZone": "Europe/Paris"},
                "end": {"dateTime": f"{year}-03-24T15:30:00+01:00", "timeZone": "Europe/Paris"},
            },
        )
        store.delete_event(email, items[4]["id"])
    sync_calendar(sessions, workspace.account_id, workspace.settings)
    lo, hi = _horizon()
    ours = store_instances(sessions, workspace.account_id, lo, hi)[email]
    assert ours == emulator_instances(emu, email, lo, hi)[email]
    dst_rows = sorted(o for o in ours if o[0].startswith(dst["id"]))
    assert len(dst_rows) == 7  # 9 Mondays to May, minus the EXDATE and the cancelled one
    # Wall-clock 09:30 in Paris on both sides of the DST change (08:30Z, then 07:30Z).
    hours = {start.hour for _id, start, _end in dst_rows if start.day != 24}
    assert hours == {8, 7}
    with sessions() as session:
        all_day = session.scalars(
            select(CalendarInstance).where(
                CalendarInstance.account_id == workspace.account_id,
                CalendarInstance.all_day,
            )
        ).all()
        assert len(all_day) == 12
        days = sorted(i.start_date for i in all_day if i.start_date)
        assert days[0] == date(year, 1, 2)
        assert all((b - a).days == 14 for a, b in itertools.pairwise(days))
        assert all(i.end_date == i.start_date + timedelta(days=1) for i in all_day if i.start_date)


def test_a_calendar_deleted_during_the_sync_is_dropped(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    ids = seed_calendars(emu, email, calendars=3, events=30)
    client = _client(sessions, workspace)
    gone = ids[2]
    real_list = client.list_calendars

    def list_then_delete() -> list[dict[str, object]]:
        entries = real_list()
        with emu.lock:  # the calendar disappears between the list and its events
            store = emu.users[email].calendar
            del store.calendars[gone]
            del store.events[gone]
        return entries

    client.list_calendars = list_then_delete  # type: ignore[method-assign]
    report = sync_calendar(sessions, workspace.account_id, workspace.settings, client=client)
    assert report.phase == "incremental"
    assert set(store_events(sessions, workspace.account_id)) == set(ids[:2])


def _client(sessions: sessionmaker[Session], workspace: Connected) -> CalendarClient:
    return open_calendar(sessions, workspace.account_id, workspace.settings)
