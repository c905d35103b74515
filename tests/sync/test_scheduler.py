"""``SyncScheduler``: first sync and watch on start, and the safety poll catching a change
no push announced (the interval arithmetic itself is tested in ``test_plan``)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.push import push_hub

from secretary.db.models import SyncState
from secretary.sync.tasks import SyncScheduler
from tests.sync.conftest import Connected, mailbox_snapshot, make_raw, seed_mailbox, store_snapshot


def test_scheduler_polls_renews_watch_and_adapts(
    sessions: sessionmaker[Session], connected: Connected
) -> None:
    emu = connected.emulator.state
    seed_mailbox(emu, connected.email, singles=10, threads=1)
    sync = connected.settings.sync.model_copy(update={"poll_min_seconds": 1, "poll_max_seconds": 4})
    settings = connected.settings.model_copy(update={"sync": sync})
    scheduler = SyncScheduler(sessions, settings, tick_seconds=0.05)

    async def scenario() -> None:
        await scheduler.start()
        try:
            await _until(lambda: scheduler.runs >= 1)
            sched = scheduler.accounts[connected.account_id]
            announced = sched.announced_history_id
            # A change without any push (no endpoint configured): only the poll can see it.
            emu.users[connected.email].mailbox.add_message(
                make_raw()[0], label_ids={"INBOX", "UNREAD"}
            )
            await _until(
                lambda: (
                    store_snapshot(sessions, connected.account_id)
                    == mailbox_snapshot(emu, connected.email)
                )
            )
            assert sched.announced_history_id > announced
        finally:
            await scheduler.stop()

    asyncio.run(scenario())
    assert push_hub(emu).to_dict()  # the watch registered with the emulator's push hub
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(SyncState.account_id == connected.account_id)
        ).one()
        assert state.watch_expires_at is not None
        assert state.next_poll_at is not None
        assert state.phase == "incremental"


async def _until(predicate: object) -> None:
    deadline = time.monotonic() + 20
    while not await asyncio.to_thread(predicate):  # type: ignore[arg-type]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
