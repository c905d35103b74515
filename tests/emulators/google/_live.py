"""Run the emulator app over real HTTP in a thread for the OAuth/Calendar/Drive tests.

Uses ``secretary.emulators.google.server.run_in_thread`` once it exists; until then a local
uvicorn thread on an ephemeral port does the same job.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from secretary.emulators.google.app import create_emulator_app
from secretary.emulators.google.state import EmulatorState


@contextmanager
def serve(state: EmulatorState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1:<free port>; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    state.base_url = base
    config = uvicorn.Config(
        create_emulator_app(state), log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("emulator did not start")
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
