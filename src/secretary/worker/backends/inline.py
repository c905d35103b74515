"""In-process runtime: asyncio workers inside ``secretary serve`` (or ``secretary worker
--runtime inline``), with configurable concurrency.

Every dispatch is serialised to JSON and parsed back before it runs, exactly as a broker
would, so a Celery-only failure (a non-JSON argument) shows up in the inline tests too.
Task functions are synchronous (SQLAlchemy, the Google client), so each worker hands its
run to a thread pool sized to the concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from concurrent.futures import ThreadPoolExecutor

from secretary.kit.logging import get_logger
from secretary.worker import registry
from secretary.worker.dispatch import Dispatch
from secretary.worker.runner import Runtime, execute
from secretary.worker.schedule import all_jobs

log = get_logger(__name__)

_PRIORITY = {"priority": 0, "default": 1, "sync": 1, "batch": 2}


class InlineBackend:
    def __init__(
        self, runtime: Runtime, *, concurrency: int | None = None, run_periodic: bool = True
    ) -> None:
        self.runtime = runtime
        self.concurrency = concurrency or runtime.settings.worker.concurrency
        self.run_periodic = run_periodic
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.PriorityQueue[tuple[int, int, str]] | None = None
        self._seq = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._inflight = 0
        self._delayed: set[asyncio.TimerHandle] = set()

    async def start(self) -> None:
        registry.load_all()
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.PriorityQueue()
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="secretary-task"
        )
        self._tasks = [
            asyncio.create_task(self._work(), name=f"secretary-worker-{i}")
            for i in range(self.concurrency)
        ]
        if self.run_periodic:
            for job in all_jobs().values():
                self._tasks.append(asyncio.create_task(self._periodic(job.name), name=job.name))
        log.info("inline_worker_started", concurrency=self.concurrency)

    def send(self, dispatch: Dispatch) -> None:
        """Thread-safe: called from after-commit hooks in request or task threads."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not running: the record stays queued and the sweeper sends it later
        raw = dispatch.to_json()
        loop.call_soon_threadsafe(self._accept, raw, dispatch.delay_seconds, dispatch.queue)

    def _accept(self, raw: str, delay: float, queue: str) -> None:
        if delay > 0 and self._loop is not None:
            handle: asyncio.TimerHandle | None = None

            def fire() -> None:
                if handle is not None:
                    self._delayed.discard(handle)
                self._put(raw, queue)

            handle = self._loop.call_later(delay, fire)
            self._delayed.add(handle)
        else:
            self._put(raw, queue)

    def _put(self, raw: str, queue: str) -> None:
        assert self._queue is not None
        self._queue.put_nowait((_PRIORITY.get(queue, 1), next(self._seq), raw))

    async def _work(self) -> None:
        assert self._queue is not None
        assert self._loop is not None
        while True:
            _prio, _seq, raw = await self._queue.get()
            self._inflight += 1
            try:
                dispatch = Dispatch.from_json(raw)
                await self._loop.run_in_executor(
                    self._executor, execute, self.runtime, dispatch.record_id
                )
            except Exception:
                # execute() records task failures itself; reaching here means the database
                # was unreachable. The record keeps its state and the sweeper retries it.
                log.exception("inline_execute_crashed")
            finally:
                self._inflight -= 1
                self._queue.task_done()

    async def _periodic(self, name: str) -> None:
        job = all_jobs()[name]
        interval = job.every(self.runtime.settings)
        assert self._loop is not None
        while True:
            try:
                await self._loop.run_in_executor(self._executor, job.fn, self.runtime)
            except Exception:
                log.exception("periodic_job_failed", job=name)
            await asyncio.sleep(interval)

    @property
    def is_idle(self) -> bool:
        return (
            self._queue is not None
            and self._queue.empty()
            and self._inflight == 0
            and not self._delayed
        )

    async def wait_idle(self, *, within: float = 30.0, settle: float = 0.05) -> None:
        """Return once nothing is queued, running or waiting to retry (tests, benchmarks)."""
        async with asyncio.timeout(within):
            while True:
                if self.is_idle:
                    await asyncio.sleep(settle)  # a just-committed follow-up may be in flight
                    if self.is_idle:
                        return
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._loop = None
        log.info("inline_worker_stopped")
