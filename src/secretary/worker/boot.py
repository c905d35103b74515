"""``secretary worker --runtime inline``: the in-process runtime as its own process.

The process is composed by ``secretary.bootstrap.compose`` like every other edge; this
module only runs it until a signal arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretary.kit.logging import get_logger

if TYPE_CHECKING:
    from secretary.bootstrap import Secretary

log = get_logger(__name__)


async def run_inline_forever(root: Secretary, *, concurrency: int | None = None) -> None:
    """Run the inline backend (tasks and periodic jobs) until SIGINT/SIGTERM.

    On start the sweeper runs at once, so work a killed predecessor left behind resumes.
    """
    import asyncio
    import signal

    from secretary.kit.heap import freeze_startup_heap
    from secretary.worker.backends.inline import InlineBackend
    from secretary.worker.dispatch import set_backend
    from secretary.worker.schedule import sweep

    runtime = root.runtime
    backend = InlineBackend(runtime, concurrency=concurrency)
    freeze_startup_heap()  # composed: out of the collector's full passes (kit.heap)
    await backend.start()
    set_backend(backend)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(sweep, runtime)
    try:
        await stop.wait()
    finally:
        set_backend(None)
        await backend.stop()
