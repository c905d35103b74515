"""Builders for search tests: users, accounts and messages committed for real (the indexer
commits per batch, and a killed indexer process must see them)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import GoogleAccount, Message, SearchItem, SearchVector, User
from secretary.search.indexer import Indexer

_n = itertools.count()
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Mailbox:
    def __init__(self, sessions: sessionmaker[Session], user_id: int, account_id: int) -> None:
        self.sessions = sessions
        self.user_id = user_id
        self.account_id = account_id

    def add(
        self,
        subject: str,
        body: str,
        *,
        sender: str = "Pat Example <pat@example.org>",
        to: tuple[str, ...] = ("me@example.com",),
        labels: tuple[str, ...] = ("INBOX",),
        at: datetime | None = None,
        thread: str | None = None,
        has_attachments: bool = False,
    ) -> Message:
        name, _, addr = sender.partition(" <")
        n = next(_n)
        with self.sessions.begin() as s:
            m = Message(
                user_id=self.user_id,
                account_id=self.account_id,
                gmail_id=f"g{n}-{uuid.uuid4().hex[:6]}",
                gmail_thread_id=thread or f"t{n}",
                internal_date=at or NOW - timedelta(days=1),
                label_ids=list(labels),
                subject=subject,
                from_name=name,
                from_addr=addr.rstrip(">") or name,
                to_addrs=list(to),
                cc_addrs=[],
                references=[],
                body_text=body,
                reply_text=body,
                has_attachments=has_attachments,
                has_calendar_invite=False,
                body_fetched_at=NOW,
            )
            s.add(m)
            s.flush()
            s.expunge(m)
        return m


def new_mailbox(sessions: sessionmaker[Session]) -> Mailbox:
    tag = uuid.uuid4().hex[:10]
    with sessions.begin() as s:
        user = User(email=f"search-{tag}@example.com")
        s.add(user)
        s.flush()
        account = GoogleAccount(
            user_id=user.id, google_sub=f"sub-{tag}", email=f"search-{tag}@example.com"
        )
        s.add(account)
        s.flush()
        return Mailbox(sessions, user.id, account.id)


def drop_user(sessions: sessionmaker[Session], user_id: int) -> None:
    with sessions.begin() as s:
        s.execute(delete(SearchItem).where(SearchItem.user_id == user_id))
        s.execute(delete(SearchVector).where(SearchVector.user_id == user_id))
        s.execute(delete(User).where(User.id == user_id))


@pytest.fixture
def mailboxes(sessions: sessionmaker[Session]) -> Iterator[Any]:
    made: list[Mailbox] = []

    def make() -> Mailbox:
        box = new_mailbox(sessions)
        made.append(box)
        return box

    yield make
    for box in made:
        drop_user(sessions, box.user_id)


@pytest.fixture
def indexer(engine: Engine, sessions: sessionmaker[Session], tmp_path: Path) -> Indexer:
    return Indexer(engine, sessions, tmp_path / "home")
