"""What one run costs the database: a chained stage is one transaction (issue #14), in both
runtimes, since both call ``runner.execute``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import TaskRecord, TaskStatus
from secretary.worker import repository
from secretary.worker.runner import Outcome, Runtime, execute
from tests.worker import tasks_for_tests  # noqa: F401 (registers test.*)


def test_a_chained_stage_commits_once(
    runtime: Runtime, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # A lease long enough that no heartbeat commits during the chain, however slow.
    worker = runtime.settings.worker.model_copy(update={"lease_seconds": 600.0})
    runtime = Runtime(
        settings=runtime.settings.model_copy(update={"worker": worker}), sessions=sessions
    )
    key = uuid.uuid4().hex
    with sessions.begin() as s:  # no backend: nothing is sent, execute runs the chain
        first = repository.enqueue(
            s, "test.chain", {"key": key, "remaining": 3}, dedupe_key=f"test.chain:{key}:3"
        )
    assert first is not None
    commits: list[Any] = []

    def count(conn: Any) -> None:
        commits.append(conn)

    event.listen(engine, "commit", count)
    try:
        assert execute(runtime, first) == Outcome.SUCCEEDED
    finally:
        event.remove(engine, "commit", count)
    with sessions() as s:
        statuses = s.scalars(
            select(TaskRecord.status).where(TaskRecord.dedupe_key.like(f"test.chain:{key}:%"))
        ).all()
    assert sorted(statuses) == [TaskStatus.SUCCEEDED] * 4
    # The first claim, then one per stage: each stage claims the next in its own commit.
    assert len(commits) == 1 + 4
