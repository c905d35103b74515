"""The index stage while another process holds the user's index: retry, never a dead letter."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import Components
from secretary.config import Settings
from secretary.search import repository
from secretary.search.tasks import INDEX_ATTEMPTS, IndexBusy, index
from secretary.worker.task import TaskContext


def _ctx(session: Session, settings: Settings, sessions: Any, attempt: int) -> TaskContext:
    return TaskContext(
        session=session,
        settings=settings,
        record_id=1,
        attempt=attempt,
        correlation_id="test",
        origin_at=None,
        deps=Components(),
        sessions=sessions,
    )


def test_a_busy_index_is_retried_then_left_to_the_periodic_pass(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, mailboxes: Any
) -> None:
    box = mailboxes()
    message = box.add("Quarterly numbers", "The numbers are in the sheet.")
    with engine.connect() as holder:  # another process's pass, holding the user's lock
        assert repository.try_lock_user(holder, box.user_id)
        holder.commit()
        try:
            with sessions() as session:
                with pytest.raises(IndexBusy):
                    index(_ctx(session, settings, sessions, 1), message_id=message.id)
                # The last attempt succeeds quietly: the holder or the periodic pass
                # indexes the batch, so a dead letter would be a false alarm.
                index(_ctx(session, settings, sessions, INDEX_ATTEMPTS), message_id=message.id)
        finally:
            repository.unlock_user(holder, box.user_id)
            holder.commit()
