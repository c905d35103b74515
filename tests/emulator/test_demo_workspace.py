"""The shipped demo workspace seeds the documented mailbox, calendars and Drive."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from workspace_emulator import demo, oauth
from workspace_emulator.state import EmulatorState

from secretary.kit.clock import to_epoch_ms
from tests.emulator._live import serve

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday
SCOPES = [
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
]


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[EmulatorState, str, str]]:
    state = EmulatorState()
    demo.seed_demo_workspace(state, now=NOW)
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


def test_archive_is_package_data_and_license_clean() -> None:
    manifest, raws = demo.load_demo_mail()
    assert len(manifest) == 360
    sets = {
        s: sum(1 for e in manifest if e["set"] == s)
        for s in ("easy_ham", "hard_ham", "spam", "enron")
    }
    assert sets == {"easy_ham": 130, "hard_ham": 40, "spam": 60, "enron": 130}
    # Only the PDDL/CC0 SpamAssassin corpus and public Enron mail; never Berkeley labels.
    assert all(
        e["source"].startswith(("spamassassin_public_corpus/", "enron_berkeley_categories/"))
        for e in manifest
    )
    assert not any(name.endswith(".cats") for name in raws)
    assert sum(1 for e in manifest if e["age_minutes"] < 24 * 60) == demo.RECENT_REAL
    assert max(e["age_minutes"] for e in manifest) <= 30 * 24 * 60
    enron_readdressed = 0
    for entry in manifest:
        msg = email.message_from_bytes(raws[entry["file"]], policy=email.policy.compat32)
        assert msg["Delivered-To"] == demo.DEMO_EMAIL
        assert msg["Date"]  # original Date headers are kept
        if entry["set"] == "enron":
            assert demo.DEMO_EMAIL in str(msg["To"])
            enron_readdressed += 1 if msg["X-Original-To"] else 0
    assert enron_readdressed > 100  # the rest had no To header at all


def test_mailbox_counts_and_recency(seeded: tuple[EmulatorState, str, str]) -> None:
    state, base, token = seeded
    user = state.users[demo.DEMO_EMAIL]
    counts = demo.demo_counts(user)
    assert counts == demo.DemoCounts(
        messages=367,
        real_messages=360,
        synthetic_messages=7,
        spam=60,
        calendars=2,
        events=12,
        drive_files=10,
    )
    assert len(user.mailbox.messages) == counts.messages
    conversations = [t for t in user.mailbox.threads.values() if len(t) > 1]
    assert len(conversations) >= 10  # real reply threads for thread-aware drafting

    day_ago = to_epoch_ms(NOW - timedelta(days=1))
    recent = [m for m in user.mailbox.messages.values() if m.internal_date >= day_ago]
    assert (
        len(recent) == demo.RECENT_REAL + len(demo.SYNTHETIC_MAIL) - 1
    )  # the sent one is 30 h old
    assert all(m.internal_date <= to_epoch_ms(NOW) for m in user.mailbox.messages.values())
    assert min(m.internal_date for m in user.mailbox.messages.values()) >= to_epoch_ms(
        NOW - timedelta(days=30)
    )

    gmail = api("gmail", "v1", base, token)
    spam = (
        gmail.users()
        .messages()
        .list(userId="me", labelIds=["SPAM"], includeSpamTrash=True, maxResults=500)
        .execute()
    )
    assert len(spam["messages"]) == 30
    meet = gmail.users().messages().list(userId="me", q='subject:"Meet next week"').execute()
    assert len(meet["messages"]) == 1
    full = gmail.users().messages().get(userId="me", id=meet["messages"][0]["id"]).execute()
    headers = {h["name"]: h["value"] for h in full["payload"]["headers"]}
    assert headers["X-Secretary-Demo"] == "synthetic"
    assert int(full["internalDate"]) == to_epoch_ms(NOW - timedelta(hours=2))

    # The synthetic reply threads with Alex's sent message.
    reply = (
        gmail.users()
        .messages()
        .list(userId="me", q='subject:"Re: Onboarding guide draft"')
        .execute()
    )
    thread = gmail.users().threads().get(userId="me", id=reply["messages"][0]["threadId"]).execute()
    assert len(thread["messages"]) == 2
    assert "SENT" in thread["messages"][0]["labelIds"]


def test_calendars_have_two_weeks_of_events(seeded: tuple[EmulatorState, str, str]) -> None:
    _state, base, token = seeded
    cal = api("calendar", "v3", base, token)
    calendars = cal.calendarList().list().execute()["items"]
    assert [c["summary"] for c in calendars] == [demo.DEMO_EMAIL, "Team"]
    assert {c["timeZone"] for c in calendars} == {demo.DEMO_TIME_ZONE}

    window = {
        "timeMin": NOW.isoformat(),
        "timeMax": (NOW + timedelta(days=14)).isoformat(),
        "singleEvents": True,
        "orderBy": "startTime",
    }
    team = cal.events().list(calendarId=calendars[1]["id"], **window).execute()["items"]
    weekly = [e for e in team if e["summary"] == "Weekly team meeting"]
    assert len(weekly) == 2  # the recurring meeting, expanded over two weeks
    assert all(e["recurringEventId"] for e in weekly)
    primary = cal.events().list(calendarId="primary", **window).execute()["items"]
    assert [e["summary"] for e in primary] == [
        "Quarter close (finance deadline)",
        "1:1 with Priya",
        "Customer call: Contoso renewal",
        "Dentist",
        "Lunch with Marco",
        "1:1 with Priya",
        "Focus time",
    ]

    busy = (
        cal.freebusy()
        .query(
            body={
                "timeMin": window["timeMin"],
                "timeMax": window["timeMax"],
                "items": [{"id": "primary"}, {"id": calendars[1]["id"]}],
            }
        )
        .execute()
    )
    assert busy["calendars"]["primary"]["busy"]


def test_drive_files(seeded: tuple[EmulatorState, str, str]) -> None:
    _state, base, token = seeded
    drive = api("drive", "v3", base, token)
    live = drive.files().list(q="trashed = false", fields="files(id,name,mimeType)").execute()
    assert len(live["files"]) == 9
    proposal = (
        drive.files()
        .list(
            q="fullText contains 'Northwind' and mimeType = 'application/vnd.google-apps.document'"
        )
        .execute()
    )
    assert [f["name"] for f in proposal["files"]] == ["Q3 Proposal - Northwind partnership"]
    text = drive.files().export(fileId=proposal["files"][0]["id"], mimeType="text/plain").execute()
    assert b"Total requested: $212,000" in text
    pdf = drive.files().list(q="mimeType = 'application/pdf'").execute()["files"][0]
    assert drive.files().get_media(fileId=pdf["id"]).execute().startswith(b"%PDF-1.4")


def test_seeding_is_idempotent() -> None:
    state = EmulatorState()
    first = demo.seed_demo_workspace(state, now=NOW)
    again = demo.seed_demo_workspace(state, now=NOW)
    assert again is first
    assert len(first.mailbox.messages) == 367
