"""Calendar v3 on the emulator, driven by the official googleapiclient over HTTP."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import googleapiclient
import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from starlette.routing import Match
from workspace_emulator import calendar as calendar_api
from workspace_emulator import oauth
from workspace_emulator.app import create_emulator_app
from workspace_emulator.faults import FaultConfig, fault_injector
from workspace_emulator.quota import quota_book
from workspace_emulator.state import EmulatorState

from tests.emulator._live import serve

USER = "cal@example.test"
SCOPE = "https://www.googleapis.com/auth/calendar"
MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[tuple[EmulatorState, str]]:
    state = EmulatorState()
    state.add_user(USER)
    with serve(state) as base:
        yield state, base


def client(state: EmulatorState, base: str, scopes: list[str] | None = None) -> Any:
    token = oauth.issue_tokens(state, USER, scopes or [SCOPE])["access_token"]
    return build(
        "calendar",
        "v3",
        credentials=Credentials(token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{base}/calendar/v3/"},
    )


def at(dt: datetime) -> dict[str, str]:
    return {"dateTime": dt.isoformat(), "timeZone": "UTC"}


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def test_calendar_list_and_root_alias(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    state.users[USER].calendar.add_calendar("Team", time_zone="Europe/Berlin")
    items = client(state, base).calendarList().list().execute()["items"]
    assert [c["summary"] for c in items] == [USER, "Team"]
    assert items[0]["primary"] is True
    assert items[1]["id"].endswith("@group.calendar.google.com")
    assert items[1]["timeZone"] == "Europe/Berlin"

    # A client built with api_endpoint=<root> (no servicePath) reaches the same routes.
    token = oauth.issue_tokens(state, USER, [SCOPE])["access_token"]
    rooted = build(
        "calendar",
        "v3",
        credentials=Credentials(token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{base}/"},
    )
    assert rooted.calendars().get(calendarId="primary").execute()["id"] == USER


def test_insert_get_patch_delete(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    created = (
        cal.events()
        .insert(
            calendarId="primary",
            sendUpdates="all",
            body={
                "summary": "Budget review",
                "location": "Room 4",
                "start": at(MONDAY),
                "end": at(MONDAY + timedelta(hours=1)),
                "attendees": [{"email": "bob@example.test"}, {"email": USER}],
            },
        )
        .execute()
    )
    assert created["status"] == "confirmed"
    assert created["kind"] == "calendar#event"
    assert created["organizer"] == {"email": USER, "self": True}
    assert created["iCalUID"] == f"{created['id']}@google.com"
    assert {a["email"]: a["responseStatus"] for a in created["attendees"]} == {
        "bob@example.test": "needsAction",
        USER: "accepted",
    }
    fetched = cal.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert fetched == created

    patched = (
        cal.events()
        .patch(calendarId="primary", eventId=created["id"], body={"summary": "Budget review v2"})
        .execute()
    )
    assert patched["summary"] == "Budget review v2"
    assert patched["location"] == "Room 4"
    assert patched["etag"] != created["etag"]
    assert patched["updated"] >= created["updated"]

    cal.events().delete(calendarId="primary", eventId=created["id"]).execute()
    gone = cal.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert gone["status"] == "cancelled"
    with pytest.raises(HttpError) as err:
        cal.events().delete(calendarId="primary", eventId=created["id"]).execute()
    assert err.value.resp.status == 410
    with pytest.raises(HttpError) as err:
        cal.events().get(calendarId="primary", eventId="doesnotexist").execute()
    assert err.value.resp.status == 404


def test_list_window_single_events_and_order(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    weekly = (
        cal.events()
        .insert(
            calendarId="primary",
            body={
                "summary": "Weekly sync",
                "start": {"dateTime": "2026-11-02T10:00:00-05:00", "timeZone": "America/New_York"},
                "end": {"dateTime": "2026-11-02T10:30:00-05:00", "timeZone": "America/New_York"},
                "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"],
            },
        )
        .execute()
    )
    cal.events().insert(
        calendarId="primary",
        body={
            "summary": "Lunch",
            "start": at(MONDAY + timedelta(hours=2)),
            "end": at(MONDAY + timedelta(hours=3)),
        },
    ).execute()
    cal.events().insert(
        calendarId="primary",
        body={"summary": "Offsite", "start": {"date": "2026-11-25"}, "end": {"date": "2026-11-26"}},
    ).execute()

    window = {"timeMin": "2026-11-09T00:00:00Z", "timeMax": "2026-11-30T00:00:00Z"}
    expanded = (
        cal.events()
        .list(calendarId="primary", singleEvents=True, orderBy="startTime", **window)
        .execute()["items"]
    )
    assert [e["summary"] for e in expanded] == [
        "Weekly sync",
        "Weekly sync",
        "Weekly sync",
        "Lunch",
        "Offsite",
    ]
    first = expanded[0]
    assert first["recurringEventId"] == weekly["id"]
    assert first["id"] == f"{weekly['id']}_20261109T150000Z"
    assert first["start"] == {
        "dateTime": "2026-11-09T10:00:00-05:00",
        "timeZone": "America/New_York",
    }
    assert first["originalStartTime"] == first["start"]

    masters = cal.events().list(calendarId="primary", **window).execute()["items"]
    assert sorted(e["summary"] for e in masters) == ["Lunch", "Offsite", "Weekly sync"]
    assert next(e for e in masters if e["summary"] == "Weekly sync")["recurrence"]

    found = cal.events().list(calendarId="primary", q="lunch").execute()["items"]
    assert [e["summary"] for e in found] == ["Lunch"]

    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="primary", orderBy="startTime").execute()
    assert err.value.resp.status == 400

    # Editing one occurrence makes an exception; deleting another hides it.
    cal.events().patch(
        calendarId="primary", eventId=expanded[1]["id"], body={"summary": "Weekly sync (moved)"}
    ).execute()
    cal.events().delete(calendarId="primary", eventId=expanded[2]["id"]).execute()
    after = (
        cal.events()
        .list(calendarId="primary", singleEvents=True, orderBy="startTime", **window)
        .execute()["items"]
    )
    assert [e["summary"] for e in after] == [
        "Weekly sync",
        "Weekly sync (moved)",
        "Lunch",
        "Offsite",
    ]
    instances = cal.events().instances(calendarId="primary", eventId=weekly["id"]).execute()
    assert len(instances["items"]) == 5  # six occurrences, one cancelled


def test_paging_and_incremental_sync_then_410(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    ids = []
    for i in range(5):
        start = MONDAY + timedelta(days=i)
        ev = (
            cal.events()
            .insert(
                calendarId="primary",
                body={
                    "summary": f"E{i}",
                    "start": at(start),
                    "end": at(start + timedelta(hours=1)),
                },
            )
            .execute()
        )
        ids.append(ev["id"])

    seen: list[str] = []
    request = cal.events().list(calendarId="primary", maxResults=2)
    pages = 0
    response: dict[str, Any] = {}
    while request is not None:
        response = request.execute()
        pages += 1
        seen += [e["id"] for e in response["items"]]
        if "nextPageToken" in response:
            assert "nextSyncToken" not in response
        request = cal.events().list_next(request, response)
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    sync_token = response["nextSyncToken"]

    empty = cal.events().list(calendarId="primary", syncToken=sync_token).execute()
    assert empty["items"] == []
    assert empty["nextSyncToken"] == sync_token

    cal.events().patch(calendarId="primary", eventId=ids[0], body={"summary": "E0!"}).execute()
    cal.events().delete(calendarId="primary", eventId=ids[1]).execute()
    new = (
        cal.events()
        .insert(
            calendarId="primary",
            body={"summary": "New", "start": at(MONDAY), "end": at(MONDAY + timedelta(hours=2))},
        )
        .execute()
    )
    delta = cal.events().list(calendarId="primary", syncToken=sync_token).execute()
    by_id = {e["id"]: e for e in delta["items"]}
    assert set(by_id) == {ids[0], ids[1], new["id"]}
    assert by_id[ids[1]]["status"] == "cancelled"  # deletions always appear in a delta
    assert by_id[ids[0]]["summary"] == "E0!"
    assert delta["nextSyncToken"] != sync_token

    # Deleted events are hidden from full listings unless showDeleted.
    full = cal.events().list(calendarId="primary").execute()["items"]
    assert ids[1] not in {e["id"] for e in full}
    with_deleted = cal.events().list(calendarId="primary", showDeleted=True).execute()["items"]
    assert ids[1] in {e["id"] for e in with_deleted}

    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="primary", syncToken=sync_token, q="x").execute()
    assert err.value.resp.status == 400

    calendar_api.invalidate_sync_tokens(state, USER)
    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="primary", syncToken=delta["nextSyncToken"]).execute()
    assert err.value.resp.status == 410
    assert err.value.error_details[0]["reason"] == "fullSyncRequired"
    # A full sync hands out a fresh token that works again.
    fresh = cal.events().list(calendarId="primary").execute()["nextSyncToken"]
    assert cal.events().list(calendarId="primary", syncToken=fresh).execute()["items"] == []


def test_freebusy_merges_busy_blocks_across_calendars(
    emulator: tuple[EmulatorState, str],
) -> None:
    state, base = emulator
    team = state.users[USER].calendar.add_calendar("Team")["id"]
    cal = client(state, base, ["https://www.googleapis.com/auth/calendar.freebusy", SCOPE])
    day = MONDAY.replace(hour=0)
    for cal_id, h0, h1, transparency in [
        ("primary", 9, 10, "opaque"),
        ("primary", 9.5, 11, "opaque"),
        ("primary", 13, 14, "transparent"),  # "show as available" is not busy
        (team, 15, 16, "opaque"),
    ]:
        cal.events().insert(
            calendarId=cal_id,
            body={
                "summary": "x",
                "start": at(day + timedelta(hours=h0)),
                "end": at(day + timedelta(hours=h1)),
                "transparency": transparency,
            },
        ).execute()
    result = (
        cal.freebusy()
        .query(
            body={
                "timeMin": iso(day + timedelta(hours=8)),
                "timeMax": iso(day + timedelta(hours=18)),
                "items": [{"id": "primary"}, {"id": team}, {"id": "nobody@example.test"}],
            }
        )
        .execute()
    )
    assert result["calendars"]["primary"]["busy"] == [
        {"start": "2026-11-23T09:00:00.000Z", "end": "2026-11-23T11:00:00.000Z"}
    ]
    assert result["calendars"][team]["busy"] == [
        {"start": "2026-11-23T15:00:00.000Z", "end": "2026-11-23T16:00:00.000Z"}
    ]
    assert result["calendars"]["nobody@example.test"]["errors"][0]["reason"] == "notFound"


def test_scopes_and_auth_are_enforced(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    readonly = client(state, base, ["https://www.googleapis.com/auth/calendar.readonly"])
    assert readonly.events().list(calendarId="primary").execute()["items"] == []
    with pytest.raises(HttpError) as err:
        readonly.events().insert(
            calendarId="primary", body={"start": at(MONDAY), "end": at(MONDAY)}
        ).execute()
    assert err.value.resp.status == 403
    oauth.expire_access_tokens(state, USER)
    # On 401 google-auth tries to refresh; these bare-token credentials cannot.
    with pytest.raises(RefreshError):
        readonly.events().list(calendarId="primary").execute()
    token = next(iter(state.access_tokens))
    raw = httpx.get(
        f"{base}/calendar/v3/users/me/calendarList", headers={"Authorization": f"Bearer {token}"}
    )
    assert raw.status_code == 401
    assert raw.json()["error"]["errors"][0]["reason"] == "authError"


def test_quota_and_faults_gate_calendar_calls(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    fault_injector(state).configure(
        FaultConfig.from_dict({"endpoints": {"calendar.events.list": {"error_503": 1.0}}})
    )
    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="primary").execute(num_retries=0)
    assert err.value.resp.status == 503
    assert cal.calendarList().list().execute()["items"]  # other methods are untouched
    used = quota_book(state).stats()["users"][USER]
    assert used["requests"] >= 2


@pytest.mark.parametrize("module", ["calendar", "drive"])
def test_claimed_methods_match_discovery_paths_and_verbs(module: str) -> None:
    claimed = importlib.import_module(f"workspace_emulator.{module}").CLAIMED_METHODS
    doc_path = (
        Path(googleapiclient.__file__).parent
        / "discovery_cache"
        / "documents"
        / f"{module}.v3.json"
    )
    doc = json.loads(doc_path.read_text())
    methods: dict[str, tuple[str, str]] = {}

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                methods[method["id"]] = (method["httpMethod"], method["path"])
            walk(resource.get("resources", {}))

    walk(doc["resources"])
    app = create_emulator_app()

    def routed(verb: str, path: str) -> bool:
        scope = {"type": "http", "method": verb, "path": path, "root_path": "", "headers": []}
        return any(route.matches(scope)[0] == Match.FULL for route in app.routes)

    for method_id in sorted(claimed):
        verb, path = methods[method_id]
        concrete = re.sub(r"\{[^}]+\}", "x1", "/" + doc["servicePath"] + path)
        assert routed(verb, concrete), method_id


def test_invalid_input_is_a_400(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    bad_bodies = [
        {
            "start": {"dateTime": "2026-11-23T10:00:00", "timeZone": "Mars/Olympus"},
            "end": at(MONDAY),
        },
        {"start": at(MONDAY), "end": at(MONDAY - timedelta(hours=1))},
        {"start": at(MONDAY), "end": at(MONDAY), "recurrence": ["RRULE:FREQ=SOMETIMES"]},
        {"start": at(MONDAY)},
    ]
    for body in bad_bodies:
        with pytest.raises(HttpError) as err:
            cal.events().insert(calendarId="primary", body=body).execute()
        assert err.value.resp.status == 400, body
    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="nope@group.calendar.google.com").execute()
    assert err.value.resp.status == 404
    with pytest.raises(HttpError) as err:
        cal.events().list(calendarId="primary", pageToken="garbage").execute()
    assert err.value.resp.status == 400


def test_recurrence_keeps_local_time_across_dst(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    cal = client(state, base)
    ny = "America/New_York"
    cal.events().insert(
        calendarId="primary",
        body={
            "summary": "Standup",
            "start": {"dateTime": "2026-10-26T10:00:00-04:00", "timeZone": ny},
            "end": {"dateTime": "2026-10-26T10:15:00-04:00", "timeZone": ny},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"],
        },
    ).execute()
    items = (
        cal.events().list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()
    )
    # US daylight saving time ends on 2026-11-01: 10:00 local stays 10:00 local.
    assert [e["start"]["dateTime"] for e in items["items"]] == [
        "2026-10-26T10:00:00-04:00",
        "2026-11-02T10:00:00-05:00",
    ]
