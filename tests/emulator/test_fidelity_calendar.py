"""Calendar v3 behaviours written from Google's reference (each test cites its page), run
with the official client against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

from tests.emulator.conftest import USER_EMAIL, mint_token

NY = "America/New_York"


@pytest.fixture
def cal(emulator: RunningEmulator, gmail_user: EmulatorUser) -> Any:
    token = mint_token(emulator.state, USER_EMAIL)
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token),  # type: ignore[no-untyped-call]
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": emulator.base_url},
    )


def _weekly(cal: Any) -> dict[str, Any]:
    body = {
        "summary": "Weekly",
        "start": {"dateTime": "2026-11-02T10:00:00", "timeZone": NY},
        "end": {"dateTime": "2026-11-02T10:30:00", "timeZone": NY},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
    }
    out: dict[str, Any] = cal.events().insert(calendarId="primary", body=body).execute()
    return out


def test_local_date_times_come_back_with_their_offset(cal: Any) -> None:
    """``EventDateTime.dateTime``: "A combined date-time value (formatted according to
    RFC3339). A time zone offset is required unless a time zone is explicitly specified in
    timeZone" — and Google answers with the offset
    (https://developers.google.com/workspace/calendar/api/v3/reference/events)."""
    event = _weekly(cal)
    assert event["start"] == {"dateTime": "2026-11-02T10:00:00-05:00", "timeZone": NY}
    got = cal.events().get(calendarId="primary", eventId=event["id"]).execute()
    assert got["end"]["dateTime"] == "2026-11-02T10:30:00-05:00"


def test_the_time_zone_parameter_sets_the_response_zone(cal: Any) -> None:
    """events.list ``timeZone``: "Time zone used in the response. Optional. The default is
    the time zone of the calendar." (https://developers.google.com/workspace/calendar/api/v3/reference/events/list)"""
    _weekly(cal)
    listed = cal.events().list(calendarId="primary", timeZone="Europe/Berlin").execute()
    assert listed["timeZone"] == "Europe/Berlin"
    assert listed["items"][0]["start"]["dateTime"] == "2026-11-02T16:00:00+01:00"


def test_cancelled_instances_and_deleted_series(cal: Any) -> None:
    """events.list ``showDeleted``: "Cancelled instances of recurring events (but not the
    underlying recurring event) will still be included if showDeleted and singleEvents are
    both False. If showDeleted and singleEvents are both True, only single instances of
    deleted events (but not the underlying recurring events) are returned."
    (https://developers.google.com/workspace/calendar/api/v3/reference/events/list)"""
    series = _weekly(cal)
    second = f"{series['id']}_20261109T150000Z"
    cal.events().delete(calendarId="primary", eventId=second).execute()
    plain = cal.events().list(calendarId="primary").execute()["items"]
    assert {(e["id"], e["status"]) for e in plain} == {
        (series["id"], "confirmed"),
        (second, "cancelled"),
    }
    gone = _weekly(cal)
    cal.events().delete(calendarId="primary", eventId=gone["id"]).execute()
    single = cal.events().list(calendarId="primary", singleEvents=True, showDeleted=True)
    ids = {e["id"] for e in single.execute()["items"]}
    assert gone["id"] not in ids  # no deleted master among single events
    assert second in ids


def test_a_sync_token_refuses_show_deleted_false(cal: Any) -> None:
    """events.list ``syncToken``: "deleted events ... will always be in the result set and
    it is not allowed to set showDeleted to False." (https://developers.google.com/workspace/calendar/api/v3/reference/events/list)"""
    _weekly(cal)
    token = cal.events().list(calendarId="primary").execute()["nextSyncToken"]
    with pytest.raises(HttpError) as caught:
        cal.events().list(calendarId="primary", syncToken=token, showDeleted=False).execute()
    assert caught.value.resp.status == 400
    assert cal.events().list(calendarId="primary", syncToken=token).execute()["items"] == []


def test_conference_data_needs_conference_data_version_1(cal: Any) -> None:
    """events.insert ``conferenceDataVersion``: "Version 0 assumes no conference data
    support and ignores conference data in the event's body. Version 1 enables support for
    copying of ConferenceData"
    (https://developers.google.com/workspace/calendar/api/v3/reference/events/insert)."""
    conference = {
        "entryPoints": [{"entryPointType": "video", "uri": "https://meet.google.com/abc"}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}},
    }
    body = {
        "summary": "Call",
        "start": {"dateTime": "2026-11-03T10:00:00Z"},
        "end": {"dateTime": "2026-11-03T11:00:00Z"},
        "conferenceData": conference,
    }
    ignored = cal.events().insert(calendarId="primary", body=body).execute()
    assert "conferenceData" not in ignored
    kept = cal.events().insert(calendarId="primary", body=body, conferenceDataVersion=1)
    kept_event = kept.execute()
    assert kept_event["conferenceData"]["entryPoints"][0]["uri"] == "https://meet.google.com/abc"
    # An update without version 1 leaves the conference alone.
    updated = (
        cal.events()
        .update(
            calendarId="primary",
            eventId=kept_event["id"],
            body={**body, "summary": "Call (moved)", "conferenceData": None},
        )
        .execute()
    )
    assert updated["conferenceData"] == kept_event["conferenceData"]


def test_far_future_events_are_listed_without_time_max(cal: Any) -> None:
    """events.list ``timeMax`` is optional, with no upper bound documented
    (https://developers.google.com/workspace/calendar/api/v3/reference/events/list)."""
    body = {
        "summary": "Far away",
        "start": {"date": "2029-06-01"},
        "end": {"date": "2029-06-02"},
    }
    far = cal.events().insert(calendarId="primary", body=body).execute()
    listed = cal.events().list(calendarId="primary", timeMin="2026-01-01T00:00:00Z")
    assert far["id"] in {e["id"] for e in listed.execute()["items"]}


def test_quick_add_move_import_and_new_calendars(cal: Any) -> None:
    """events.quickAdd ("Creates an event based on a simple text string"), events.move
    ("Moves an event to another calendar, i.e. changes an event's organizer"),
    events.import ("Imports an event ... add a private copy of an existing event"),
    calendars.insert and calendarList.insert
    (https://developers.google.com/workspace/calendar/api/v3/reference/events/quickAdd,
    .../events/move, .../events/import, .../calendars/insert, .../calendarList/insert)."""
    made = cal.calendars().insert(body={"summary": "Side project", "timeZone": NY}).execute()
    assert made["kind"] == "calendar#calendar"
    listed = cal.calendarList().list().execute()["items"]
    assert made["id"] in {c["id"] for c in listed}
    entry = cal.calendarList().insert(body={"id": made["id"], "colorId": "7"}).execute()
    assert entry["colorId"] == "7"

    quick = cal.events().quickAdd(calendarId=made["id"], text="Lunch with Bo 2026-11-20 12:30pm")
    event = quick.execute()
    assert event["summary"] == "Lunch with Bo"
    assert event["start"]["dateTime"] == "2026-11-20T12:30:00-05:00"
    assert event["end"]["dateTime"] == "2026-11-20T13:30:00-05:00"

    moved = cal.events().move(calendarId=made["id"], eventId=event["id"], destination=USER_EMAIL)
    assert moved.execute()["organizer"]["email"] == USER_EMAIL
    primary = cal.events().list(calendarId="primary").execute()["items"]
    assert [e["id"] for e in primary] == [event["id"]]
    assert cal.events().list(calendarId=made["id"]).execute()["items"] == []

    body = {
        "iCalUID": "invite-42@partner.example",
        "summary": "Partner call",
        "organizer": {"email": "pat@partner.example"},
        "start": {"dateTime": "2026-11-24T15:00:00Z"},
        "end": {"dateTime": "2026-11-24T15:30:00Z"},
    }
    first = cal.events().import_(calendarId="primary", body=body).execute()
    again = cal.events().import_(calendarId="primary", body={**body, "summary": "Partner call v2"})
    second = again.execute()
    assert second["id"] == first["id"]
    assert second["summary"] == "Partner call v2"
    assert first["organizer"]["email"] == "pat@partner.example"
