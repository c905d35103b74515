"""Initial and incremental sync against the emulator over real HTTP, into real Postgres."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Message, SyncState, Thread
from secretary.sync import service
from tests.sync.conftest import (
    Connected,
    mailbox_snapshot,
    make_raw,
    seed_mailbox,
    store_snapshot,
)


def test_initial_sync_mirrors_mailbox(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    seed_mailbox(connected.emulator.state, connected.email, singles=40, threads=5, per_thread=4)
    report = service.run_sync(sessions, connected.account_id, connected.settings)

    assert report.phase == "incremental"
    assert report.listed == 60
    assert store_snapshot(sessions, connected.account_id) == mailbox_snapshot(
        connected.emulator.state, connected.email
    )
    with sessions() as session:
        fetched = session.scalar(
            select(func.count()).where(
                Message.account_id == connected.account_id, Message.body_fetched_at.is_not(None)
            )
        )
        assert fetched == 60
        threads = session.scalars(
            select(Thread.message_count).where(Thread.account_id == connected.account_id)
        ).all()
        assert sorted(threads)[-5:] == [4, 4, 4, 4, 4]
        state = session.scalars(
            select(SyncState).where(SyncState.account_id == connected.account_id)
        ).one()
        assert state.phase == "incremental"
        assert int(state.cursor or 0) > 0
        subject = session.scalar(
            select(Message.subject).where(
                Message.account_id == connected.account_id, Message.subject.like("Re: Thread%")
            )
        )
        assert subject is not None
        assert subject.startswith("Re: Thread topic")
    # Fetch plan: 40 singles × messages.get (5) + 5 threads × threads.get (10) instead of
    # 20 × messages.get; plus getProfile (1), labels.list (1), one window listing and one
    # listing per label (5 each), and the closing history.list (2).
    labels = len(connected.emulator.state.users[connected.email].mailbox.labels)
    assert report.units == 40 * 5 + 5 * 10 + 1 + 1 + 5 * (1 + labels) + 2


def test_incremental_applies_adds_deletes_and_labels(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    state = connected.emulator.state
    seed_mailbox(state, connected.email, singles=20, threads=2)
    service.run_sync(sessions, connected.account_id, connected.settings)
    mailbox = state.users[connected.email].mailbox
    ids = sorted(mailbox.messages)
    mailbox.delete(ids[0])
    mailbox.modify(ids[1], add=["STARRED"], remove=["UNREAD"])
    mailbox.trash(ids[2])
    new_raw, _ = make_raw(subject="Fresh news")
    new = mailbox.add_message(new_raw, label_ids={"INBOX", "UNREAD"})
    seen: list[list[int]] = []

    def listener(session: Session, account_id: int, message_ids: list[int]) -> None:
        seen.append(message_ids)

    report = service.run_sync(
        sessions, connected.account_id, connected.settings, on_stored=listener
    )
    assert report.fetched == 1
    assert report.deleted == 1
    assert store_snapshot(sessions, connected.account_id) == mailbox_snapshot(
        state, connected.email
    )
    assert len(seen) == 1
    assert len(seen[0]) == 1
    with sessions() as session:
        stored = session.get(Message, seen[0][0])
        assert stored is not None
        assert stored.gmail_id == new.id


def test_revoked_grant_marks_needs_reauth_without_a_loop(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    from workspace_emulator.faults import expire_access_tokens, revoke_refresh_tokens

    from secretary.db.models import GoogleAccount
    from secretary.worker.runner import Outcome
    from tests.sync.tasks import run_sync_task

    state = connected.emulator.state
    seed_mailbox(state, connected.email, singles=5, threads=0)
    service.run_sync(sessions, connected.account_id, connected.settings)
    revoke_refresh_tokens(state, connected.email)
    expire_access_tokens(state, connected.email)
    state.users[connected.email].mailbox.add_message(make_raw()[0], label_ids={"INBOX"})
    # The sync task records the dead grant and succeeds: no retry loop against Google.
    outcome = run_sync_task(sessions, connected.settings, connected.account_id)
    assert outcome == Outcome.SUCCEEDED
    with sessions() as session:
        account = session.get(GoogleAccount, connected.account_id)
        assert account is not None
        assert account.status == "needs_reauth"
    # Skipped from now on, without calling Google.
    assert run_sync_task(sessions, connected.settings, connected.account_id) == Outcome.SUCCEEDED


def test_history_expiry_resyncs_once_and_never_loops(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    import pytest
    from workspace_emulator.faults import expire_history

    from secretary.sync.errors import SyncFailed

    state = connected.emulator.state
    mailbox = state.users[connected.email].mailbox
    seed_mailbox(state, connected.email, singles=30, threads=0)
    service.run_sync(sessions, connected.account_id, connected.settings)
    ids = sorted(mailbox.messages)
    expire_history(state, connected.email)
    mailbox.delete(ids[0])
    mailbox.modify(ids[1], add=["STARRED"])
    mailbox.add_message(make_raw()[0], label_ids={"INBOX", "UNREAD"})

    report = service.run_sync(sessions, connected.account_id, connected.settings)
    assert report.full_resync
    assert store_snapshot(sessions, connected.account_id) == mailbox_snapshot(
        state, connected.email
    )
    # A second expiry right after a resync: no second resync, a loud error instead.
    expire_history(state, connected.email)
    with pytest.raises(SyncFailed):
        service.run_sync(sessions, connected.account_id, connected.settings)
    with sessions() as session:
        sync_state = session.scalars(
            select(SyncState).where(SyncState.account_id == connected.account_id)
        ).one()
        assert sync_state.full_resyncs == 1
        assert sync_state.last_error is not None
        assert "SyncFailed" in sync_state.last_error
