"""Sync as durable tasks: the staggered poll, coalescing, the busy hand-off, and the
in-process runtime syncing a connected account end to end (first sync, watch, and the
safety poll catching a change no push announced)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.push import push_hub

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import GoogleAccount, SyncState, TaskStatus, User
from secretary.db.session import unit_of_work
from secretary.sync import engine
from secretary.sync.locks import account_lock
from secretary.worker.runner import Outcome
from tests.sync.conftest import Connected, mailbox_snapshot, make_raw, seed_mailbox, store_snapshot
from tests.sync.tasks import run_sync_task, sync_records


def test_poll_slots_are_staggered_and_stable() -> None:
    now = datetime(2026, 12, 7, 6, 0, 0, tzinfo=UTC)
    interval = 600.0
    slots = [engine.next_poll_at(a, "gmail", interval, now) for a in range(1, 5001)]
    assert all(now < at <= now + timedelta(seconds=interval) for at in slots)
    # Thousands of accounts spread over the interval: no tenth of it gets much more than
    # a tenth of them (uniform would be 500 per bucket).
    buckets = Counter(int((at - now).total_seconds() // (interval / 10)) for at in slots)
    assert max(buckets.values()) < 650, buckets
    # An account keeps its phase: the slot after its slot is exactly one interval later.
    first = slots[41]
    assert engine.next_poll_at(42, "gmail", interval, first) == first + timedelta(seconds=600)
    # Services of one account do not all land together either.
    assert len({engine.stagger_offset(7, s.name, interval) for s in engine.SERVICES}) == 3


def test_poll_requests_due_pairs_once(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    settings = connected.settings
    with unit_of_work(sessions) as session:
        requested = engine.poll_due(session, settings)
    assert (connected.account_id, "gmail") in requested
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.account_id == connected.account_id, SyncState.service == "gmail"
            )
        ).one()
        assert state.next_poll_at is not None
    (record,) = sync_records(sessions, connected.account_id)
    assert record.queue == "sync"
    # Not due again until its slot; and a request while one is queued coalesces.
    with unit_of_work(sessions) as session:
        again = engine.poll_due(session, settings)
        assert (connected.account_id, "gmail") not in again
        assert engine.request_sync(session, connected.account_id, "gmail") is None
    assert len(sync_records(sessions, connected.account_id)) == 1


def test_busy_pair_is_asked_again_later(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    seed_mailbox(connected.emulator.state, connected.email, singles=3, threads=0)
    with account_lock(sessions, connected.account_id):  # a sync elsewhere holds the account
        outcome = run_sync_task(sessions, connected.settings, connected.account_id)
    assert outcome == Outcome.SUCCEEDED
    first, follow_up = sync_records(sessions, connected.account_id)
    assert first.status == TaskStatus.SUCCEEDED
    assert follow_up.status == TaskStatus.QUEUED
    # Delayed: the sweeper must not treat it as lost before its time.
    assert follow_up.dispatched_at > first.started_at


def test_inline_runtime_syncs_polls_and_renews_watch(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    emu = connected.emulator.state
    seed_mailbox(emu, connected.email, singles=10, threads=1)
    sync = connected.settings.sync.model_copy(update={"poll_min_seconds": 1, "poll_max_seconds": 2})
    settings = connected.settings.model_copy(update={"sync": sync})
    root = compose(settings, sessions=sessions)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    background = asyncio.run_coroutine_threadsafe(root.start_background(), loop).result(30)
    try:
        in_sync: Callable[[], bool] = lambda: (  # noqa: E731
            store_snapshot(sessions, connected.account_id) == mailbox_snapshot(emu, connected.email)
        )
        _until(in_sync)  # the first poll found the new account and its task synced it
        # Let that sync end first, or it could pick up the change below by itself.
        _until(
            lambda: all(
                r.status == TaskStatus.SUCCEEDED
                for r in sync_records(sessions, connected.account_id, service="gmail")
            )
        )
        # A change without any push (no endpoint configured): only the poll can see it.
        emu.users[connected.email].mailbox.add_message(make_raw()[0], label_ids={"INBOX", "UNREAD"})
        _until(in_sync)
    finally:
        asyncio.run_coroutine_threadsafe(background.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert push_hub(emu).to_dict()  # the watch registered with the emulator's push hub
    records = sync_records(sessions, connected.account_id, service="gmail")
    assert len(records) >= 2
    assert {r.status for r in records} <= {TaskStatus.SUCCEEDED, TaskStatus.QUEUED}
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.account_id == connected.account_id, SyncState.service == "gmail"
            )
        ).one()
        assert state.watch_expires_at is not None
        assert state.next_poll_at is not None
        assert state.phase == "incremental"


def _until(predicate: Callable[[], bool], *, quiet_for: float = 20) -> None:
    deadline = time.monotonic() + quiet_for
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_poll_tick_reads_all_slots_in_two_queries(session: Session, settings: Settings) -> None:
    """Many accounts: a tick reads every pair's slot in two queries and spends more only on
    the pairs that are due, which the stagger keeps to a few per tick."""
    session.execute(delete(User))  # rolled back at the end: only this test's accounts
    scopes = [
        "https://www.googleapis.com/auth/gmail.modify",
        "https://www.googleapis.com/auth/calendar",
    ]
    for i in range(300):
        user = User(email=f"poll-{i}@example.test")
        session.add(user)
        session.flush()
        session.add(
            GoogleAccount(user_id=user.id, google_sub=f"sub-{i}", email=user.email, scopes=scopes)
        )
    session.flush()
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert len(engine.poll_due(session, settings, now=now)) == 600  # new pairs: due at once

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", count)
    try:
        quiet = engine.poll_due(session, settings, now=now)
        assert quiet == []
        assert len(statements) == 2
        statements.clear()
        # One second later: only the pairs whose staggered slot fell in that second
        # (Gmail every 30 s, Calendar every 150 s: about 12 of the 600).
        due = engine.poll_due(session, settings, now=now + timedelta(seconds=1))
    finally:
        event.remove(conn, "before_cursor_execute", count)
    assert 0 < len(due) < 40, due
    assert len(statements) <= 2 + 5 * len(due)
