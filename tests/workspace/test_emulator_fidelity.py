"""The emulator behaviours this stream relies on, checked with the official client and
written from Google's documentation (not from the emulator's code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from googleapiclient.errors import HttpError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import expire_drive_page_tokens
from workspace_emulator.quota import quota_book

from secretary.bootstrap import compose
from secretary.sync.calendar import open_calendar
from secretary.sync.drive import open_drive
from tests.sync.conftest import Connected


def test_events_list_without_time_max_has_no_upper_bound(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    # events.list, timeMax: "Optional. The default is not to filter by start time."
    emu, email = workspace.emulator.state, workspace.email
    far = datetime.now(UTC) + timedelta(days=5 * 365)
    with emu.lock:
        emu.users[email].calendar.insert_event(
            email,
            {
                "summary": "Five years out",
                "start": {"dateTime": far.isoformat()},
                "end": {"dateTime": (far + timedelta(hours=1)).isoformat()},
            },
        )
    client = open_calendar(sessions, workspace.account_id, workspace.settings)
    page = client.list_events_page(email)
    assert [e["summary"] for e in page.items] == ["Five years out"]
    assert page.next_sync_token


def test_expired_change_token_is_refused_and_a_fresh_one_works(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    client = open_drive(sessions, workspace.account_id, workspace.settings)
    old = client.start_page_token()
    expire_drive_page_tokens(emu, email)
    with pytest.raises(Exception) as refused:
        client.list_changes_page(old)
    assert isinstance(refused.value.__cause__, HttpError)
    fresh = client.start_page_token()
    assert client.list_changes_page(fresh).new_start_page_token == fresh


def test_files_list_costs_100_units(sessions: sessionmaker[Session], workspace: Connected) -> None:
    emu, email = workspace.emulator.state, workspace.email
    client = open_drive(sessions, workspace.account_id, workspace.settings)
    quota_book(emu).reset_stats()
    client.list_files_page()
    client.start_page_token()
    assert quota_book(emu).stats()["users"][email]["units"] == 101


def test_the_composition_root_builds_calendar_and_drive_clients(
    engine: Engine, sessions: sessionmaker[Session], workspace: Connected
) -> None:
    root = compose(workspace.settings, engine=engine, sessions=sessions)
    with sessions() as session:
        calendar = root.components.calendar(session, workspace.account_id)
        drive = root.components.drive(session, workspace.account_id)
        assert root.components.calendar(session, workspace.account_id) is calendar  # cached
    assert [c["id"] for c in calendar.list_calendars()] == [workspace.email]
    assert drive.start_page_token()


def test_shared_drive_items_need_include_items_from_all_drives(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    # files.list, includeItemsFromAllDrives: "Whether both My Drive and shared drive items
    # should be included in results." (default false)
    emu, email = workspace.emulator.state, workspace.email
    drive = emu.users[email].drive
    with emu.lock:
        team = drive.add_shared_drive("Team")
        shared_id = drive.add_file("Shared doc", "text/plain", content="x", drive_id=team)["id"]
        own_id = drive.add_file("Own doc", "text/plain", content="y")["id"]
    client = open_drive(sessions, workspace.account_id, workspace.settings)
    files = client.service.files()
    plain = files.list(fields="files(id)").execute(http=client._http())
    assert [f["id"] for f in plain["files"]] == [own_id]
    everything = files.list(
        fields="files(id,driveId)",
        supportsAllDrives=True,
        includeItemsFromAllDrives=True,
        corpora="allDrives",
    ).execute(http=client._http())
    assert {f["id"]: f.get("driveId") for f in everything["files"]} == {
        own_id: None,
        shared_id: team,
    }
