"""Scheduling fixtures: a signed-in API client over the real app and database, and
builders for the synced Calendar store (the rows workspace sync writes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import Calendar, CalendarEvent, GoogleAccount, User
from secretary.db.session import make_sessionmaker
from secretary.identity import service as identity
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.sync.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    emulator,
    sync_settings,
)
from tests.triage.conftest import pipeline_settings  # noqa: F401 (pytest fixture)


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
        organizer_self=True,
        attendees=[],
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
