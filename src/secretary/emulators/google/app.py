"""The emulator's ASGI app: one server for Gmail, Calendar, Drive, OAuth and the control API.

Routers register through ``ROUTER_MODULES``; each module exposes ``router`` (an APIRouter)
and may expose ``install(app, state)`` for middleware or startup work.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from secretary.emulators.google.state import EmulatorState

# Order matters for middleware: later installs wrap earlier ones.
ROUTER_MODULES = [
    "secretary.emulators.google.oauth",
    "secretary.emulators.google.gmail",
    "secretary.emulators.google.calendar",
    "secretary.emulators.google.drive",
    "secretary.emulators.google.push",
    "secretary.emulators.google.batch",
    "secretary.emulators.google.control",
]


def create_emulator_app(state: EmulatorState | None = None) -> FastAPI:
    state = state or EmulatorState()
    app = FastAPI(title="Secretary Google Workspace emulator", docs_url="/emulator/docs")
    app.state.emulator = state
    for name in ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet
                continue
            raise
        install = getattr(module, "install", None)
        if install is not None:
            install(app, state)
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    return app
