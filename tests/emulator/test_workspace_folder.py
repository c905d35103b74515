"""A workspace folder (issue 8, section 6) loads into the emulator exactly as documented,
and the official clients read it back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from workspace_emulator.server import RunningEmulator, run_in_thread
from workspace_emulator.state import EmulatorState
from workspace_emulator.workspace import (
    WorkspaceError,
    calendar_id_for,
    drive_file_id,
    event_id_for_uid,
    load_workspace,
)

from tests.emulator.conftest import gmail_client, mint_token

EMAIL = "sam@example.test"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _mail(sender: str, to: str, subject: str, date: str, msgid: str, extra: str = "") -> str:
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {date}\n"
        f"Message-ID: <{msgid}>\n{extra}\nHello.\n"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    _write(
        root / "workspace.toml",
        f"""
        [user]
        email = "{EMAIL}"
        name = "Sam Park"
        time_zone = "America/Los_Angeles"
        """,
    )
    _write(
        root / "mail" / "note.eml",
        _mail("a@x.example", EMAIL, "Loose", "Mon, 02 Nov 2026 09:00:00 -0800", "m1@x"),
    )
    _write(
        root / "mail" / "SENT" / "reply.eml",
        _mail(
            EMAIL,
            "a@x.example",
            "Re: Loose",
            "Mon, 02 Nov 2026 10:00:00 -0800",
            "m2@x",
            "In-Reply-To: <m1@x>\nReferences: <m1@x>\n",
        ),
    )
    _write(
        root / "mail" / "SPAM" / "junk.eml",
        _mail("win@spam.example", EMAIL, "You won", "Tue, 03 Nov 2026 01:00:00 +0000", "s@x"),
    )
    mbox = "".join(
        "From sender@x Mon Nov  2 00:00:00 2026\n"
        + _mail("b@x.example", EMAIL, f"Trip {i}", f"Wed, 04 Nov 2026 0{i}:00:00 +0000", f"t{i}@x")
        + "\n"
        for i in range(1, 3)
    )
    _write(root / "mail" / "Travel" / "trips", mbox)
    _write(
        root / "calendar" / "primary.ics",
        """
        BEGIN:VCALENDAR
        VERSION:2.0
        PRODID:-//test//EN
        BEGIN:VEVENT
        UID:weekly-1on1@example.test
        DTSTART;TZID=America/Los_Angeles:20261102T100000
        DTEND;TZID=America/Los_Angeles:20261102T103000
        RRULE:FREQ=WEEKLY;COUNT=4
        EXDATE;TZID=America/Los_Angeles:20261109T100000
        SUMMARY:1:1 with Jo
        ORGANIZER;CN=Sam Park:mailto:sam@example.test
        ATTENDEE;CN=Jo;PARTSTAT=TENTATIVE:mailto:jo@example.test
        ATTENDEE;PARTSTAT=ACCEPTED:mailto:sam@example.test
        END:VEVENT
        BEGIN:VEVENT
        UID:weekly-1on1@example.test
        RECURRENCE-ID;TZID=America/Los_Angeles:20261116T100000
        DTSTART;TZID=America/Los_Angeles:20261116T140000
        DTEND;TZID=America/Los_Angeles:20261116T143000
        SUMMARY:1:1 with Jo (moved)
        END:VEVENT
        BEGIN:VEVENT
        UID:weekly-1on1@example.test
        RECURRENCE-ID;TZID=America/Los_Angeles:20261123T100000
        STATUS:CANCELLED
        DTSTART;TZID=America/Los_Angeles:20261123T100000
        END:VEVENT
        BEGIN:VEVENT
        UID:offsite
        DTSTART;VALUE=DATE:20261105
        DTEND;VALUE=DATE:20261106
        SUMMARY:Offsite
        TRANSP:TRANSPARENT
        END:VEVENT
        END:VCALENDAR
        """,
    )
    _write(
        root / "calendar" / "Family.ics",
        """
        BEGIN:VCALENDAR
        VERSION:2.0
        BEGIN:VEVENT
        UID:dinner@example.test
        DTSTART:20261106T030000Z
        DTEND:20261106T050000Z
        SUMMARY:Dinner
        STATUS:TENTATIVE
        END:VEVENT
        END:VCALENDAR
        """,
    )
    _write(root / "drive" / "notes.md", "# Notes\nShip it.\n")
    _write(root / "drive" / "Finance" / "budget.csv", "item,amount\nflights,1200\n")
    (root / "drive" / "Finance" / "scan.pdf").write_bytes(b"%PDF-1.4 tiny")
    return root


@pytest.fixture
def served(folder: Path) -> Any:
    state = EmulatorState()
    user, counts = load_workspace(state, folder)
    running = run_in_thread(state)
    try:
        yield running, user, counts
    finally:
        running.stop()


def _api(name: str, version: str, running: RunningEmulator) -> Any:
    token = mint_token(
        running.state,
        EMAIL,
        scopes=[
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/drive",
        ],
    )
    if name == "gmail":
        return gmail_client(running.base_url, token)
    return build(
        name,
        version,
        credentials=Credentials(token),  # type: ignore[no-untyped-call]
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": running.base_url},
    )


def test_counts_and_mail_labels_dates_and_threads(served: Any) -> None:
    running, _user, counts = served
    assert counts.to_dict() == {
        "messages": 5,
        "labels": 1,
        "calendars": 2,
        "events": 3,
        "files": 4,
    }
    gmail = _api("gmail", "v1", running)
    labels = {
        lab["name"]: lab["id"]
        for lab in gmail.users().labels().list(userId="me").execute()["labels"]
    }
    travel = gmail.users().messages().list(userId="me", labelIds=[labels["Travel"]]).execute()
    assert travel["resultSizeEstimate"] == 2  # one mbox file, two messages
    inbox = gmail.users().messages().list(userId="me", labelIds=["INBOX"]).execute()
    assert inbox["resultSizeEstimate"] == 3  # mail/ itself and the Travel label folder
    sent = gmail.users().messages().list(userId="me", labelIds=["SENT"]).execute()["messages"]
    spam = gmail.users().messages().list(userId="me", labelIds=["SPAM"]).execute()
    assert spam["resultSizeEstimate"] == 1
    reply = gmail.users().messages().get(userId="me", id=sent[0]["id"]).execute()
    assert reply["labelIds"] == ["SENT"]
    # Date header kept: Mon, 02 Nov 2026 10:00:00 -0800.
    assert reply["internalDate"] == str(1793642400000)
    thread = gmail.users().threads().get(userId="me", id=reply["threadId"]).execute()
    assert len(thread["messages"]) == 2  # the reply threads onto the inbox message


def test_calendar_ids_recurrence_exceptions_and_fields(served: Any) -> None:
    running, _user, _counts = served
    cal = _api("calendar", "v3", running)
    listed = cal.calendarList().list().execute()["items"]
    assert {c["summary"] for c in listed} == {EMAIL, "Family"}
    family = calendar_id_for(EMAIL, "Family")
    assert family in {c["id"] for c in listed}
    master = event_id_for_uid("weekly-1on1@example.test")
    assert master == event_id_for_uid("weekly-1on1@example.test")
    assert len(master) == 26
    assert set(master) <= set("abcdefghijklmnopqrstuv0123456789")
    assert event_id_for_uid("offsite") == "offsite"  # already a valid Calendar id
    items = (
        cal.events()
        .list(calendarId="primary", singleEvents=True, orderBy="startTime")
        .execute()["items"]
    )
    by_id = {e["id"]: e for e in items}
    # COUNT=4 from Nov 2: Nov 2, (9 excluded), 16 moved to 14:00, 23 cancelled.
    assert f"{master}_20261102T180000Z" in by_id
    assert f"{master}_20261109T180000Z" not in by_id
    moved = by_id[f"{master}_20261116T180000Z"]
    assert moved["summary"] == "1:1 with Jo (moved)"
    assert moved["start"]["dateTime"].startswith("2026-11-16T14:00:00")
    assert f"{master}_20261123T180000Z" not in by_id
    first = by_id[f"{master}_20261102T180000Z"]
    assert first["iCalUID"] == "weekly-1on1@example.test"
    assert {a["email"]: a["responseStatus"] for a in first["attendees"]} == {
        "jo@example.test": "tentative",
        "sam@example.test": "accepted",
    }
    offsite = by_id["offsite"]
    assert offsite["start"] == {"date": "2026-11-05"}
    assert offsite["transparency"] == "transparent"
    dinner = cal.events().list(calendarId=family).execute()["items"][0]
    assert dinner["status"] == "tentative"


def test_drive_docs_sheets_folders_and_ids(served: Any) -> None:
    running, _user, _counts = served
    drive = _api("drive", "v3", running)
    files = drive.files().list(fields="files(id,name,mimeType,parents)").execute()["files"]
    by_name = {f["name"]: f for f in files}
    assert by_name["notes"]["mimeType"] == "application/vnd.google-apps.document"
    assert by_name["notes"]["id"] == drive_file_id(EMAIL, "notes.md")
    assert by_name["budget"]["mimeType"] == "application/vnd.google-apps.spreadsheet"
    assert by_name["scan.pdf"]["mimeType"] == "application/pdf"
    assert by_name["Finance"]["mimeType"] == "application/vnd.google-apps.folder"
    assert by_name["budget"]["parents"] == [by_name["Finance"]["id"]]
    text = drive.files().export(fileId=by_name["notes"]["id"], mimeType="text/plain").execute()
    assert text.decode("utf-8-sig").replace("\r\n", "\n") == "# Notes\nShip it.\n"
    rows = drive.files().export(fileId=by_name["budget"]["id"], mimeType="text/csv").execute()
    assert rows.decode() == "item,amount\r\nflights,1200\r\n"


def test_a_folder_without_workspace_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"workspace\.toml"):
        load_workspace(EmulatorState(), tmp_path)


def test_emulator_serve_loads_a_workspace_folder(folder: Path, tmp_path: Path) -> None:
    """``secretary emulator serve --workspace DIR`` serves the folder (summary on stdout)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SECRETARY_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "secretary", "emulator", "serve", "--workspace", str(folder)]
    cmd += ["--port", str(port), "--print-token", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1].rstrip() != "}":
            line = proc.stdout.readline()
            assert line, "the emulator ended before its summary"
            lines.append(line)
        summary = json.loads("".join(lines))
        assert summary["user"] == EMAIL
        assert summary["workspace"]["files"] == 4
        headers = {"Authorization": f"Bearer {summary['access_token']}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                listed = httpx.get(f"{summary['base_url']}/drive/v3/files", headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start listening"
                time.sleep(0.2)
        assert {f["name"] for f in listed.json()["files"]} >= {"notes", "budget", "scan.pdf"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
