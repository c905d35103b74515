"""Authenticated test clients, for every stream's API and UI tests (issue 7).

Every ``/api/v1`` route needs a user, and every page a signed-in browser. Typical use::

    from tests.auth import authenticate, create_user, sign_in

    uid = create_user(sessions)                 # a sessionmaker (commits) or a Session (flushes)
    authenticate(client, sessions, uid)         # Bearer token on every request of `client`
    csrf = sign_in(client, sessions, uid)       # or: a browser session cookie + Origin header
    client.post("/api/v1/...", headers={"X-CSRF-Token": csrf})  # cookie-authed changes

``authed_client(app, sessions)`` does the first two in one call and returns
``(client, user_id)``. Pass the same ``sessions`` the app uses (a test-transaction-bound
sessionmaker or Session when the app's sessions join the test's transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from secretary.db import tenancy
from secretary.db.models import User
from secretary.identity import service as identity
from secretary.identity.schemas import ALL_SCOPES
from secretary.web.auth import CSRF_HEADER, SESSION_COOKIE

#: What ``TestClient`` requests come from; cookie-authed changes must be same-origin.
TEST_ORIGIN = "http://testserver"

Sessions = sessionmaker[Session] | Session
T = TypeVar("T")


@contextmanager
def _unit(sessions: Sessions) -> Iterator[Session]:
    """A system-role unit of work: commits through a sessionmaker, flushes in a Session."""
    if isinstance(sessions, Session):
        tenancy.act_as_system(sessions)
        yield sessions
        sessions.flush()
        return
    with sessions() as session, session.begin():
        yield session


def _in_unit(sessions: Sessions, work: Callable[[Session], T]) -> T:
    with _unit(sessions) as session:
        return work(session)


def create_user(
    sessions: Sessions, *, email: str | None = None, google_sub: str | None = None
) -> int:
    """A new user (unique address and ``sub`` unless given); returns its id."""
    tag = uuid.uuid4().hex[:10]

    def work(session: Session) -> int:
        user = User(
            email=email or f"user-{tag}@example.test",
            google_sub=google_sub or f"sub-{tag}",
        )
        session.add(user)
        session.flush()
        return user.id

    return _in_unit(sessions, work)


def issue_token(
    sessions: Sessions, user_id: int, *, scopes: Sequence[str] = ALL_SCOPES, name: str = "test"
) -> str:
    """A personal API token of ``user_id`` (all scopes by default); returns the secret."""

    def work(session: Session) -> str:
        secret, _row = identity.create_token(session, user_id, name=name, scopes=scopes)
        return secret

    return _in_unit(sessions, work)


def authenticate(
    client: TestClient,
    sessions: Sessions,
    user_id: int,
    *,
    scopes: Sequence[str] = ALL_SCOPES,
) -> str:
    """Make every request of ``client`` carry a fresh token of ``user_id``; returns it."""
    token = issue_token(sessions, user_id, scopes=scopes)
    client.headers["Authorization"] = f"Bearer {token}"
    return token


def sign_in(client: TestClient, sessions: Sessions, user_id: int) -> str:
    """Sign ``client`` in as ``user_id`` the way the browser flow ends: a session cookie.
    Also sets a same-origin ``Origin`` header. Returns the session's CSRF token (send it
    as ``X-CSRF-Token`` on cookie-authenticated API changes; pages embed it in forms)."""

    def work(session: Session) -> tuple[str, str]:
        secret, row = identity.create_session(session, user_id, ttl=timedelta(hours=1))
        return secret, row.csrf_token

    secret, csrf = _in_unit(sessions, work)
    client.cookies.set(SESSION_COOKIE, secret)
    client.headers["Origin"] = TEST_ORIGIN
    return csrf


def csrf_headers(csrf: str) -> dict[str, str]:
    return {CSRF_HEADER: csrf, "Origin": TEST_ORIGIN}


def authed_client(
    app: FastAPI, sessions: Sessions, *, user_id: int | None = None, **client_kwargs: Any
) -> tuple[TestClient, int]:
    """A ``TestClient`` for ``app`` with a Bearer token of ``user_id`` (a new user if None).
    Use it as a context manager (``with client:``) to run the app's lifespan."""
    uid = user_id if user_id is not None else create_user(sessions)
    client = TestClient(app, **client_kwargs)
    authenticate(client, sessions, uid)
    return client, uid


def owner_of_account(sessions: Sessions, account_id: int) -> int:
    """The user a (connected) Google account belongs to."""
    from secretary.db.models import GoogleAccount

    def work(session: Session) -> int:
        account = session.get(GoogleAccount, account_id)
        assert account is not None, f"no account {account_id}"
        return account.user_id

    return _in_unit(sessions, work)


def authenticate_account_owner(client: TestClient, sessions: Sessions, account_id: int) -> int:
    """Authenticate ``client`` (Bearer) as the owner of ``account_id``; returns the user id."""
    uid = owner_of_account(sessions, account_id)
    authenticate(client, sessions, uid)
    return uid
