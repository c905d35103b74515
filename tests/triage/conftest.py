"""Pipeline fixtures: the Gmail emulator over real HTTP, a connected account, the sync
engine, and the inline runtime on a background event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.worker.backends.inline import InlineBackend
from secretary.worker.dispatch import set_backend
from secretary.worker.runner import Runtime

# The sync tests' fixtures: a real emulator on a real port and a connected account.
from tests.sync.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    Connected,
    connected,
    emulator,
    sync_settings,
)
from tests.triage.tiers import KeywordTier


class InlineThread:
    """The inline runtime on its own event loop thread, driven from synchronous tests."""

    def __init__(self, runtime: Runtime, *, run_periodic: bool = False) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.backend = InlineBackend(runtime, run_periodic=run_periodic)
        self._call(self.backend.start())
        set_backend(self.backend)

    def _call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_idle(self, within: float = 30) -> None:
        self._call(self.backend.wait_idle(within=within), timeout=within + 5)

    def stop(self) -> None:
        set_backend(None)
        self._call(self.backend.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def pipeline_settings(request: pytest.FixtureRequest) -> Settings:
    # By name: the fixture is imported from the sync tests' conftest above.
    base: Settings = request.getfixturevalue("sync_settings")
    worker = base.worker.model_copy(
        update={
            "retry_base_seconds": 0.02,
            "retry_max_seconds": 0.1,
            "stuck_after_seconds": 0.5,
            "sweep_interval_seconds": 0.2,
            "concurrency": 4,
        }
    )
    return base.model_copy(update={"worker": worker})


@pytest.fixture
def tier() -> KeywordTier:
    return KeywordTier()


@pytest.fixture
def pipeline_runtime(
    pipeline_settings: Settings, sessions: sessionmaker[Session], tier: KeywordTier
) -> Runtime:
    return compose(pipeline_settings, sessions=sessions, tier=tier).runtime


@pytest.fixture
def inline(pipeline_runtime: Runtime) -> Iterator[InlineThread]:
    running = InlineThread(pipeline_runtime)
    try:
        yield running
    finally:
        running.stop()
