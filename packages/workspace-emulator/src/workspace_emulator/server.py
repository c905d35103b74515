"""Run the emulator: in a background thread (tests, demo, benchmarks) or in the foreground.

``run_in_thread(state)`` binds the socket first (port 0 picks a free one), so ``base_url`` is
known before the first request, then serves it with uvicorn on a daemon thread.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from workspace_emulator.app import create_emulator_app
from workspace_emulator.state import EmulatorState


@dataclass
class RunningEmulator:
    state: EmulatorState
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        push = self.state.extras.get("push")
        if push is not None:
            push.close()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _config(state: EmulatorState, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_emulator_app(state),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # Clients (httplib2 in googleapiclient) keep connections alive between batches.
        timeout_keep_alive=30,
    )


def run_in_thread(
    state: EmulatorState | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
) -> RunningEmulator:
    state = state or EmulatorState()
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says so; without it every response waits ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    state.base_url = f"http://{host}:{bound_port}"
    server = uvicorn.Server(_config(state, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="google-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Google emulator did not start")
        time.sleep(0.005)
    return RunningEmulator(state=state, base_url=state.base_url, server=server, thread=thread)


def serve(
    state: EmulatorState, host: str = "127.0.0.1", port: int = 8765, *, log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted (``secretary emulator serve``)."""
    state.base_url = f"http://{host}:{port}"
    config = _config(state, log_level)
    config.host, config.port = host, port
    uvicorn.Server(config).run()
