"""Run one task record: claim, call the task in one transaction, then succeed or fail.

Both runtimes call ``execute``; only how the record id arrives differs. The task's writes
and its ``succeeded`` mark commit together, so a crash anywhere leaves either nothing or
the whole stage. External effects (Gmail) are made idempotent by the tasks themselves.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.session import unit_of_work
from secretary.kit.clock import utcnow
from secretary.kit.logging import correlation, get_logger
from secretary.worker import metrics, registry, repository
from secretary.worker.dispatch import Dispatch, send_now, take_immediate
from secretary.worker.task import TaskContext

if TYPE_CHECKING:
    from secretary.bootstrap import Components

log = get_logger(__name__)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    DEAD = "dead"
    SKIPPED = "skipped"  # already done, or leased to another worker
    LEASE_LOST = "lease_lost"


class LeaseLost(Exception):
    """Another worker took the record over while this one was still running it."""


def _no_components() -> Components:
    from secretary.bootstrap import Components

    return Components()


@dataclass
class Runtime:
    """What a worker process composes once (``bootstrap.compose``): settings, sessions and
    the components tasks receive as ``ctx.deps``."""

    settings: Settings
    sessions: sessionmaker[Session]
    deps: Components = field(default_factory=_no_components)
    chain: bool = True  # run a task's immediate follow-ups on the same worker (see execute)


MAX_CHAIN = 8


def execute(runtime: Runtime, record_id: int) -> Outcome:
    """Run the record, then (``runtime.chain``) the follow-ups it enqueued, on this worker.

    A message's stages are a chain of records; running the next one here saves a queue
    round trip per stage (the push-to-draft latency goal). The follow-up records commit
    with the task that created them, so if this process dies before running them they are
    ``queued`` in Postgres and the sweeper dispatches them: slower, never lost. The claim
    still guards against running one twice.

    The first follow-up is claimed in the finishing task's own transaction, which saves a
    transaction (a WAL flush and a connection checkout) per chained stage (issue #14). If
    the process dies after that commit, the record is ``running`` under a lease nobody
    renews, exactly as if it had died during the run: the sweeper takes it back.
    """
    outcome, follow_ups = _execute_one(runtime, record_id, None, preclaim=runtime.chain)
    depth = 0
    while runtime.chain and follow_ups and depth < MAX_CHAIN:
        depth += 1
        next_ups: list[_FollowUp] = []
        for dispatch, claimed in follow_ups:
            _outcome, more = _execute_one(
                runtime, dispatch.record_id, claimed, preclaim=depth < MAX_CHAIN
            )
            next_ups.extend(more)
        follow_ups = next_ups
    for dispatch, _claimed in follow_ups:  # chain too long: hand the rest to the queue
        send_now(dispatch)  # never pre-claimed: the last level runs with preclaim=False
    return outcome


@contextmanager
def _heartbeat(runtime: Runtime, record_id: int, attempt: int) -> Iterator[None]:
    """Renew the lease every third of it while the task runs.

    The lease can then be short, so a killed worker's records come back quickly, without
    a slow run (an LLM call on a busy machine) being mistaken for a dead one.
    """
    lease = runtime.settings.worker.lease_seconds
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease / 3):
            try:
                with unit_of_work(runtime.sessions) as session:
                    if not repository.renew_lease(
                        session, record_id, attempt=attempt, lease_seconds=lease
                    ):
                        return
            except Exception:
                log.warning("lease_renewal_failed", exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease-{record_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


# A follow-up record to run next, and its claim when it was claimed in advance.
_FollowUp = tuple[Dispatch, "repository.Claim | None"]


def _execute_one(
    runtime: Runtime, record_id: int, claimed: repository.Claim | None, *, preclaim: bool
) -> tuple[Outcome, list[_FollowUp]]:
    cpu_started = time.thread_time()
    if claimed is None:
        with unit_of_work(runtime.sessions) as session:
            claimed = repository.claim(
                session, record_id, lease_seconds=runtime.settings.worker.lease_seconds
            )
        if claimed is None:
            return Outcome.SKIPPED, []
    result = _run_claimed(runtime, record_id, claimed, preclaim=preclaim)
    metrics.STAGE_CPU_SECONDS.labels(claimed.name).inc(time.thread_time() - cpu_started)
    return result


def _run_claimed(
    runtime: Runtime, record_id: int, claimed: repository.Claim, *, preclaim: bool
) -> tuple[Outcome, list[_FollowUp]]:
    definition = registry.get(claimed.name)
    follow_ups: list[_FollowUp] = []
    with correlation(claimed.correlation_id, task=claimed.name, task_id=record_id):
        started = time.perf_counter()
        try:
            with (
                _heartbeat(runtime, record_id, claimed.attempt),
                unit_of_work(runtime.sessions) as session,
            ):
                ctx = TaskContext(
                    session=session,
                    settings=runtime.settings,
                    record_id=record_id,
                    attempt=claimed.attempt,
                    correlation_id=claimed.correlation_id,
                    origin_at=claimed.origin_at,
                    deps=runtime.deps,
                    sessions=runtime.sessions,
                )
                definition.fn(ctx, **claimed.args)
                if not repository.mark_succeeded(session, record_id, attempt=claimed.attempt):
                    raise LeaseLost(record_id)
                if runtime.chain:
                    follow_ups = [(d, None) for d in take_immediate(session)]
                if preclaim and follow_ups:
                    first = follow_ups[0][0]
                    follow_ups[0] = (
                        first,
                        repository.claim(
                            session,
                            first.record_id,
                            lease_seconds=runtime.settings.worker.lease_seconds,
                        ),
                    )
        except LeaseLost:
            log.warning("task_lease_lost", attempt=claimed.attempt)
            metrics.STAGE_SECONDS.labels(claimed.name, "lease_lost").observe(
                time.perf_counter() - started
            )
            return Outcome.LEASE_LOST, []
        except Exception as exc:
            elapsed = time.perf_counter() - started
            return _fail(runtime, claimed, exc, elapsed), []
        elapsed = time.perf_counter() - started
        metrics.STAGE_SECONDS.labels(claimed.name, "succeeded").observe(elapsed)
        log.info("task_succeeded", attempt=claimed.attempt, seconds=round(elapsed, 4))
        return Outcome.SUCCEEDED, follow_ups


def _fail(runtime: Runtime, claimed: repository.Claim, exc: Exception, elapsed: float) -> Outcome:
    definition = registry.get(claimed.name)
    reason = getattr(exc, "code", None) or type(exc).__name__
    error = f"{type(exc).__name__}: {exc}"
    tb = traceback.format_exc()
    will_retry = claimed.attempt < claimed.max_attempts
    retry_at = None
    delay = 0.0
    if will_retry:
        delay = definition.retry.delay_for(claimed.attempt, settings=runtime.settings)
        # An error may say when to come back (a 429's Retry-After): never sooner.
        hint = getattr(exc, "retry_after_seconds", None)
        if isinstance(hint, int | float) and hint > delay:
            delay = float(hint)
        retry_at = utcnow() + timedelta(seconds=delay)
    with unit_of_work(runtime.sessions) as session:
        recorded = repository.mark_failed(
            session,
            claimed.record_id,
            attempt=claimed.attempt,
            error=error,
            traceback_text=tb,
            retry_at=retry_at,
        )
    if not recorded:
        return Outcome.LEASE_LOST
    if will_retry:
        metrics.STAGE_SECONDS.labels(claimed.name, "retrying").observe(elapsed)
        metrics.TASK_RETRIES.labels(claimed.name, str(reason)).inc()
        log.warning(
            "task_retrying",
            attempt=claimed.attempt,
            max_attempts=claimed.max_attempts,
            delay_seconds=round(delay, 3),
            reason=str(reason),
        )
        send_now(
            Dispatch(
                claimed.record_id,
                claimed.name,
                claimed.queue,
                claimed.correlation_id,
                delay_seconds=delay,
            )
        )
        return Outcome.RETRYING
    metrics.STAGE_SECONDS.labels(claimed.name, "dead").observe(elapsed)
    metrics.TASK_DEAD.labels(claimed.name).inc()
    log.error("task_dead", attempt=claimed.attempt, reason=str(reason))
    return Outcome.DEAD
