"""Drafts are written in the user's own voice, learned from the mail they sent (issue 13),
and never greet a person by a mailbox's local part."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from secretary.db.models import GoogleAccount, Message, User
from secretary.drafting.service import generate_draft
from secretary.kit.clock import utcnow
from secretary.llm.local.tier import LocalTier


@pytest.fixture(scope="module")
def tier() -> LocalTier:
    return LocalTier()


def _owner(session: Session) -> tuple[int, int]:
    tag = uuid.uuid4().hex[:8]
    user = User(email=f"dana-{tag}@example.test", display_name="Dana Reyes")
    session.add(user)
    session.flush()
    account = GoogleAccount(user_id=user.id, google_sub=f"s-{tag}", email=user.email, scopes=[])
    session.add(account)
    session.flush()
    return user.id, account.id


def _message(session: Session, user_id: int, account_id: int, n: int, **fields: object) -> Message:
    message = Message(
        user_id=user_id,
        account_id=account_id,
        gmail_id=f"g{n}-{uuid.uuid4().hex[:6]}",
        gmail_thread_id=f"t{n}-{uuid.uuid4().hex[:6]}",
        internal_date=utcnow() - timedelta(hours=n),
        body_fetched_at=utcnow(),
        **fields,
    )
    session.add(message)
    session.flush()
    return message


def test_drafts_use_the_greeting_and_closing_of_sent_mail(
    session: Session, tier: LocalTier
) -> None:
    user_id, account_id = _owner(session)
    for n, name in enumerate(["Sam", "Lee", "Ana"], start=10):
        text = f"Hey {name}!\n\nSounds good, I'll take a look this afternoon.\n\nCheers,\nD."
        _message(session, user_id, account_id, n, label_ids=["SENT"], subject="Re: x",
                 from_addr="dana@example.test", to_addrs=[f"{name.lower()}@example.org"],
                 body_text=text, reply_text=text)  # fmt: skip
    incoming = _message(
        session, user_id, account_id, 1, label_ids=["INBOX"], subject="Report",
        from_name="Priya Shah", from_addr="priya@example.org", to_addrs=["dana@example.test"],
        body_text="Hi Dana, could you send me the quarterly report by Friday? Thanks, Priya",
    )  # fmt: skip
    draft = generate_draft(session, incoming.id, tier=tier)
    assert draft is not None
    assert draft.body.startswith("Hey Priya!")
    assert "Cheers,\nD." in draft.body
    assert "Best," not in draft.body


def test_no_greeting_from_a_mailbox_local_part(session: Session, tier: LocalTier) -> None:
    user_id, account_id = _owner(session)
    incoming = _message(
        session, user_id, account_id, 1, label_ids=["INBOX"], subject="Question",
        from_addr="mlk@example.org", to_addrs=["dana@example.test"],
        body_text="Could you send me the quarterly report by Friday?",
    )  # fmt: skip
    draft = generate_draft(session, incoming.id, tier=tier)
    assert draft is not None
    assert not draft.body.startswith("Hi Mlk")
    assert draft.body.startswith("Hi,")
