"""Index passes for one user coalesce: the holder looks again after unlocking, a pass that
finds the user busy returns (no retry storm, no dead letters), and no batch is left behind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import Components
from secretary.config import Settings
from secretary.search import repository
from secretary.search.indexer import Indexer
from secretary.search.tasks import index
from secretary.worker.task import TaskContext


def _ctx(session: Session, settings: Settings, sessions: Any) -> TaskContext:
    return TaskContext(
        session=session,
        settings=settings,
        record_id=1,
        attempt=1,
        correlation_id="test",
        origin_at=None,
        deps=Components(),
        sessions=sessions,
    )


def _pending(sessions: sessionmaker[Session], user_id: int) -> int:
    with sessions() as s:
        return repository.count_changed(s, user_id) + repository.count_unembedded(s, user_id)


def test_a_busy_index_returns_at_once_instead_of_retrying(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, mailboxes: Any
) -> None:
    box = mailboxes()
    message = box.add("Quarterly numbers", "The numbers are in the sheet.")
    with engine.connect() as holder:  # another process's pass, holding the user's lock
        assert repository.try_lock_user(holder, box.user_id)
        holder.commit()
        try:
            with sessions() as session:
                index(_ctx(session, settings, sessions), message_id=message.id)  # no raise
        finally:
            repository.unlock_user(holder, box.user_id)
            holder.commit()
    assert _pending(sessions, box.user_id) > 0  # the holder's job, not this pass's


def test_the_holder_indexes_a_batch_stored_while_it_ran(
    indexer: Indexer, sessions: sessionmaker[Session], mailboxes: Any
) -> None:
    box = mailboxes()
    box.add("Quarterly numbers", "The numbers are in the sheet.")
    late: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        # A sync batch commits after the lexical step; its own pass found the lock taken.
        if stage == "vectors" and not late:
            late.append(box.add("Late arrival", "Stored during the pass.").id)

    report = indexer.run(box.user_id, progress=progress)
    assert late
    assert not report.locked_out
    assert report.indexed == 2  # the late message too, by the look after unlocking
    assert _pending(sessions, box.user_id) == 0
