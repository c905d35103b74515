"""Tasks used by the worker tests. Their effect is an ``audit_log`` row, so "exactly once"
is a row count in the same transaction as the task's success mark."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import AuditLog, TaskRecord
from secretary.worker import repository
from secretary.worker.task import RetryPolicy, TaskContext, task

failures_left: dict[str, int] = {}
_lock = threading.Lock()


def _effect(ctx: TaskContext, key: str) -> None:
    ctx.session.add(
        AuditLog(actor="test-task", action="ran", details={"key": key, "attempt": ctx.attempt})
    )


@task("test.record", retry=RetryPolicy(max_attempts=3))
def record(ctx: TaskContext, *, key: str) -> None:
    _effect(ctx, key)


@task("test.flaky", retry=RetryPolicy(max_attempts=3))
def flaky(ctx: TaskContext, *, key: str) -> None:
    # The effect is written before the failure: the rollback must discard it.
    _effect(ctx, key)
    with _lock:
        left = failures_left.get(key, 0)
        if left > 0:
            failures_left[key] = left - 1
            raise RuntimeError(f"injected failure ({left} left)")


@task("test.chain", retry=RetryPolicy(max_attempts=2))
def chain(ctx: TaskContext, *, key: str, remaining: int) -> None:
    from secretary.worker import repository

    _effect(ctx, f"{key}:{remaining}")
    if remaining > 0:
        repository.enqueue(
            ctx.session,
            "test.chain",
            {"key": key, "remaining": remaining - 1},
            dedupe_key=f"test.chain:{key}:{remaining - 1}",
            correlation_id=ctx.correlation_id,
        )


@task("test.slow", retry=RetryPolicy(max_attempts=5))
def slow(ctx: TaskContext, *, key: str, seconds: float = 0.05) -> None:
    import time

    _effect(ctx, key)
    time.sleep(seconds)  # a window for kill -9 to land inside the transaction


def enqueue_slow(sessions: sessionmaker[Session], tag: str, n: int, *, seconds: float) -> None:
    """``n`` ``test.slow`` records keyed ``tag:0`` .. ``tag:n-1``, committed."""
    with sessions.begin() as s:
        for i in range(n):
            repository.enqueue(
                s,
                "test.slow",
                {"key": f"{tag}:{i}", "seconds": seconds},
                dedupe_key=f"test.slow:{tag}:{i}",
            )


def slow_progress(sessions: sessionmaker[Session], tag: str) -> dict[str, int]:
    """How many of ``tag``'s ``test.slow`` records are in each status."""
    with sessions() as s:
        rows = s.execute(
            select(TaskRecord.status, func.count())
            .where(TaskRecord.dedupe_key.like(f"test.slow:{tag}:%"))
            .group_by(TaskRecord.status)
        ).all()
    return {str(k): int(v) for k, v in rows}
