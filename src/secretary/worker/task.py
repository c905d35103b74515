"""Declaring tasks: ``@task("triage.classify", retry=RetryPolicy(max_attempts=5))``.

A task is a plain function ``fn(ctx, **args)``. ``args`` are JSON values (ids, strings),
because the same function runs behind a Celery broker; ``ctx`` carries the session of the
task's one transaction, the settings and the process-wide dependencies.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings

if TYPE_CHECKING:
    from secretary.bootstrap import Components

QUEUES = ("default", "priority", "batch", "sync")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``max_attempts`` counts the first run."""

    max_attempts: int = 5
    base_seconds: float | None = None  # None = Settings.worker.retry_base_seconds
    max_seconds: float | None = None

    def delay_for(self, attempt: int, *, settings: Settings) -> float:
        base = (
            self.base_seconds
            if self.base_seconds is not None
            else settings.worker.retry_base_seconds
        )
        cap = (
            self.max_seconds if self.max_seconds is not None else settings.worker.retry_max_seconds
        )
        # "Equal jitter": half fixed, half random, so retries of a burst spread out but a
        # later attempt never comes sooner than half its nominal delay.
        nominal = min(cap, base * 2.0 ** max(0, attempt - 1))
        jitter = random.uniform(0, nominal / 2)  # noqa: S311 (jitter, not crypto)
        return nominal / 2 + jitter


@dataclass
class TaskContext:
    session: Session
    settings: Settings
    record_id: int
    attempt: int
    correlation_id: str
    origin_at: datetime | None
    deps: Components
    sessions: sessionmaker[Session]  # for tasks that commit in steps (a sync's batches)


# ``fn(ctx, **json_args)``; the keyword arguments are each task's own, so ``...``.
TaskFn = Callable[..., None]
F = TypeVar("F", bound=TaskFn)


@dataclass(frozen=True)
class TaskDef:
    name: str
    fn: TaskFn
    retry: RetryPolicy
    queue: str
    stage: str


def task(
    name: str,
    *,
    retry: RetryPolicy | None = None,
    queue: str = "default",
    stage: str | None = None,
) -> Callable[[F], F]:
    """Register ``fn`` under the stable dotted ``name`` (what records and brokers store)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn: F) -> F:
        from secretary.worker.registry import register

        register(
            TaskDef(
                name=name,
                fn=fn,
                retry=retry or RetryPolicy(),
                queue=queue,
                stage=stage or name.rsplit(".", 1)[-1],
            )
        )
        return fn

    return decorate
