"""All SQL on ``task_records``: enqueue (idempotent), claim (fenced), finish, sweep, retry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.db.models import TaskRecord, TaskStatus
from secretary.errors import Conflict, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import new_correlation_id
from secretary.worker import registry
from secretary.worker.dispatch import Dispatch, defer


def enqueue(
    session: Session,
    name: str,
    args: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    correlation_id: str | None = None,
    user_id: int | None = None,
    message_id: int | None = None,
    origin_at: datetime | None = None,
    queue: str | None = None,
    delay_seconds: float = 0.0,
) -> int | None:
    """Create the record in the caller's transaction; it is dispatched after commit.

    ``delay_seconds``: run no sooner than this (the dispatch carries the delay, and the
    record counts as dispatched then, so the sweeper does not send it early).
    Returns the new record id, or None when ``dedupe_key`` already exists (a replay).
    """
    definition = registry.get(name)
    # Round-trip now: a non-JSON argument fails here, in the producer, not in a Celery worker.
    clean_args: dict[str, Any] = json.loads(json.dumps(args))
    cid = correlation_id or new_correlation_id()
    q = queue or definition.queue
    stmt = (
        insert(TaskRecord)
        .values(
            name=name,
            dedupe_key=dedupe_key or f"{name}:{new_correlation_id()}",
            queue=q,
            args=clean_args,
            status=TaskStatus.QUEUED,
            stage=definition.stage,
            attempts=0,
            max_attempts=definition.retry.max_attempts,
            correlation_id=cid,
            user_id=user_id,
            message_id=message_id,
            origin_at=origin_at,
            dispatched_at=utcnow() + timedelta(seconds=delay_seconds),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(TaskRecord.id)
    )
    record_id = session.execute(stmt).scalar_one_or_none()
    if record_id is not None:
        defer(
            session,
            Dispatch(
                record_id=record_id,
                name=name,
                queue=q,
                correlation_id=cid,
                delay_seconds=delay_seconds,
            ),
        )
    return record_id


@dataclass(frozen=True)
class Claim:
    record_id: int
    name: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    correlation_id: str
    origin_at: datetime | None
    queue: str


def claim(session: Session, record_id: int, *, lease_seconds: float) -> Claim | None:
    """Take the record for one run, or None if it is done, dead or leased to someone else.

    One conditional UPDATE, so two deliveries of the same message (broker redelivery, the
    sweeper) can never both run it. ``attempts`` doubles as the fencing token.
    """
    now = utcnow()
    stmt = (
        update(TaskRecord)
        .execution_options(synchronize_session=False)  # no ORM objects to keep in step
        .where(
            TaskRecord.id == record_id,
            (TaskRecord.status.in_([TaskStatus.QUEUED, TaskStatus.RETRYING]))
            | ((TaskRecord.status == TaskStatus.RUNNING) & (TaskRecord.lease_until < now)),
        )
        .values(
            status=TaskStatus.RUNNING,
            attempts=TaskRecord.attempts + 1,
            started_at=now,
            lease_until=now + timedelta(seconds=lease_seconds),
            run_after=None,
        )
        .returning(
            TaskRecord.name,
            TaskRecord.args,
            TaskRecord.attempts,
            TaskRecord.max_attempts,
            TaskRecord.correlation_id,
            TaskRecord.origin_at,
            TaskRecord.queue,
        )
    )
    row = session.execute(stmt).one_or_none()
    if row is None:
        return None
    return Claim(record_id, row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def renew_lease(session: Session, record_id: int, *, attempt: int, lease_seconds: float) -> bool:
    """Heartbeat: keep a long run's claim alive; False once another worker took it over."""
    result = session.execute(
        update(TaskRecord)
        .execution_options(synchronize_session=False)  # no ORM objects to keep in step
        .where(
            TaskRecord.id == record_id,
            TaskRecord.status == TaskStatus.RUNNING,
            TaskRecord.attempts == attempt,
        )
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_succeeded(session: Session, record_id: int, *, attempt: int) -> bool:
    """Finish in the task's own transaction; False means the lease was lost (roll back)."""
    result = session.execute(
        update(TaskRecord)
        .execution_options(synchronize_session=False)  # no ORM objects to keep in step
        .where(
            TaskRecord.id == record_id,
            TaskRecord.status == TaskStatus.RUNNING,
            TaskRecord.attempts == attempt,
        )
        .values(
            status=TaskStatus.SUCCEEDED,
            finished_at=utcnow(),
            lease_until=None,
        )  # last_error stays: "succeeded on attempt 3 after <error>" is worth seeing
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(
    session: Session,
    record_id: int,
    *,
    attempt: int,
    error: str,
    traceback_text: str,
    retry_at: datetime | None,
) -> bool:
    """Record the failure: ``retrying`` until ``retry_at``, or ``dead`` when it is None."""
    result = session.execute(
        update(TaskRecord)
        .execution_options(synchronize_session=False)  # no ORM objects to keep in step
        .where(
            TaskRecord.id == record_id,
            TaskRecord.status == TaskStatus.RUNNING,
            TaskRecord.attempts == attempt,
        )
        .values(
            status=TaskStatus.RETRYING if retry_at is not None else TaskStatus.DEAD,
            run_after=retry_at,
            finished_at=None if retry_at is not None else utcnow(),
            lease_until=None,
            last_error=error[:4000],
            last_traceback=traceback_text[-16000:],
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get(session: Session, record_id: int) -> TaskRecord:
    record = session.get(TaskRecord, record_id)
    if record is None:
        raise NotFound(f"task {record_id} not found")
    return record


def list_records(
    session: Session,
    *,
    status: str | None = None,
    name: str | None = None,
    message_id: int | None = None,
    limit: int = 100,
    user_id: int | None = None,
) -> Sequence[TaskRecord]:
    stmt = select(TaskRecord).order_by(TaskRecord.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(TaskRecord.user_id == user_id)
    if status:
        stmt = stmt.where(TaskRecord.status == status)
    if name:
        stmt = stmt.where(TaskRecord.name == name)
    if message_id is not None:
        stmt = stmt.where(TaskRecord.message_id == message_id)
    return session.scalars(stmt).all()


def retry(session: Session, record_id: int, *, queue: str | None = None) -> TaskRecord:
    """Give a dead (or failed) record a fresh set of attempts; dispatched after commit."""
    record = session.get(TaskRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFound(f"task {record_id} not found")
    if record.status not in (TaskStatus.DEAD, TaskStatus.RETRYING):
        raise Conflict(
            f"task {record_id} is {record.status}; only dead or retrying tasks can be retried",
            code="task_not_retryable",
        )
    record.status = TaskStatus.QUEUED
    record.attempts = 0
    record.run_after = None
    record.finished_at = None
    record.dispatched_at = utcnow()
    if queue:
        record.queue = queue
    session.flush()
    defer(
        session,
        Dispatch(record.id, record.name, record.queue, record.correlation_id),
    )
    return record


def requeue(session: Session, record_id: int) -> Dispatch | None:
    """Reset a finished record (reprocess) so it runs again; dispatched after commit."""
    record = session.get(TaskRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFound(f"task {record_id} not found")
    if record.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        return None  # already on its way
    record.status = TaskStatus.QUEUED
    record.attempts = 0
    record.run_after = None
    record.finished_at = None
    record.last_error = None
    record.dispatched_at = utcnow()
    record.queue = "priority"
    session.flush()
    dispatch = Dispatch(record.id, record.name, record.queue, record.correlation_id)
    defer(session, dispatch)
    return dispatch


def sweep_stuck(
    session: Session, *, stuck_after_seconds: float, now: datetime | None = None
) -> tuple[list[Dispatch], int]:
    """Find records that nobody is working on and make them runnable again.

    - ``queued`` and dispatched long ago: the broker message was lost (or never sent);
    - ``running`` past its lease: the worker died (``kill -9``, OOM, host gone);
    - ``retrying`` past ``run_after`` plus the grace: the delayed message was lost.
    A lost run that used the last attempt goes to ``dead`` rather than running again.
    Returns the dispatches to send (after the caller commits) and the number killed.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stuck_after_seconds)
    rows = session.scalars(
        select(TaskRecord)
        .where(
            ((TaskRecord.status == TaskStatus.QUEUED) & (TaskRecord.dispatched_at < cutoff))
            | ((TaskRecord.status == TaskStatus.RUNNING) & (TaskRecord.lease_until < now))
            | ((TaskRecord.status == TaskStatus.RETRYING) & (TaskRecord.run_after < cutoff))
        )
        .order_by(TaskRecord.id)
        .limit(1000)
        .with_for_update(skip_locked=True)
    ).all()
    dispatches: list[Dispatch] = []
    dead = 0
    for record in rows:
        if record.status == TaskStatus.RUNNING and record.attempts >= record.max_attempts:
            record.status = TaskStatus.DEAD
            record.finished_at = now
            record.lease_until = None
            record.last_error = "worker lost during the last attempt (lease expired)"
            dead += 1
            continue
        if record.status == TaskStatus.RUNNING:
            record.status = TaskStatus.QUEUED
            record.lease_until = None
            record.last_error = "worker lost (lease expired); re-dispatched by the sweeper"
        record.dispatched_at = now
        dispatches.append(Dispatch(record.id, record.name, record.queue, record.correlation_id))
    session.flush()
    return dispatches, dead


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(TaskRecord.status, func.count()).group_by(TaskRecord.status)
    ).all()
    return {status: int(count) for status, count in rows}
