"""The emulator's ASGI app: one server for Gmail, Calendar, Drive, OAuth and the control API.

Routers register through ``ROUTER_MODULES``; each module exposes ``router`` (an APIRouter)
and may expose ``install(app, state)`` for middleware or startup work.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from workspace_emulator.state import EmulatorState

# Order matters for middleware: later installs wrap earlier ones.
ROUTER_MODULES = [
    "workspace_emulator.oauth",
    "workspace_emulator.gmail",
    "workspace_emulator.gmail_settings",
    "workspace_emulator.calendar",
    "workspace_emulator.drive",
    "workspace_emulator.push",
    "workspace_emulator.batch",
    "workspace_emulator.control",
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
