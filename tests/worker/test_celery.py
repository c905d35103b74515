"""The Celery worker's defaults and its threads pool (issue #14): as many slots as the
in-process runtime, a pool that takes the next task as soon as one finishes, and enough
database connections per slot that no run opens a new one."""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import statistics
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app as root_app
from secretary.config import Settings
from secretary.db.models import TaskRecord, TaskStatus
from secretary.worker.backends.celery import (
    THREADS_POOL,
    CeleryBackend,
    WakingThreadPool,
    connection_pool_size,
    create_celery_app,
)
from secretary.worker.dispatch import set_backend
from secretary.worker.task import QUEUES
from tests.worker import processes, tasks_for_tests

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def started_worker(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Any]:
    """Run ``secretary worker --runtime celery`` up to the point Celery would start, and
    return what it would have started: ``(app, argv)``."""
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    started: list[tuple[Celery, list[str]]] = []
    monkeypatch.setattr(Celery, "worker_main", lambda app, argv: started.append((app, argv)))

    def start(*args: str) -> tuple[Celery, list[str]]:
        result = CliRunner().invoke(root_app, ["worker", "--runtime", "celery", *args])
        assert result.exit_code == 0, result.output
        return started[-1]

    yield start
    set_backend(None)
    ctx.close()


def test_a_celery_worker_runs_twice_the_inprocess_slots_in_one_threads_pool(
    started_worker: Any, settings: Settings
) -> None:
    app, argv = started_worker()
    assert settings.worker.concurrency == 4
    assert "--concurrency=8" in argv
    # Celery takes a pool class from its configuration only when --pool is left out.
    assert not [a for a in argv if a.startswith("--pool")]
    assert app.conf.worker_pool == THREADS_POOL


def test_prefork_and_an_explicit_slot_count_are_still_offered(started_worker: Any) -> None:
    app, argv = started_worker("--pool", "prefork", "--concurrency", "3")
    assert "--pool=prefork" in argv
    assert "--concurrency=3" in argv
    assert app.conf.worker_pool != THREADS_POOL


def test_prefork_has_the_inprocess_slots_by_default(
    started_worker: Any, settings: Settings
) -> None:
    _app, argv = started_worker("--pool", "prefork")
    assert f"--concurrency={settings.worker.concurrency}" in argv


def test_a_process_keeps_the_connections_its_slots_use_at_once() -> None:
    # A slot holds its task's transaction and the lease heartbeat's, and in an index pass
    # the indexer's lock connection and its own sessions: four. Fewer, and each pass
    # opened and closed a Postgres backend (issue #14).
    assert connection_pool_size("prefork", 8) >= 4
    assert connection_pool_size("threads", 4) >= 2 * 4 + 2


def test_a_periodic_job_sends_its_dispatches_through_the_broker(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    """In a threads worker the sweep or the poll can be the first thing to run: its
    dispatches went nowhere and waited for the next sweep (60 s by default)."""
    from secretary.worker.dispatch import get_backend
    from secretary.worker.runner import Runtime

    def compose(s: Settings) -> Any:
        return SimpleNamespace(runtime=Runtime(s, sessions))

    app = create_celery_app(settings, composer=compose)
    set_backend(None)
    try:
        app.tasks["worker.sweep"]()
        # (Celery shares tasks between the apps of one process: an earlier test's app
        # may be the one whose job ran, so this checks the kind of backend.)
        assert isinstance(get_backend(), CeleryBackend)
    finally:
        set_backend(None)


def _wake_readable(pool: WakingThreadPool, timeout: float) -> bool:
    readable, _, _ = select.select([pool._wake_read], [], [], timeout)
    return bool(readable)


class _Hub:
    def __init__(self) -> None:
        self.readers: dict[int, Any] = {}

    def add_reader(self, fd: int, callback: Any) -> None:
        self.readers[fd] = callback


def test_the_threads_pool_wakes_the_event_loop_after_each_acknowledgement() -> None:
    pool = WakingThreadPool(limit=2)
    hub = _Hub()
    pool.register_with_event_loop(hub)
    assert list(hub.readers) == [pool._wake_read]
    order: list[str] = []
    try:
        for n in range(2):

            def acknowledge(result: Any, n: int = n) -> None:
                # The wake-up must come after this: woken before the ack, the loop finds
                # the prefetch slot still taken and sleeps again.
                assert not _wake_readable(pool, 0)
                order.append(f"ack {n}: {result}")

            pool.on_apply(lambda n=n: n * 10, args=(), callback=acknowledge).wait(10)
            assert _wake_readable(pool, 10)
            hub.readers[pool._wake_read]()  # the loop drains the pipe
            assert not _wake_readable(pool, 0)
    finally:
        pool.on_stop()
    assert order == ["ack 0: 0", "ack 1: 10"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_threads_worker_starts_the_next_task_as_soon_as_a_slot_frees(
    settings: Settings, sessions: sessionmaker[Session], batch: str, tmp_path: Path
) -> None:
    """One slot, so each task waits for the one before: with Celery's own threads pool on
    Redis each waited about 2 s for the event loop's next timer (celery/celery#6941)."""
    n, tag = 8, batch
    prefix = f"t{tag}."
    worker = settings.worker.model_copy(update={"broker_url": REDIS, "queue_prefix": prefix})
    settings = settings.model_copy(update={"worker": worker})
    app = create_celery_app(settings)
    set_backend(app.conf.secretary_backend)
    env = processes.worker_env(settings, broker=REDIS, prefix=prefix)
    proc = processes.start_worker(
        "celery", env, concurrency=1, pool="threads", log=tmp_path / "worker.log"
    )
    try:
        tasks_for_tests.enqueue_slow(sessions, tag, n, seconds=0.01)
        done, state = processes.wait_for_progress(
            lambda: tasks_for_tests.slow_progress(sessions, tag).get(TaskStatus.SUCCEEDED, 0),
            lambda count: count == n,
            stall_seconds=90,
        )
        assert done, f"stalled at {state} of {n}"
    finally:
        processes.kill_tree(proc)
        set_backend(None)
        with app.connection_for_write() as conn:
            for q in QUEUES:
                with contextlib.suppress(Exception):
                    conn.default_channel.queue_delete(prefix + q)
    with sessions() as s:
        runs = s.execute(
            sql_select(TaskRecord.started_at, TaskRecord.finished_at)
            .where(TaskRecord.dedupe_key.like(f"test.slow:{tag}:%"))
            .order_by(TaskRecord.started_at)
        ).all()
    gaps = [
        (later.started_at - earlier.finished_at).total_seconds()
        for earlier, later in itertools.pairwise(runs)
    ]
    # The first tasks may still wait for the model's warm-up; the median is the pool's.
    assert statistics.median(gaps) < 0.5, gaps


def test_the_wake_pipe_does_not_block_when_nobody_reads_it() -> None:
    pool = WakingThreadPool(limit=1)
    try:
        for _ in range(100_000):  # far beyond a pipe's buffer
            pool.wake_up()
        assert _wake_readable(pool, 0)
    finally:
        pool.on_stop()
    with pytest.raises(OSError):
        os.fstat(pool._wake_read)
