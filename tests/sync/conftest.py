"""Fixtures for sync tests: a real emulator on a real port and a connected account.

The account is stored the way the accounts service stores one (Fernet-encrypted tokens
minted by the emulator's OAuth server), so token refresh runs the real refresh grant.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth
from workspace_emulator.server import run_in_thread
from workspace_emulator.state import EmulatorState

from secretary.config import Settings
from secretary.db.models import GoogleAccount, User
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher

SCOPES = [
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.compose",
    "openid",
    "email",
]


@dataclass
class Emulator:
    state: EmulatorState
    base_url: str
    stop: Any


def _run_uvicorn(state: EmulatorState) -> tuple[str, Any]:
    running = run_in_thread(state, port=0)
    return running.base_url, running.stop


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    state = EmulatorState()
    base_url, stop = _run_uvicorn(state)
    state.base_url = base_url
    try:
        yield Emulator(state, base_url, stop)
    finally:
        stop()


@pytest.fixture
def sync_settings(settings: Settings, emulator: Emulator) -> Settings:
    google = settings.google.model_copy(
        update={"api_base_url": emulator.base_url, "oauth_base_url": emulator.base_url}
    )
    return settings.model_copy(update={"google": google})


@dataclass
class Connected:
    account_id: int
    email: str
    emulator: Emulator
    settings: Settings


def connect_account(
    sessions: sessionmaker[Session], emulator: Emulator, settings: Settings, email: str
) -> int:
    """Mint tokens in the emulator and store the account like the accounts service does."""
    emulator.state.add_user(email)
    oauth.register_client(
        emulator.state,
        settings.google.client_id,
        settings.google.client_secret.get_secret_value(),
    )
    tokens = oauth.issue_tokens(emulator.state, email, SCOPES, client_id=settings.google.client_id)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    with sessions.begin() as session:
        user = User(email=email)
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub=emulator.state.users[email].sub,
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
def connected(
    sessions: sessionmaker[Session], emulator: Emulator, sync_settings: Settings
) -> Iterator[Connected]:
    email = f"sync-{uuid.uuid4().hex[:10]}@example.com"
    account_id = connect_account(sessions, emulator, sync_settings, email)
    try:
        yield Connected(account_id, email, emulator, sync_settings)
    finally:
        with sessions.begin() as session:
            session.execute(delete(User).where(User.email == email))


_counter = itertools.count()


def make_raw(
    *,
    subject: str | None = None,
    body: str = "Hello there,\n\nA short note.\n\n-- \nSam\n",
    in_reply_to: str | None = None,
    message_id: str | None = None,
) -> tuple[bytes, str]:
    n = next(_counter)
    msg = EmailMessage()
    msg["From"] = f"Sender {n} <sender{n}@example.org>"
    msg["To"] = "owner@example.com"
    msg["Subject"] = subject or f"Subject number {n}"
    msg["Date"] = format_datetime(utcnow())
    mid = message_id or make_msgid(domain="example.org")
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return bytes(msg), mid


def seed_mailbox(
    state: EmulatorState,
    email: str,
    *,
    singles: int,
    threads: int,
    per_thread: int = 3,
    seed: int = 7,
) -> None:
    """Seed recent mail: ``singles`` lone messages and ``threads`` conversations."""
    rng = random.Random(seed)
    mailbox = state.users[email].mailbox
    now_ms = int(time.time() * 1000)
    user_label = mailbox.create_label({"name": "Projects"}).id
    for _ in range(singles):
        raw, _mid = make_raw()
        labels = {"INBOX"} | ({"UNREAD"} if rng.random() < 0.4 else set())
        if rng.random() < 0.1:
            labels.add(user_label)
        mailbox.add_message(
            raw, label_ids=labels, internal_date=now_ms - rng.randint(1, 20 * 86_400_000)
        )
    for t in range(threads):
        first_raw, mid = make_raw(subject=f"Thread topic {t}")
        base = now_ms - rng.randint(1, 20 * 86_400_000)
        first = mailbox.add_message(first_raw, label_ids={"INBOX"}, internal_date=base)
        for i in range(1, per_thread):
            raw, mid = make_raw(subject=f"Re: Thread topic {t}", in_reply_to=mid)
            mailbox.add_message(
                raw,
                label_ids={"INBOX", "UNREAD"},
                thread_id=first.thread_id,
                internal_date=base + i * 60_000,
            )


def store_snapshot(
    sessions: sessionmaker[Session], account_id: int
) -> dict[str, tuple[str, frozenset[str]]]:
    from sqlalchemy import select

    from secretary.db.models import Message

    with sessions() as session:
        rows = session.execute(
            select(Message.gmail_id, Message.gmail_thread_id, Message.label_ids).where(
                Message.account_id == account_id
            )
        )
        return {gid: (tid, frozenset(labels)) for gid, tid, labels in rows}


def mailbox_snapshot(state: EmulatorState, email: str) -> dict[str, tuple[str, frozenset[str]]]:
    mailbox = state.users[email].mailbox
    with mailbox.lock:
        return {m.id: (m.thread_id, frozenset(m.label_ids)) for m in mailbox.messages.values()}
