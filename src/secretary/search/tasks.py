"""The index stage: ``search.index`` after each sync batch, and a periodic catch-up pass.

The stage is idempotent (a pass indexes whatever changed, whoever triggered it), so its
records dedupe per batch and a replay costs one cheap query. Label changes and deletions
reach the store without a "messages stored" event; the periodic ``search.index_all`` pass
picks them up (and anything a crashed pass left), every ``search.index_interval_seconds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import Message
from secretary.kit.logging import get_logger
from secretary.search import repository as repo
from secretary.search.indexer import Indexer
from secretary.worker import repository as tasks_repo
from secretary.worker.runner import Runtime
from secretary.worker.schedule import periodic
from secretary.worker.task import RetryPolicy, TaskContext, task

log = get_logger(__name__)

INDEX_TASK = "search.index"


def _indexer(engine: Engine, home: Path) -> Indexer:
    return Indexer(engine, sessionmaker(engine, expire_on_commit=False), home)


def enqueue_index(
    session: Session, account_id: int, message_ids: Sequence[int], *, settings: Settings
) -> int | None:
    """The stage's starter: one record per stored batch (keyed by its newest message)."""
    if not message_ids:
        return None
    newest = max(message_ids)
    message = session.get(Message, newest)
    return tasks_repo.enqueue(
        session,
        INDEX_TASK,
        {"message_id": newest},
        dedupe_key=f"{INDEX_TASK}:{newest}",
        user_id=message.user_id if message else None,
        message_id=newest,
        queue="batch",
    )


@task(INDEX_TASK, retry=RetryPolicy(max_attempts=8), queue="batch", stage="index")
def index(ctx: TaskContext, *, message_id: int) -> None:
    """Run the index pass for the user whose batch ended at ``message_id``.

    Locked out means another process is indexing this user: its look after unlocking
    picks this batch up (``Indexer.run``), so there is nothing to retry."""
    message = ctx.session.get(Message, message_id)
    if message is None:
        return  # deleted since: the periodic pass will drop it from the index
    report = _indexer(ctx.session.get_bind().engine, ctx.settings.home_path).run(
        message.user_id, vectors=ctx.settings.search.vectors
    )
    if report.locked_out:
        log.info("search_index_coalesced", task_id=ctx.record_id)


@periodic("search.index_all", every=lambda s: s.search.index_interval_seconds)
def index_all(runtime: Runtime) -> dict[str, int]:
    """A pass for every user: label changes, deletions, anything a crash left behind."""
    sessions = runtime.sessions
    with sessions() as session:
        users = repo.users_with_items(session)
        engine = session.get_bind().engine
    indexer = _indexer(engine, runtime.settings.home_path)
    totals = {"users": 0, "indexed": 0, "deleted": 0, "embedded_items": 0}
    for user_id in users:
        report = indexer.run(user_id, vectors=runtime.settings.search.vectors)
        totals["users"] += 1
        totals["indexed"] += report.indexed
        totals["deleted"] += report.deleted
        totals["embedded_items"] += report.embedded_items
    return totals
