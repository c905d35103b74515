"""Serve an emulator state over real HTTP for the OAuth/Calendar/Drive tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from workspace_emulator.server import run_in_thread
from workspace_emulator.state import EmulatorState


@contextmanager
def serve(state: EmulatorState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1:<free port>; yields the base URL."""
    with run_in_thread(state) as running:
        yield running.base_url
