"""Fixtures for Calendar and Drive sync tests: the real emulator over HTTP, an account
connected with Calendar and Drive scopes, seeding helpers and store/emulator snapshots."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth
from workspace_emulator.drive_store import DOC, FOLDER, SHEET
from workspace_emulator.state import EmulatorState

from secretary.config import Settings
from secretary.db.models import (
    Calendar,
    CalendarEvent,
    CalendarInstance,
    DriveFile,
    GoogleAccount,
    User,
)
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from tests.sync.conftest import Connected, Emulator, emulator, sync_settings  # noqa: F401

SCOPES = [
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
    "openid",
    "email",
]


def connect_workspace_account(
    sessions: sessionmaker[Session], emu: Emulator, settings: Settings, email: str
) -> int:
    emu.state.add_user(email)
    oauth.register_client(
        emu.state, settings.google.client_id, settings.google.client_secret.get_secret_value()
    )
    tokens = oauth.issue_tokens(emu.state, email, SCOPES, client_id=settings.google.client_id)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    with sessions.begin() as session:
        user = User(email=email)
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub=emu.state.users[email].sub,
            email=email,
            scopes=SCOPES,
            access_token_enc=cipher.encrypt(tokens["access_token"]),
            refresh_token_enc=cipher.encrypt(tokens["refresh_token"]),
            token_expires_at=utcnow() + timedelta(seconds=int(tokens["expires_in"])),
            status="active",
        )
        session.add(account)
        session.flush()
        return account.id


@pytest.fixture
def workspace(
    sessions: sessionmaker[Session],
    emulator: Emulator,  # noqa: F811
    sync_settings: Settings,  # noqa: F811
) -> Iterator[Connected]:
    email = f"ws-{uuid.uuid4().hex[:10]}@example.com"
    account_id = connect_workspace_account(sessions, emulator, sync_settings, email)
    try:
        yield Connected(account_id, email, emulator, sync_settings)
    finally:
        with sessions.begin() as session:
            session.execute(delete(User).where(User.email == email))


# -- seeding ----------------------------------------------------------------------------------


def _when(rng: random.Random, base: datetime) -> datetime:
    return base + timedelta(days=rng.randint(-500, 900), hours=rng.randint(7, 18))


def seed_calendars(
    state: EmulatorState, email: str, *, calendars: int, events: int, seed: int = 3
) -> list[str]:
    """``calendars`` calendars (the primary plus others) sharing ``events`` events: singles
    (past, future, far future), all-day events, recurring series with a modified and a
    cancelled occurrence, attendees with the user's own answer, time zones."""
    rng = random.Random(seed)
    store = state.users[email].calendar
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with state.lock:
        ids = [email] + [
            store.add_calendar(f"Calendar {i}", time_zone="Europe/Paris")["id"]
            for i in range(1, calendars)
        ]
        for n in range(events):
            cal = ids[n % len(ids)]
            kind = n % 10
            start = _when(rng, base)
            body: dict[str, Any] = {"summary": f"Event {n}", "location": f"Room {n % 7}"}
            if kind == 0:
                day = start.date()
                body["start"] = {"date": day.isoformat()}
                body["end"] = {"date": (day + timedelta(days=1 + n % 3)).isoformat()}
                body["transparency"] = "transparent"
            else:
                tz = ("Europe/Paris", "America/New_York", None)[n % 3]
                body["start"] = {"dateTime": start.isoformat()}
                body["end"] = {
                    "dateTime": (start + timedelta(minutes=30 * (1 + n % 4))).isoformat()
                }
                if tz:
                    body["start"]["timeZone"] = body["end"]["timeZone"] = tz
            if kind in (1, 2):
                body["attendees"] = [
                    {"email": email, "responseStatus": ("accepted", "declined")[kind - 1]},
                    {"email": f"guest{n}@example.org", "displayName": f"Guest {n}"},
                ]
                body["description"] = f"<p>Agenda for <b>event {n}</b></p><br>Bring notes"
                body["conferenceData"] = {
                    "entryPoints": [
                        {"entryPointType": "video", "uri": f"https://meet.google.com/abc-{n}"}
                    ]
                }
            if kind == 3:
                start = base + timedelta(days=rng.randint(-30, 30), hours=rng.randint(8, 17))
                body["start"] = {"dateTime": start.isoformat(), "timeZone": "Europe/Paris"}
                body["end"] = {
                    "dateTime": (start + timedelta(minutes=45)).isoformat(),
                    "timeZone": "Europe/Paris",
                }
                body["recurrence"] = [("RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY;COUNT=20")[n % 2]]
            created = store.insert_event(cal, body)
            if kind == 3:
                instances = store.instances(cal, created["id"], {})["items"]
                if len(instances) > 3:
                    store.patch_event(cal, instances[1]["id"], {"summary": f"Moved {n}"})
                    store.delete_event(cal, instances[2]["id"])
    return ids


def seed_drive(state: EmulatorState, email: str, *, files: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    drive = state.users[email].drive
    with state.lock:
        folder = drive.add_file("Projects", FOLDER)["id"]
        for n in range(files):
            kind = n % 5
            parents = [folder] if rng.random() < 0.3 else ["root"]
            if kind == 0:
                drive.add_file(
                    f"Notes {n}", DOC, doc_text=f"Meeting notes {n}\nDecisions", parents=parents
                )
            elif kind == 1:
                drive.add_file(
                    f"Budget {n}",
                    SHEET,
                    sheet_rows=[["item", "cost"], [f"thing {n}", str(n)]],
                    parents=parents,
                )
            elif kind == 2:
                drive.add_file(
                    f"readme-{n}.md", "text/markdown", content=f"# Title {n}\nBody", parents=parents
                )
            elif kind == 3:
                drive.add_file(
                    f"data-{n}.csv", "text/csv", content=f"a,b\n{n},{n + 1}\n", parents=parents
                )
            else:
                drive.add_file(
                    f"photo-{n}.png", "image/png", content=b"\x89PNG....", parents=parents
                )


# -- snapshots ----------------------------------------------------------------------------------


def emulator_events(state: EmulatorState, email: str) -> dict[str, dict[str, tuple[str, str]]]:
    """Per calendar: what Google stores (singleEvents=false, showDeleted=true, minus the
    tombstones of deleted non-recurring events): id -> (status, etag)."""
    store = state.users[email].calendar
    out: dict[str, dict[str, tuple[str, str]]] = {}
    with state.lock:
        for cal_id, events in store.events.items():
            out[cal_id] = {
                e.id: (str(e.body.get("status")), str(e.body.get("etag")))
                for e in events.values()
                if not (e.cancelled and not e.body.get("recurringEventId"))
                and not (e.cancelled and e.body.get("recurringEventId") in _deleted(events))
            }
    return out


def _deleted(events: dict[str, Any]) -> set[str]:
    return {e.id for e in events.values() if e.cancelled and not e.body.get("recurringEventId")}


def store_events(
    sessions: sessionmaker[Session], account_id: int
) -> dict[str, dict[str, tuple[str, str]]]:
    with sessions() as session:
        cals = dict(
            session.execute(
                select(Calendar.id, Calendar.google_id).where(Calendar.account_id == account_id)
            ).all()
        )
        out: dict[str, dict[str, tuple[str, str]]] = {gid: {} for gid in cals.values()}
        for cal, gid, status, etag in session.execute(
            select(
                CalendarEvent.calendar_id,
                CalendarEvent.google_id,
                CalendarEvent.status,
                CalendarEvent.etag,
            ).where(CalendarEvent.account_id == account_id)
        ):
            out[cals[cal]][gid] = (status, str(etag))
    return out


def emulator_instances(
    state: EmulatorState, email: str, lo: datetime, hi: datetime
) -> dict[str, set[tuple[str, datetime, datetime]]]:
    """Per calendar, Google's own expansion (``singleEvents=true``) over [lo, hi)."""
    from workspace_emulator.calendar_store import event_bound, rfc3339

    store = state.users[email].calendar
    out: dict[str, set[tuple[str, datetime, datetime]]] = {}
    with state.lock:
        for cal_id in store.calendars:
            items = store._select(
                cal_id,
                {"timeMin": rfc3339(lo), "timeMax": rfc3339(hi)},
                since=None,
                single=True,
                upto=store.seq,
            )
            tz = store.calendars[cal_id]["timeZone"]
            out[cal_id] = {
                (
                    i["id"],
                    event_bound(i["start"], name="start", default_tz=tz).astimezone(UTC),
                    event_bound(i["end"], name="end", default_tz=tz).astimezone(UTC),
                )
                for i in items
            }
    return out


def store_instances(
    sessions: sessionmaker[Session], account_id: int, lo: datetime, hi: datetime
) -> dict[str, set[tuple[str, datetime, datetime]]]:
    with sessions() as session:
        cals = dict(
            session.execute(
                select(Calendar.id, Calendar.google_id).where(Calendar.account_id == account_id)
            ).all()
        )
        out: dict[str, set[tuple[str, datetime, datetime]]] = {gid: set() for gid in cals.values()}
        for cal, gid, start, end in session.execute(
            select(
                CalendarInstance.calendar_id,
                CalendarInstance.google_id,
                CalendarInstance.start_at,
                CalendarInstance.end_at,
            ).where(
                CalendarInstance.account_id == account_id,
                CalendarInstance.end_at > lo,
                CalendarInstance.start_at < hi,
            )
        ):
            out[cals[cal]].add((gid, start.astimezone(UTC), end.astimezone(UTC)))
    return out


def emulator_files(state: EmulatorState, email: str) -> dict[str, tuple[str, bool, str]]:
    drive = state.users[email].drive
    with state.lock:
        return {
            f.id: (str(f.meta["name"]), bool(f.meta["trashed"]), str(f.meta["version"]))
            for f in drive.files.values()
        }


def store_files(
    sessions: sessionmaker[Session], account_id: int
) -> dict[str, tuple[str, bool, str]]:
    with sessions() as session:
        return {
            gid: (name, trashed, str(version))
            for gid, name, trashed, version in session.execute(
                select(
                    DriveFile.google_id, DriveFile.name, DriveFile.trashed, DriveFile.version
                ).where(DriveFile.account_id == account_id)
            )
        }
