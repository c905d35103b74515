"""Run the LLM emulator: in the foreground (the CLI) or in a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from secretary.emulators.llm.app import create_llm_emulator_app
from secretary.emulators.llm.script import ScriptState


@dataclass(frozen=True)
class RunningEmulator:
    url: str  # e.g. http://127.0.0.1:43123 (no trailing slash)
    script: ScriptState

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        return self.url


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def serve(host: str = "127.0.0.1", port: int = 8090, *, log_level: str = "warning") -> None:
    uvicorn.run(create_llm_emulator_app(), host=host, port=port, log_level=log_level)


@contextmanager
def run_in_thread(
    script: ScriptState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningEmulator]:
    """Serve the emulator on a free port for the duration of the block."""
    script = script or ScriptState()
    port = port or free_port(host)
    config = uvicorn.Config(
        create_llm_emulator_app(script),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        # Scripted latency keeps a few requests open when a test ends; don't wait for them.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="llm-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the LLM emulator did not start")
        time.sleep(0.01)
    try:
        yield RunningEmulator(url=f"http://{host}:{port}", script=script)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
