"""Periodic jobs, declared beside the code they run: ``@periodic("worker.sweep", every=...)``.

Periodic jobs are not task records: the sweeper is what makes records durable, so it must
not depend on them. The inline runtime runs them on its event loop; Celery runs them from
beat (``secretary worker --beat``) as plain Celery tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from secretary.config import Settings
from secretary.db.session import unit_of_work
from secretary.kit.logging import get_logger
from secretary.worker import metrics, repository
from secretary.worker.dispatch import send_now
from secretary.worker.runner import Runtime

log = get_logger(__name__)

PeriodicFn = Callable[[Runtime], object]
_F = TypeVar("_F", bound=Callable[..., object])


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    fn: PeriodicFn
    every: Callable[[Settings], float]  # seconds, read from settings at boot


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: Callable[[Settings], float]) -> Callable[[_F], _F]:
    def decorate(fn: _F) -> _F:
        _jobs[name] = PeriodicJob(name=name, fn=fn, every=every)
        return fn

    return decorate


def all_jobs() -> dict[str, PeriodicJob]:
    return dict(_jobs)


@periodic("worker.sweep", every=lambda s: s.worker.sweep_interval_seconds)
def sweep(runtime: Runtime, *, resuming: bool = False) -> dict[str, int]:
    """Re-dispatch stuck records and refresh the queue-depth gauge.

    ``resuming``: the process is starting and picks up work queued while no worker ran;
    that is expected, so it is logged at info rather than as a stuck-work warning.
    """
    with unit_of_work(runtime.sessions) as session:
        dispatches, dead = repository.sweep_stuck(
            session, stuck_after_seconds=runtime.settings.worker.stuck_after_seconds
        )
        counts = repository.counts_by_status(session)
    for dispatch in dispatches:
        send_now(dispatch)
    for status in ("queued", "running", "retrying", "succeeded", "dead"):
        metrics.QUEUE_DEPTH.labels(status).set(counts.get(status, 0))
    if dispatches:
        metrics.SWEPT.labels("redispatched").inc(len(dispatches))
    if dead:
        metrics.SWEPT.labels("dead").inc(dead)
    if resuming and dispatches and not dead:
        log.info("worker_resumed_queued_work", redispatched=len(dispatches))
    elif dispatches or dead:
        log.warning("sweeper_found_stuck", redispatched=len(dispatches), dead=dead)
    return {"redispatched": len(dispatches), "dead": dead}
