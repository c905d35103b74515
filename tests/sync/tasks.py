"""Helpers for sync-as-tasks tests: find ``sync.run`` records, run one like a worker."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import TaskRecord
from secretary.db.session import unit_of_work
from secretary.sync import engine
from secretary.worker.runner import Outcome, execute


def sync_records(
    sessions: sessionmaker[Session], account_id: int, *, service: str | None = None
) -> list[TaskRecord]:
    with sessions() as session:
        stmt = (
            select(TaskRecord)
            .where(
                TaskRecord.name == engine.SYNC_TASK,
                TaskRecord.args["account_id"].as_integer() == account_id,
            )
            .order_by(TaskRecord.id)
        )
        if service is not None:
            stmt = stmt.where(TaskRecord.args["service"].as_string() == service)
        return list(session.scalars(stmt))


def run_sync_task(
    sessions: sessionmaker[Session], settings: Settings, account_id: int, service: str = "gmail"
) -> Outcome:
    """Queue a ``sync.run`` for the pair and run it here, as a worker would."""
    with unit_of_work(sessions) as session:
        record_id = engine.request_sync(session, account_id, service)
    assert record_id is not None, "a sync of this pair was already queued"
    runtime = compose(settings, sessions=sessions).runtime
    runtime.chain = False
    return execute(runtime, record_id)
