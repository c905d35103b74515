"""Fixtures for driving the Google emulator over real HTTP (teammates reuse these).

- ``emulator``: a fresh ``EmulatorState`` served by uvicorn on a free local port, in a thread
  (``RunningEmulator`` with ``.state`` and ``.base_url``; stopped after the test).
- ``gmail_user``: the user ``alex@example.test`` in that emulator.
- ``token``: a valid access token for ``gmail_user`` (minted straight into
  ``state.access_tokens``; use the OAuth flow instead when the test is about OAuth).
- ``gmail``: the official ``googleapiclient`` Gmail v1 client pointed at the emulator.
- ``mint_token(state, email, scopes=..., ttl=...)`` and ``gmail_client(base_url, token)``
  are plain helpers for tests that need more users or clients.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from workspace_emulator.server import RunningEmulator, run_in_thread
from workspace_emulator.state import EmulatorState, EmulatorUser, TokenRecord

USER_EMAIL = "alex@example.test"
ALL_SCOPES = [
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/drive.readonly",
]


def mint_token(
    state: EmulatorState,
    email: str,
    *,
    scopes: list[str] | None = None,
    ttl: float = 3600.0,
    client_id: str = "test-client",
) -> str:
    """Issue an access token for ``email`` without the OAuth flow."""
    token = "ya29.test-" + secrets.token_urlsafe(24)
    with state.lock:
        state.access_tokens[token] = TokenRecord(
            token=token,
            email=email,
            client_id=client_id,
            scopes=list(ALL_SCOPES if scopes is None else scopes),
            expires_at=time.time() + ttl,
        )
    return token


def gmail_client(base_url: str, token: str) -> Any:
    """``googleapiclient`` Gmail v1 against the emulator (static discovery, no network)."""
    return build(
        "gmail",
        "v1",
        credentials=Credentials(token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": base_url},
    )


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    running = run_in_thread(EmulatorState())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def gmail_user(emulator: RunningEmulator) -> EmulatorUser:
    return emulator.state.add_user(USER_EMAIL, name="Alex Rivera")


@pytest.fixture
def token(emulator: RunningEmulator, gmail_user: EmulatorUser) -> str:
    return mint_token(emulator.state, gmail_user.email)


@pytest.fixture
def gmail(emulator: RunningEmulator, token: str) -> Any:
    return gmail_client(emulator.base_url, token)
