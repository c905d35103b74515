"""Background services of ``secretary serve`` (and the demo), composed once per process.

- the sync scheduler (push-triggered incremental sync, adaptive safety poll, watch renewal);
- the task runtime: in-process asyncio workers by default, or a Celery producer when
  ``Settings.worker.runtime == "celery"`` (then ``secretary worker`` processes execute);
- the sweeper, run once at start so work a killed predecessor left behind resumes.

They hang off ``AppState.extras`` so the webhook and the API can reach them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from typing import Any

from secretary.kit.logging import get_logger
from secretary.web.deps import AppState

log = get_logger(__name__)


async def start_background(state: AppState) -> None:
    from secretary.sync.tasks import SyncScheduler
    from secretary.worker.boot import build_runtime
    from secretary.worker.dispatch import set_backend
    from secretary.worker.schedule import sweep

    settings = state.settings
    runtime = build_runtime(settings, state.sessions)
    state.extras["runtime"] = runtime
    if settings.worker.runtime == "celery":
        from secretary.worker.backends.celery import install_producer

        backend: Any = install_producer(settings)
    else:
        from secretary.worker.backends.inline import InlineBackend

        backend = InlineBackend(runtime, concurrency=settings.worker.concurrency)
        await backend.start()
        set_backend(backend)
    state.extras["task_backend"] = backend
    # Resume at once whatever was queued while no worker ran (a `secretary sync` from the
    # CLI, a crash): without this the records would wait for the sweeper's stuck threshold.
    # Re-dispatching a record someone else also holds is harmless: runs claim a lease.
    resume_settings = settings.model_copy(
        update={"worker": settings.worker.model_copy(update={"stuck_after_seconds": 0})}
    )
    await asyncio.to_thread(
        partial(sweep, replace(runtime, settings=resume_settings), resuming=True)
    )

    scheduler = SyncScheduler(state.sessions, settings)
    await scheduler.start()
    state.extras["sync_scheduler"] = scheduler
    log.info("background_started", runtime=settings.worker.runtime)


async def stop_background(state: AppState) -> None:
    from secretary.worker.dispatch import set_backend

    scheduler = state.extras.pop("sync_scheduler", None)
    if scheduler is not None:
        await scheduler.stop()
    backend = state.extras.pop("task_backend", None)
    set_backend(None)
    stop = getattr(backend, "stop", None)
    if stop is not None:
        await stop()
    log.info("background_stopped")


def with_background(state: AppState) -> AppState:
    """Attach the background services to the app's lifespan hooks."""
    state.extras.setdefault("startup", []).append(start_background)
    state.extras.setdefault("shutdown", []).insert(0, stop_background)
    return state
