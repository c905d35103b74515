"""The tier sees what the store knows (issue 13): the sender's and the thread's history in
the user's own mail, and a calendar invitation. Real Postgres, rolled back per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from secretary.db.models import GoogleAccount, Message, User
from secretary.llm.local import LocalTier
from secretary.llm.schemas import Category
from secretary.triage.steps.facts import email_input
from secretary.triage.steps.outreach import sender_history

NOW = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)
PROMO = "Congratulations, you won the raffle! Claim your prize at the party."


def _seed(session: Session) -> tuple[User, GoogleAccount]:
    user = User(email="dana@example.test", timezone="UTC")
    session.add(user)
    session.flush()
    account = GoogleAccount(user_id=user.id, google_sub="sub-dana", email=user.email, scopes=[])
    session.add(account)
    session.flush()
    return user, account


def _mail(user: User, account: GoogleAccount, n: int, **fields: object) -> Message:
    return Message(
        user_id=user.id,
        account_id=account.id,
        gmail_id=f"m{n}",
        gmail_thread_id=str(fields.pop("thread", f"t{n}")),
        internal_date=NOW - timedelta(hours=10 - n),
        **fields,
    )


def test_thread_and_sender_history_reach_the_tier(session: Session) -> None:
    user, account = _seed(session)
    theirs = _mail(user, account, 1, thread="t1", label_ids=["INBOX"],
                   from_addr="sam@partner.example", to_addrs=[user.email],
                   subject="Raffle at the party", body_text="See you there.")  # fmt: skip
    ours = _mail(user, account, 2, thread="t1", label_ids=["SENT"], from_addr=user.email,
                 to_addrs=["sam@partner.example"], subject="Re: Raffle at the party",
                 body_text="Count me in.")  # fmt: skip
    new = _mail(user, account, 3, thread="t1", label_ids=["INBOX"],
                from_addr="sam@partner.example", to_addrs=[user.email],
                subject="Re: Raffle at the party", body_text=PROMO, reply_text=PROMO,
                has_calendar_invite=True)  # fmt: skip
    stranger = _mail(user, account, 4, label_ids=["INBOX"], from_addr="promo@deals.example",
                     to_addrs=[user.email], subject="Raffle", body_text=PROMO,
                     reply_text=PROMO)  # fmt: skip
    session.add_all([theirs, ours, new, stranger])
    session.flush()

    history = sender_history(session, new)
    assert history.messages_from_sender == 1
    assert history.messages_to_sender == 1
    assert history.user_in_thread
    assert history.earlier_in_thread == 2
    first = sender_history(session, stranger)
    assert (first.messages_from_sender, first.user_wrote_to_sender, first.user_in_thread) == (
        0,
        False,
        False,
    )

    known = email_input(new, user_email=user.email, sender_stats=history.sender_stats())
    assert known.sender_stats is not None
    assert known.sender_stats.user_in_thread
    assert known.has_calendar_invite
    unknown = email_input(stranger, user_email=user.email, sender_stats=first.sender_stats())

    tier = LocalTier()
    from_friend, from_stranger = tier.classify(known), tier.classify(unknown)
    # The same promotional words: spam from a stranger, not from someone in the user's thread.
    assert from_stranger.category == Category.SPAM, from_stranger.reason
    assert from_friend.category != Category.SPAM, from_friend.reason
    assert "you have written to this sender" in from_friend.reason
    assert from_friend.meeting_request  # the invitation, not the words
