"""Scheduling fixtures: a signed-in API client over the real app and database, and
builders for the synced Calendar store (the rows workspace sync writes)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import Calendar, CalendarEvent, GoogleAccount, User
from secretary.db.session import make_sessionmaker
from secretary.identity import service as identity
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from secretary.llm.local import drafter
from secretary.llm.local.extract import extract
from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    DraftResult,
    EmailInput,
    Extraction,
    Priority,
)
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.sync.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    Emulator,
    emulator,
    sync_settings,
)
from tests.triage.conftest import (  # noqa: F401 (pytest fixture)
    InlineThread,
    pipeline_settings,
)
from tests.triage.helpers import gmail_api, sync_now


@dataclass
class Owner:
    user_id: int
    account_id: int
    email: str
    token: str


def create_owner(sessions: sessionmaker[Session], email: str | None = None) -> Owner:
    email = email or f"owner-{uuid.uuid4().hex[:10]}@example.com"
    with sessions.begin() as session:
        user = User(email=email)
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub=f"sub-{uuid.uuid4().hex}",
            email=email,
            scopes=[],
            status="active",
        )
        session.add(account)
        session.flush()
        secret, _ = identity.create_token(
            session, user.id, name="tests", scopes=["read", "draft", "send"]
        )
        return Owner(user.id, account.id, email, secret)


def delete_owner(sessions: sessionmaker[Session], owner: Owner) -> None:
    with sessions.begin() as session:
        session.execute(delete(User).where(User.id == owner.user_id))


def add_calendar(
    session: Session,
    owner: Owner,
    google_id: str,
    *,
    time_zone: str = "UTC",
    primary: bool = False,
    access_role: str = "owner",
) -> Calendar:
    calendar = Calendar(
        user_id=owner.user_id,
        account_id=owner.account_id,
        google_id=google_id,
        summary=google_id,
        time_zone=time_zone,
        is_primary=primary,
        access_role=access_role,
    )
    session.add(calendar)
    session.flush()
    return calendar


def add_event(
    session: Session,
    owner: Owner,
    calendar: Calendar,
    start: datetime | date,
    end: datetime | date,
    **fields: Any,
) -> CalendarEvent:
    all_day = not isinstance(start, datetime)
    event = CalendarEvent(
        user_id=owner.user_id,
        account_id=owner.account_id,
        calendar_id=calendar.id,
        google_id=fields.pop("google_id", uuid.uuid4().hex),
        status=fields.pop("status", "confirmed"),
        all_day=all_day,
        start_at=None if all_day else start,
        end_at=None if all_day else end,
        start_date=start if all_day else None,
        end_date=end if all_day else None,
        transparency=fields.pop("transparency", "opaque"),
        organizer_self=fields.pop("organizer_self", "organizer_email" not in fields),
        attendees=fields.pop("attendees", []),
        sequence=0,
        **fields,
    )
    session.add(event)
    session.flush()
    return event


@pytest.fixture
def owner(sessions: sessionmaker[Session]) -> Iterator[Owner]:
    made = create_owner(sessions)
    try:
        yield made
    finally:
        delete_owner(sessions, made)


@pytest.fixture
def api(settings: Settings, engine: Engine, owner: Owner) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(settings, state=state), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {owner.token}"
        yield client


# -- the end-to-end world: emulator, connected owner, pipeline, API --------------------------

FLOW_NOW = "2027-03-01T14:00:00Z"  # Monday 09:00 in New York
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
SCOPES = [
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/calendar",
    "openid",
    "email",
]


class LocalRulesTier:
    """The local tier's extractors and drafter with a keyword classifier (no ONNX model)."""

    name = "local-rules"

    def classify(self, email: EmailInput) -> Classification:
        text = f"{email.subject}\n{email.body_text}".lower()
        return Classification(
            category=Category.NEEDS_REPLY if "?" in text or "meet" in text else Category.FYI,
            category_confidence=0.9,
            meeting_request="meet" in text,
            priority=Priority.NORMAL,
            reason="keywords",
            model="local-rules:test",
        )

    def extract(self, email: EmailInput) -> Extraction:
        return extract(email)

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        return drafter.draft_reply(
            request, extract(request.email), self.classify(request.email), model="local:test"
        )


@pytest.fixture
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> str:
    """The flow tests' clock: Monday 1 March 2027, 09:00 in New York (both sides agree)."""
    monkeypatch.setenv("SECRETARY_NOW", FLOW_NOW)
    return FLOW_NOW


@dataclass
class World:
    owner: Owner
    emulator: Emulator
    settings: Settings
    sessions: sessionmaker[Session]
    api: TestClient
    inline: InlineThread
    calendar_google_id: str

    def sync(self) -> None:
        """Gmail and Calendar, as the sync scheduler would run them, then the pipeline."""
        self.sync_calendar()
        sync_now(self.sessions, self.owner.account_id, self.settings)
        self.inline.wait_idle()

    def sync_calendar(self) -> None:
        """The workspace sync stream's Calendar sync writes the store scheduling reads."""
        from secretary.sync.calendar import sync_calendar

        sync_calendar(self.sessions, self.owner.account_id, self.settings)

    @property
    def calendar_store(self) -> Any:
        return self.emulator.state.users[self.owner.email].calendar

    def busy(self, start: datetime, end: datetime, summary: str, *, store: bool = True) -> str:
        """An event in Google, and in the store after a Calendar sync unless ``store=False``
        (then Google knows it and the store does not yet)."""
        body = {
            "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": "America/New_York"},
            "end": {"dateTime": end.isoformat(), "timeZone": "America/New_York"},
        }
        made = self.calendar_store.insert_event(self.owner.email, body)
        if store:
            self.sync_calendar()
        return str(made["id"])

    def events_with_id(self, event_id: str) -> list[dict[str, Any]]:
        listed = self.calendar_store.list_events(self.owner.email, {"singleEvents": "true"})
        return [e for e in listed["items"] if e["id"] == event_id]

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        api = gmail_api(self.emulator.state, self.emulator.base_url, self.owner.email)
        thread = api.users().threads().get(userId="me", id=thread_id, format="full").execute()
        return list(thread["messages"])


def body_of(api: Any, message_id: str) -> str:
    raw = api.users().messages().get(userId="me", id=message_id, format="raw").execute()["raw"]
    parsed = message_from_bytes(base64.urlsafe_b64decode(raw), policy=policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _connect(
    sessions: sessionmaker[Session], running: Emulator, settings: Settings, email: str
) -> Owner:
    emulator_state = running.state
    emulator_state.add_user(email, name="Alex Owner")
    oauth.register_client(
        emulator_state, settings.google.client_id, settings.google.client_secret.get_secret_value()
    )
    tokens = oauth.issue_tokens(emulator_state, email, SCOPES, client_id=settings.google.client_id)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    with sessions.begin() as session:
        user = User(email=email, display_name="Alex Owner")
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub=emulator_state.users[email].sub,
            email=email,
            scopes=SCOPES,
            access_token_enc=cipher.encrypt(tokens["access_token"]),
            refresh_token_enc=cipher.encrypt(tokens["refresh_token"]),
            token_expires_at=utcnow() + timedelta(seconds=int(tokens["expires_in"])),
            status="active",
        )
        session.add(account)
        session.flush()
        secret, _ = identity.create_token(
            session, user.id, name="tests", scopes=["read", "draft", "send"]
        )
        return Owner(user.id, account.id, email, secret)


@pytest.fixture
def world(
    pinned_now: str, request: pytest.FixtureRequest, sessions: sessionmaker[Session], engine: Any
) -> Iterator[World]:
    running: Emulator = request.getfixturevalue("emulator")
    settings: Settings = request.getfixturevalue("pipeline_settings")
    email = f"alex.{uuid.uuid4().hex[:8]}@acme.example"
    owner = _connect(sessions, running, settings, email)
    running.state.users[email].calendar.calendars[email]["timeZone"] = "America/New_York"
    tier = LocalRulesTier()
    runtime: Runtime = compose(settings, sessions=sessions, tier=tier).runtime
    inline = InlineThread(runtime)
    state = AppState(root=compose(settings, engine=engine, sessions=sessions, tier=tier))
    try:
        with TestClient(create_app(settings, state=state), raise_server_exceptions=False) as api:
            api.headers["Authorization"] = f"Bearer {owner.token}"
            made = World(owner, running, settings, sessions, api, inline, email)
            made.sync()  # empty mailbox and calendar: the baseline
            yield made
    finally:
        inline.stop()
        with sessions.begin() as session:
            session.execute(delete(User).where(User.id == owner.user_id))
