"""Durability of the task system under ``kill -9``, in both runtimes, and Celery on Redis
and on RabbitMQ with two worker processes (acceptance 2 and 3, at test size; the
1,000-message run is ``bench/pipeline.py --kill``).

Each task writes its effect in the same transaction that marks it succeeded, so "exactly
once" is a row count, and "nothing stuck" is every record succeeded.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AuditLog, TaskStatus
from secretary.worker.backends.celery import create_celery_app
from secretary.worker.dispatch import set_backend
from secretary.worker.task import QUEUES
from tests.worker import processes, tasks_for_tests

# Fail on a stall, not on slowness: the longest a healthy run may go without any record
# changing state (a worker's cold start on a loaded 2-core machine included).
STALL_SECONDS = 90.0

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


@pytest.fixture
def durable_settings(settings: Settings) -> Settings:
    worker = settings.worker.model_copy(
        update={
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.2,
            "lease_seconds": 2.0,
            "stuck_after_seconds": 1.0,
            "sweep_interval_seconds": 0.5,
        }
    )
    return settings.model_copy(update={"worker": worker})


def _assert_exactly_once(sessions: sessionmaker[Session], tag: str, n: int) -> None:
    with sessions() as s:
        keys = s.scalars(
            select(AuditLog.details["key"].astext).where(
                AuditLog.details["key"].astext.like(f"{tag}:%")
            )
        ).all()
    counts = Counter(keys)
    assert len(counts) == n, f"missing effects: {n - len(counts)}"
    assert set(counts.values()) == {1}, "an effect ran twice"
    assert tasks_for_tests.slow_progress(sessions, tag) == {TaskStatus.SUCCEEDED: n}


def _kill_while_flowing(
    proc_factory,
    sessions: sessionmaker[Session],
    tag: str,
    n: int,
    *,
    kills: int,
    rng: random.Random,
):  # type: ignore[no-untyped-def]
    proc = proc_factory()
    try:
        for _ in range(kills):
            # Kill while work flows: once a few records are done (a cold start on a loaded
            # machine can take a while; only a stall fails).
            started, state = processes.wait_for_progress(
                lambda: tasks_for_tests.slow_progress(sessions, tag),
                lambda p: p.get(TaskStatus.SUCCEEDED, 0) >= 5,
                stall_seconds=STALL_SECONDS,
            )
            assert started, f"no progress for {STALL_SECONDS}s: {state}"
            processes.wait_for(lambda: False, rng.uniform(0.2, 0.8))
            victims = processes.children(proc)
            if victims and rng.random() < 0.5:
                processes.kill9(rng.choice(victims))  # one pool process
            else:
                processes.kill_tree(proc)  # the whole worker
                proc = proc_factory()
        done, state = processes.wait_for_progress(
            lambda: tasks_for_tests.slow_progress(sessions, tag),
            lambda p: p.get(TaskStatus.SUCCEEDED, 0) == n,
            stall_seconds=STALL_SECONDS,
        )
        assert done, f"stuck (no progress for {STALL_SECONDS}s): {state}"
    finally:
        processes.kill_tree(proc)


@pytest.mark.slow
@pytest.mark.timeout(STALL_SECONDS * 8)  # bounded by stalls, not by the machine's load
def test_inline_runtime_survives_kill_9(
    durable_settings: Settings, sessions: sessionmaker[Session], batch: str
) -> None:
    n = 80
    tasks_for_tests.enqueue_slow(
        sessions, batch, n, seconds=0.02
    )  # no backend here: the worker's startup sweep picks them up
    env = processes.worker_env(durable_settings)
    _kill_while_flowing(
        lambda: processes.start_worker("inline", env, concurrency=4),
        sessions,
        batch,
        n,
        kills=2,
        rng=random.Random(1),
    )
    _assert_exactly_once(sessions, batch, n)


@pytest.mark.slow
@pytest.mark.timeout(STALL_SECONDS * 8)  # bounded by stalls, not by the machine's load
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_celery_two_slots_survive_kill_9(
    broker: str,
    pool: str,
    durable_settings: Settings,
    sessions: sessionmaker[Session],
    batch: str,
) -> None:
    """Two slots: two pool processes (prefork) or two threads beside the embedded beat's
    process (threads, the default); a kill takes a pool process or the whole worker."""
    n = 80
    prefix = f"t{batch}."
    settings = durable_settings.model_copy(
        update={
            "worker": durable_settings.worker.model_copy(
                update={"broker_url": BROKERS[broker], "queue_prefix": prefix}
            )
        }
    )
    app = create_celery_app(settings)
    set_backend(app.conf.secretary_backend)
    try:
        tasks_for_tests.enqueue_slow(sessions, batch, n, seconds=0.02)
        env = processes.worker_env(settings, broker=BROKERS[broker], prefix=prefix)
        _kill_while_flowing(
            lambda: processes.start_worker("celery", env, concurrency=2, pool=pool),
            sessions,
            batch,
            n,
            kills=2,
            rng=random.Random(2),
        )
    finally:
        set_backend(None)
        with app.connection_for_write() as conn:
            for q in QUEUES:
                with contextlib.suppress(Exception):
                    conn.default_channel.queue_delete(prefix + q)
    _assert_exactly_once(sessions, batch, n)
