"""Fixtures for the accounts tests: the Google emulator over real HTTP, settings pointing at
it, and a web app whose sessions join the test's rolled-back transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth
from workspace_emulator.state import EmulatorState

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import User
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.auth import create_user, sign_in
from tests.emulator._live import serve


@dataclass
class Emulator:
    state: EmulatorState
    base_url: str
    email: str

    def configure(self, **changes: object) -> None:
        oauth.configure(self.state, **changes)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    # google.auth sets these oauthlib switches for a plain-HTTP OAuth server; set them here
    # so monkeypatch removes them afterwards and other tests see a clean environment.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    state = EmulatorState()
    email = f"ada.{uuid.uuid4().hex[:8]}@example.test"
    state.add_user(email, name="Ada Lovelace")
    oauth.configure(state, auto_approve=True, login_hint=email)
    with serve(state) as base:
        yield Emulator(state=state, base_url=base, email=email)


@pytest.fixture
def oauth_settings(settings: Settings, emulator: Emulator) -> Settings:
    google = settings.google.model_copy(
        update={"oauth_base_url": emulator.base_url, "api_base_url": emulator.base_url}
    )
    return settings.model_copy(update={"google": google})


@pytest.fixture
def clean_session(session: Session) -> Session:
    """The rolled-back test session with no users visible (deleted inside the transaction,
    so rows other tests committed come back at rollback)."""
    session.execute(delete(User))
    session.flush()
    return session


@pytest.fixture
def tx_sessions(clean_session: Session) -> sessionmaker[Session]:
    """Sessions for the web app that join the test's transaction (rolled back at the end)."""
    return sessionmaker(
        bind=clean_session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )


@pytest.fixture
def client(
    oauth_settings: Settings,
    engine: Engine,
    tx_sessions: sessionmaker[Session],
    clean_session: Session,
    emulator: Emulator,
) -> Iterator[TestClient]:
    """A browser signed in (as the emulator's user) on an app joining the test's transaction;
    connecting an account needs a signed-in user, and its API calls the session's CSRF token."""
    app = create_app(
        oauth_settings,
        state=AppState(root=compose(oauth_settings, engine=engine, sessions=tx_sessions)),
    )
    with TestClient(app) as c:
        uid = create_user(clean_session, email=emulator.email)
        c.headers["X-CSRF-Token"] = sign_in(c, clean_session, uid)
        yield c


def follow_consent(url: str) -> dict[str, str]:
    """Do what the browser does at the consent page (auto-approve): return the redirect's
    query parameters."""
    resp = httpx.get(url, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    return dict(parse_qsl(urlsplit(resp.headers["location"]).query))
