"""The shipped demo workspace (a workspace folder) holds the documented mailbox, calendars
and Drive, consistent with each other around the demo's fixed "now"."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from workspace_emulator import demo, oauth
from workspace_emulator.loader import split_mbox
from workspace_emulator.state import EmulatorState

from secretary.kit.clock import to_epoch_ms
from tests.emulator._live import serve

NOW = demo.DEMO_NOW  # Tuesday 17 November 2026, 09:30 New York
SCOPES = [
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
]


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[EmulatorState, str, str]]:
    state = EmulatorState()
    demo.seed_demo_workspace(state)
    token = oauth.issue_tokens(state, demo.DEMO_EMAIL, SCOPES)["access_token"]
    with serve(state) as base:
        yield state, base, token


def api(name: str, version: str, base: str, token: str) -> Any:
    return build(
        name,
        version,
        credentials=Credentials(token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": base + "/"},
    )


def test_real_mail_is_license_clean_and_redated() -> None:
    corpus = sorted((demo.DEMO_WORKSPACE / "mail").rglob("corpus-*.mbox"))
    assert [p.name for p in corpus] == [
        "corpus-enron.mbox",
        "corpus-spamassassin.mbox",
        "corpus-spam.mbox",
    ]
    messages = [
        email.message_from_bytes(raw, policy=email.policy.compat32)
        for path in corpus
        for raw in split_mbox(path.read_bytes())
    ]
    assert len(messages) == 360
    for msg in messages:
        assert msg["Delivered-To"] == demo.DEMO_EMAIL
        assert msg["X-Original-Date"]  # the corpus date is kept
        sent = email.utils.parsedate_to_datetime(msg["Date"])
        assert NOW - timedelta(days=30) <= sent <= NOW
    assert not list(demo.DEMO_WORKSPACE.rglob("*.cats"))  # never the Berkeley labels


def test_mailbox_counts_threads_and_trip_mail(seeded: tuple[EmulatorState, str, str]) -> None:
    state, base, token = seeded
    assert demo.demo_counts(state) == demo.DemoCounts(
        messages=375, calendars=2, events=19, drive_files=15
    )
    user = state.users[demo.DEMO_EMAIL]
    conversations = [t for t in user.mailbox.threads.values() if len(t) > 1]
    assert len(conversations) >= 10  # real reply threads for thread-aware drafting
    assert all(m.internal_date <= to_epoch_ms(NOW) for m in user.mailbox.messages.values())

    gmail = api("gmail", "v1", base, token)
    spam = gmail.users().messages().list(userId="me", labelIds=["SPAM"], maxResults=500)
    assert len(spam.execute()["messages"]) == 30
    labels = {
        lab["name"]: lab["id"]
        for lab in gmail.users().labels().list(userId="me").execute()["labels"]
    }
    travel = gmail.users().messages().list(userId="me", labelIds=[labels["Travel"]]).execute()
    assert len(travel["messages"]) == 2
    flight = gmail.users().messages().list(userId="me", q="K7QXPM subject:confirmation").execute()
    (only,) = flight["messages"]
    full = gmail.users().messages().get(userId="me", id=only["id"]).execute()
    headers = {h["name"]: h["value"] for h in full["payload"]["headers"]}
    assert headers["X-Secretary-Demo"] == "synthetic"
    # The on-site reply threads with Alex's sent proposal.
    reply = gmail.users().messages().list(userId="me", q='subject:"Northwind on-site"').execute()
    thread = gmail.users().threads().get(userId="me", id=reply["messages"][0]["threadId"]).execute()
    assert len(thread["messages"]) == 2
    assert "SENT" in thread["messages"][0]["labelIds"]


def test_a_working_week_on_two_calendars(seeded: tuple[EmulatorState, str, str]) -> None:
    _state, base, token = seeded
    cal = api("calendar", "v3", base, token)
    calendars = cal.calendarList().list().execute()["items"]
    assert [c["summary"] for c in calendars] == [demo.DEMO_EMAIL, "Team"]
    assert {c["timeZone"] for c in calendars} == {demo.DEMO_TIME_ZONE}
    week = {
        "timeMin": "2026-11-16T00:00:00-05:00",
        "timeMax": "2026-11-21T00:00:00-05:00",
        "singleEvents": True,
        "orderBy": "startTime",
    }
    primary = cal.events().list(calendarId="primary", **week).execute()["items"]
    assert [e["summary"] for e in primary] == [
        "Gym",
        "Focus time: agreement draft v3 review",
        "Customer call: Contoso renewal",
        "Dentist",
        "Lunch with Marco",
        "Webinar: AI for logistics",
        "1:1 Alex / Priya (moved: Alex travels Thursday)",
        "Hotel: Lakeshore Suites Chicago",
        "Quarter close (finance deadline)",
        "Flight SH 482 New York (LGA) to Chicago (ORD)",
        "Northwind on-site: partnership agreement",
        "Flight SH 517 Chicago (ORD) to New York (LGA)",
    ]
    onsite = primary[10]
    assert onsite["start"]["timeZone"] == "America/Chicago"
    assert onsite["start"]["dateTime"].startswith("2026-11-20T10:00:00")
    assert "400 W Lake St" in onsite["location"]
    moved = primary[6]
    assert moved["recurringEventId"]
    assert moved["originalStartTime"]["dateTime"].startswith("2026-11-19T11:00:00")
    webinar = primary[5]
    assert [a["responseStatus"] for a in webinar["attendees"]] == ["declined"]
    team = cal.events().list(calendarId=calendars[1]["id"], **week).execute()["items"]
    assert [e["summary"] for e in team] == [
        "Sprint planning",
        "1:1 Alex / Marco",
        "Weekly team meeting",
        "Release: beta 2",
    ]
    assert team[1]["id"].endswith("_20261116T210000Z")  # Google's instance id


def test_drive_holds_the_documents_the_mail_talks_about(
    seeded: tuple[EmulatorState, str, str],
) -> None:
    _state, base, token = seeded
    drive = api("drive", "v3", base, token)
    files = drive.files().list(q="trashed = false", fields="files(id,name,mimeType)").execute()
    names = {f["name"]: f for f in files["files"]}
    assert {
        "Projects",
        "Team",
        "Finance",
        "Travel",
        "Q3 Proposal - Northwind partnership",
        "Northwind partnership agreement - DRAFT v3",
        "Vendor agreement - Northwind (signed).pdf",
        "Budget 2026",
        "Partnerships budget Q4 2026",
        "Chicago trip itinerary",
        "Meeting notes - weekly team meeting 2026-11-10",
        "Meeting notes - Northwind on-site prep",
        "Team onboarding guide",
        "Vendor contacts",
        "roadmap",
    } == set(names)
    itinerary = names["Chicago trip itinerary"]
    text = drive.files().export(fileId=itinerary["id"], mimeType="text/plain").execute()
    assert b"K7QXPM" in text
    assert b"88213409" in text
    budget = names["Partnerships budget Q4 2026"]
    rows = drive.files().export(fileId=budget["id"], mimeType="text/csv").execute().decode()
    travel = next(line for line in rows.splitlines() if line.startswith("Travel"))
    assert travel.split(",")[1:4] == ["4000.00", "1245.33", "2754.67"]
    pdf = names["Vendor agreement - Northwind (signed).pdf"]
    assert drive.files().get_media(fileId=pdf["id"]).execute().startswith(b"%PDF-1.4")


def test_seeding_is_idempotent() -> None:
    state = EmulatorState()
    first = demo.seed_demo_workspace(state)
    again = demo.seed_demo_workspace(state)
    assert again is first
    assert len(first.mailbox.messages) == 375
