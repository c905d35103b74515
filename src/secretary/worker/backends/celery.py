"""Distributed runtime: the same task functions behind a Celery broker (Redis or RabbitMQ).

Durability comes from the task records, not from Celery: a message only carries a record
id, the worker claims the record before running it, and the sweeper re-sends anything a
lost message or a dead worker left behind. Celery's part is delivery, configured so that a
message is acknowledged only after the run (``acks_late``), handed back when the worker
process dies (``task_reject_on_worker_lost``), and fetched one at a time (prefetch 1).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.concurrency.thread import TaskPool as CeleryThreadPool
from celery.signals import worker_process_init
from kombu import Exchange, Queue  # type: ignore[attr-defined,unused-ignore]  # untyped before kombu 5.6

from secretary.config import Settings
from secretary.kit.heap import freeze_startup_heap
from secretary.kit.logging import get_logger
from secretary.worker import registry
from secretary.worker.dispatch import Dispatch, set_backend
from secretary.worker.runner import Runtime, execute
from secretary.worker.schedule import all_jobs
from secretary.worker.task import QUEUES

if TYPE_CHECKING:
    from secretary.bootstrap import Secretary

log = get_logger(__name__)

# Composes a worker *process* (after the fork): ``bootstrap.compose`` with its own engine.
ProcessComposer = Callable[[Settings], "Secretary"]

SWEEP_TASK = "worker.sweep"


class CeleryBackend:
    """Producer side: what ``dispatch.send_now`` calls in a process using Celery."""

    def __init__(self, app: Celery, *, queue_prefix: str = "") -> None:
        self.app = app
        self.queue_prefix = queue_prefix

    def send(self, dispatch: Dispatch) -> None:
        queue = self.queue_prefix + dispatch.queue
        self.app.send_task(
            dispatch.name,
            args=[dispatch.record_id],
            queue=queue,
            exchange=queue,
            routing_key=queue,
            countdown=dispatch.delay_seconds or None,
            headers={"correlation_id": dispatch.correlation_id},
        )


class WakingThreadPool(CeleryThreadPool):  # type: ignore[misc]  # celery is untyped
    """Celery's ``threads`` pool, waking the worker's event loop when a task finishes.

    A finished task acknowledges its message from its own thread, which frees a prefetch
    slot, but the worker only asks the broker for the next message from its event loop, and
    nothing wakes that loop: with Redis it slept until its next timer, so tasks started in
    bursts about 2 s apart, a 14 s queue wait at 5 messages/s with 4 idle slots (issue #14;
    celery/celery#6941). A prefork pool does not stall because its results arrive on pipes
    the loop watches; this pool gets a pipe of its own, written once per finished task.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def register_with_event_loop(self, loop: Any) -> None:
        loop.add_reader(self._wake_read, self._drain_wake_ups)

    def _drain_wake_ups(self, *_args: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)

    def wake_up(self) -> None:
        # A full pipe already holds a wake-up the loop has not read yet.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"\0")

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        **options: Any,
    ) -> Any:
        def finished(*result: Any) -> None:
            try:
                if callback is not None:
                    callback(*result)  # Celery's on_success: acknowledges the message
            finally:
                self.wake_up()

        return super().on_apply(target, args, kwargs, finished, accept_callback, **options)

    def on_stop(self) -> None:
        super().on_stop()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)


THREADS_POOL = f"{__name__}:WakingThreadPool"


class _ProcessRuntime:
    """One ``Runtime`` per worker *process*, built after the fork (engines don't survive one)."""

    def __init__(self, settings: Settings, composer: ProcessComposer) -> None:
        self.settings = settings
        self.composer = composer
        self._pid: int | None = None
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def get(self) -> Runtime:
        with self._lock:
            if self._runtime is None or self._pid != os.getpid():
                self._runtime = self.composer(self.settings).runtime
                self._pid = os.getpid()
                freeze_startup_heap()  # composed: out of the collector's full passes
            return self._runtime


# Connections a slot holds at once: its task's transaction and the lease heartbeat's, and
# in a search index pass two more, the indexer's lock connection and its own sessions.
# A process pool smaller than its slots need opens and closes an overflow connection (a new
# Postgres backend, with its start-up and cold catalog caches) on nearly every message:
# with 2 per prefork process, one per index pass, 144 for 300 messages (issue #14).
CONNECTIONS_PER_SLOT = 2
CONNECTIONS_PER_INDEX_PASS = 2


def connection_pool_size(pool: str, concurrency: int) -> int:
    """Connections a worker process keeps: one slot's in a prefork pool process (a process
    per slot), every slot's in a threads pool, where index passes for a user coalesce so
    one slot at a time runs one; plus one for the warm-up and start-up sweep."""
    slots = 1 if pool == "prefork" else concurrency
    return CONNECTIONS_PER_SLOT * slots + CONNECTIONS_PER_INDEX_PASS + 1


# A threads worker's slots per ``worker.concurrency`` (see default_slots).
THREADS_SLOTS_PER_CONCURRENCY = 2


def default_slots(pool: str, settings: Settings) -> int:
    """Slots when none are asked for: ``worker.concurrency``, twice that in a threads pool.

    A threads worker's slots mostly wait on Postgres and Google, and unlike the in-process
    runtime's they share their process with nothing else (no web server, no sync loop).
    At 20 messages/s on 2 cores, 8 threads gave p50 0.16 s and p99 0.46 s against 0.50 s
    and 1.09 s with 4, and the rate sweep 18.8 messages/s against 10 (issue #14,
    docs/performance.md). A prefork slot is a process with its own model: as many as
    in-process.
    """
    slots = settings.worker.concurrency
    return slots * THREADS_SLOTS_PER_CONCURRENCY if pool == "threads" else slots


def _compose_process(settings: Settings) -> Secretary:
    from secretary.bootstrap import compose

    return compose(settings, pool_size=connection_pool_size("prefork", 1))


def create_celery_app(settings: Settings, *, composer: ProcessComposer | None = None) -> Celery:
    """The Celery app; ``composer(settings)`` composes each worker process after the fork
    (default: ``bootstrap.compose`` with a small pool)."""
    registry.load_all()
    prefix = settings.worker.queue_prefix
    app = Celery("secretary", broker=settings.worker.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # One direct exchange per queue: sharing the default exchange and routing key would
        # copy every message into all three queues.
        task_queues=[
            Queue(prefix + q, Exchange(prefix + q, type="direct"), routing_key=prefix + q)  # type: ignore[no-untyped-call,unused-ignore]
            for q in QUEUES
        ],
        task_default_queue=prefix + "default",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Each pool process composes its runtime (and loads the local model) at start, which
        # takes longer than Celery's default 4 s allowance on a busy machine.
        worker_proc_alive_timeout=60,
        worker_send_task_events=False,
        # Redis re-delivers an unacknowledged message after this long; keep it above the
        # longest retry delay so a delayed retry is not delivered twice (the claim would
        # skip the second copy anyway).
        broker_transport_options={
            "visibility_timeout": max(3600, int(settings.worker.retry_max_seconds * 2))
        },
        beat_schedule={
            name: {"task": name, "schedule": timedelta(seconds=job.every(settings))}
            for name, job in all_jobs().items()
        },
    )
    process_runtime = _ProcessRuntime(settings, composer or _compose_process)
    backend = CeleryBackend(app, queue_prefix=prefix)

    for name in registry.all_tasks():
        _register_task(app, name, process_runtime)

    for name, job in all_jobs().items():

        def run_job(_job: Any = job) -> Any:
            # The sweeper's re-dispatches and the poll's syncs are sent through the broker:
            # in a threads worker a job could run before any task had set the backend,
            # and its dispatches waited for the next sweep.
            set_backend(backend)
            return _job.fn(process_runtime.get())

        app.task(name=name, ignore_result=True, acks_late=False)(run_job)

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _init_process(**_kwargs: Any) -> None:
        # Follow-up stages enqueued by a task are sent through this app after commit.
        set_backend(backend)
        # Celery waits for this handler before it counts the process as up, and kills and
        # respawns a process that takes longer than ``worker_proc_alive_timeout``. Loading
        # the tier (an ONNX model) on a loaded machine can take longer than that: the pool
        # then respawned forever and the queue stalled (issue #8, the kill -9 flake). So
        # only the cheap part happens here; the warm-up runs beside the first tasks.
        threading.Thread(
            target=_warm_up, args=(process_runtime,), name="secretary-warm-up", daemon=True
        ).start()

    app.conf.secretary_backend = backend
    app.conf.secretary_process_runtime = process_runtime
    return app


def warm_up_in_background(app: Celery) -> None:
    """Compose and warm this process now (a ``threads`` pool runs tasks in it, and
    ``worker_process_init`` only fires in prefork children), and send its dispatches
    through the broker from the start."""
    set_backend(app.conf.secretary_backend)
    threading.Thread(
        target=_warm_up,
        args=(app.conf.secretary_process_runtime,),
        name="secretary-warm-up",
        daemon=True,
    ).start()


def _warm_up(process_runtime: _ProcessRuntime) -> None:
    """Compose this pool process and warm its tier; then sweep once after a lease.

    Composing before the first task matters: a backlog formed while the first tasks wait
    for the tier never drains at an arrival rate close to capacity. A task that needs the
    tier meanwhile waits for it (``Lazy``); the rest run at once.

    The one-shot sweep: a new pool process usually replaces one that died (``kill -9``,
    OOM). Its record is ``running`` with a lease nobody renews; once the lease is over, this
    sweep re-dispatches it even if beat (a separate process) died with it.
    """
    try:
        runtime = process_runtime.get()
        tier = runtime.deps.tier.get()
        if tier is not None:
            # The first inference initialises the ONNX session and the tokenizer.
            from secretary.llm.schemas import EmailInput

            tier.classify(EmailInput(subject="warm-up", body_text="Warm-up."))
    except Exception:
        log.warning("celery_runtime_warmup_failed", exc_info=True)
        return
    worker = runtime.settings.worker
    time.sleep(worker.lease_seconds + worker.stuck_after_seconds)
    try:
        from secretary.worker.schedule import sweep

        sweep(runtime)
    except Exception:
        log.warning("celery_startup_sweep_failed", exc_info=True)


def _register_task(app: Celery, name: str, process_runtime: _ProcessRuntime) -> None:
    def run(record_id: int) -> str:
        set_backend(app.conf.secretary_backend)
        return execute(process_runtime.get(), int(record_id)).value

    app.task(name=name, ignore_result=True)(run)


def install_producer(settings: Settings) -> CeleryBackend:
    """Make this process (API, CLI) send its dispatches to the broker."""
    app = create_celery_app(settings)
    backend: CeleryBackend = app.conf.secretary_backend
    set_backend(backend)
    return backend
