from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import AuditLog, TaskRecord, TaskStatus
from secretary.errors import Conflict
from secretary.kit.clock import utcnow
from secretary.worker import repository
from secretary.worker.backends.inline import InlineBackend
from secretary.worker.dispatch import set_backend
from secretary.worker.runner import Outcome, Runtime, execute
from secretary.worker.schedule import sweep
from tests.worker import tasks_for_tests


def _effects(sessions: sessionmaker[Session], key: str) -> int:
    with sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.actor == "test-task", AuditLog.details["key"].astext == key)
            )
            or 0
        )


def _record(sessions: sessionmaker[Session], record_id: int) -> TaskRecord:
    with sessions() as s:
        rec = s.get(TaskRecord, record_id)
        assert rec is not None
        return rec


async def _run(runtime: Runtime, body):  # type: ignore[no-untyped-def]
    backend = InlineBackend(runtime, run_periodic=False)
    await backend.start()
    set_backend(backend)
    try:
        return await body(backend)
    finally:
        set_backend(None)
        await backend.stop()


def test_enqueue_is_idempotent_per_dedupe_key(runtime: Runtime) -> None:
    key = uuid.uuid4().hex
    with runtime.sessions() as s, s.begin():
        first = repository.enqueue(s, "test.record", {"key": key}, dedupe_key=f"test:{key}")
        second = repository.enqueue(s, "test.record", {"key": key}, dedupe_key=f"test:{key}")
    assert first is not None
    assert second is None


def test_arguments_must_survive_json(runtime: Runtime) -> None:
    with runtime.sessions() as s, s.begin(), pytest.raises(TypeError):
        repository.enqueue(s, "test.record", {"key": object()})


def test_dispatch_happens_after_commit_and_never_after_rollback(runtime: Runtime) -> None:
    key, lost = uuid.uuid4().hex, uuid.uuid4().hex

    async def body(backend: InlineBackend) -> tuple[int, int]:
        with runtime.sessions() as s:
            with s.begin():
                rid = repository.enqueue(s, "test.record", {"key": key})
                await asyncio.sleep(0.1)
                # Not committed yet: nothing may have run.
                assert backend.is_idle
            s.begin()
            lost_id = repository.enqueue(s, "test.record", {"key": lost})
            s.rollback()
        await backend.wait_idle(within=10)
        assert rid is not None
        assert lost_id is not None
        return rid, lost_id

    rid, lost_id = asyncio.run(_run(runtime, body))
    assert _record(runtime.sessions, rid).status == TaskStatus.SUCCEEDED
    assert _effects(runtime.sessions, key) == 1
    assert _effects(runtime.sessions, lost) == 0
    with runtime.sessions() as s:
        assert s.get(TaskRecord, lost_id) is None


def test_retries_with_backoff_then_succeeds_with_one_effect(runtime: Runtime) -> None:
    key = uuid.uuid4().hex
    tasks_for_tests.failures_left[key] = 2

    async def body(backend: InlineBackend) -> int:
        with runtime.sessions() as s, s.begin():
            rid = repository.enqueue(s, "test.flaky", {"key": key})
        await backend.wait_idle(within=10)
        assert rid is not None
        return rid

    rid = asyncio.run(_run(runtime, body))
    rec = _record(runtime.sessions, rid)
    assert rec.status == TaskStatus.SUCCEEDED
    assert rec.attempts == 3
    assert _effects(runtime.sessions, key) == 1  # failed attempts rolled their effect back


def test_dead_letter_keeps_error_and_traceback_then_retry_succeeds(runtime: Runtime) -> None:
    key = uuid.uuid4().hex
    tasks_for_tests.failures_left[key] = 99

    async def body(backend: InlineBackend) -> int:
        with runtime.sessions() as s, s.begin():
            rid = repository.enqueue(s, "test.flaky", {"key": key})
        await backend.wait_idle(within=10)
        assert rid is not None
        rec = _record(runtime.sessions, rid)
        assert rec.status == TaskStatus.DEAD
        assert rec.attempts == 3
        assert rec.last_error is not None
        assert "injected failure" in rec.last_error
        assert rec.last_traceback is not None
        assert "RuntimeError" in rec.last_traceback
        assert _effects(runtime.sessions, key) == 0

        # Only dead or retrying records can be retried by hand.
        with runtime.sessions() as s, s.begin():
            other = repository.enqueue(s, "test.record", {"key": key + "x"})
            assert other is not None
            s.execute(
                update(TaskRecord).where(TaskRecord.id == other).values(status=TaskStatus.SUCCEEDED)
            )
            with pytest.raises(Conflict):
                repository.retry(s, other)

        tasks_for_tests.failures_left[key] = 0
        with runtime.sessions() as s, s.begin():
            repository.retry(s, rid)
        await backend.wait_idle(within=10)
        return rid

    rid = asyncio.run(_run(runtime, body))
    rec = _record(runtime.sessions, rid)
    assert rec.status == TaskStatus.SUCCEEDED
    assert rec.attempts == 1
    assert _effects(runtime.sessions, key) == 1


def test_chained_tasks_carry_the_correlation_id(runtime: Runtime) -> None:
    key = uuid.uuid4().hex

    async def body(backend: InlineBackend) -> None:
        with runtime.sessions() as s, s.begin():
            repository.enqueue(
                s,
                "test.chain",
                {"key": key, "remaining": 3},
                dedupe_key=f"test.chain:{key}:3",
                correlation_id="cid-" + key[:8],
            )
        await backend.wait_idle(within=10)

    asyncio.run(_run(runtime, body))
    with runtime.sessions() as s:
        records = s.scalars(
            select(TaskRecord).where(TaskRecord.dedupe_key.like(f"test.chain:{key}:%"))
        ).all()
    assert len(records) == 4
    assert {r.status for r in records} == {TaskStatus.SUCCEEDED}
    assert {r.correlation_id for r in records} == {"cid-" + key[:8]}


def test_duplicate_delivery_runs_once(runtime: Runtime) -> None:
    key = uuid.uuid4().hex
    with runtime.sessions() as s, s.begin():
        rid = repository.enqueue(s, "test.record", {"key": key})
    assert rid is not None
    assert execute(runtime, rid) is Outcome.SUCCEEDED
    assert execute(runtime, rid) is Outcome.SKIPPED
    assert _effects(runtime.sessions, key) == 1


def test_sweeper_recovers_lost_messages_and_dead_workers(runtime: Runtime) -> None:
    lost_key, crashed_key, last_key = (uuid.uuid4().hex for _ in range(3))
    with runtime.sessions() as s, s.begin():
        # No backend installed: these dispatches go nowhere, like a lost broker message.
        lost = repository.enqueue(s, "test.record", {"key": lost_key})
        crashed = repository.enqueue(s, "test.record", {"key": crashed_key})
        last = repository.enqueue(s, "test.record", {"key": last_key})
    assert lost is not None
    assert crashed is not None
    assert last is not None
    past = utcnow() - timedelta(seconds=60)
    with runtime.sessions() as s, s.begin():
        s.execute(update(TaskRecord).where(TaskRecord.id == lost).values(dispatched_at=past))
        # A worker claimed these, then died (kill -9): the lease ran out.
        s.execute(
            update(TaskRecord)
            .where(TaskRecord.id.in_([crashed, last]))
            .values(status=TaskStatus.RUNNING, attempts=1, lease_until=past)
        )
        s.execute(update(TaskRecord).where(TaskRecord.id == last).values(attempts=3))

    async def body(backend: InlineBackend) -> dict[str, int]:
        result = await asyncio.to_thread(sweep, runtime)
        await backend.wait_idle(within=10)
        return result  # type: ignore[no-any-return]

    result = asyncio.run(_run(runtime, body))
    assert result["redispatched"] >= 2
    assert result["dead"] >= 1
    assert _record(runtime.sessions, lost).status == TaskStatus.SUCCEEDED
    assert _record(runtime.sessions, crashed).status == TaskStatus.SUCCEEDED
    assert _record(runtime.sessions, crashed).attempts == 2
    assert _record(runtime.sessions, last).status == TaskStatus.DEAD
    assert _effects(runtime.sessions, lost_key) == 1
    assert _effects(runtime.sessions, crashed_key) == 1
    assert _effects(runtime.sessions, last_key) == 0


def test_heartbeat_keeps_a_slow_run_from_being_swept(runtime: Runtime) -> None:
    key = uuid.uuid4().hex
    worker = runtime.settings.worker.model_copy(
        update={"lease_seconds": 0.3, "stuck_after_seconds": 0.1}
    )
    slow_runtime = Runtime(
        settings=runtime.settings.model_copy(update={"worker": worker}), sessions=runtime.sessions
    )
    with runtime.sessions() as s, s.begin():
        rid = repository.enqueue(s, "test.slow", {"key": key, "seconds": 1.0})
    assert rid is not None

    async def body(backend: InlineBackend) -> None:
        run = asyncio.create_task(asyncio.to_thread(execute, slow_runtime, rid))
        for _ in range(8):  # sweep repeatedly while it runs, well past the lease
            await asyncio.sleep(0.15)
            await asyncio.to_thread(sweep, slow_runtime)
        assert await run is Outcome.SUCCEEDED

    asyncio.run(_run(slow_runtime, body))
    rec = _record(runtime.sessions, rid)
    assert rec.status == TaskStatus.SUCCEEDED
    assert rec.attempts == 1
    assert _effects(runtime.sessions, key) == 1
