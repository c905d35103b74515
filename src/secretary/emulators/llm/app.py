"""The LLM emulator's ASGI app: the three provider protocols plus a control API.

Control API (under ``/_emulator``), for tests and demos:
  ``POST /_emulator/{provider}/steps`` queue steps (a list of ``Step`` objects),
  ``GET /_emulator/requests`` recorded requests (``?provider=`` to filter),
  ``POST /_emulator/reset`` clear queues and the record.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from secretary.emulators.llm import anthropic, gemini, openai
from secretary.emulators.llm.script import (
    ProviderName,
    RecordedRequest,
    ScriptState,
    Step,
    script_of,
)

control = APIRouter(prefix="/_emulator", tags=["control"])


@control.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@control.post("/{provider}/steps")
def enqueue_steps(provider: ProviderName, steps: list[Step], request: Request) -> dict[str, Any]:
    state = script_of(request)
    state.enqueue(provider, *steps)
    return {"provider": provider, "pending": state.pending(provider)}


@control.get("/requests")
def recorded_requests(
    request: Request, provider: ProviderName | None = None
) -> list[RecordedRequest]:
    state = script_of(request)
    return state.requests_for(provider) if provider else list(state.requests)


@control.post("/reset")
def reset(request: Request) -> dict[str, str]:
    script_of(request).reset()
    return {"status": "reset"}


def create_llm_emulator_app(state: ScriptState | None = None) -> FastAPI:
    app = FastAPI(title="Secretary LLM provider emulator", docs_url="/_emulator/docs")
    app.state.llm_script = state or ScriptState()
    for router in (openai.router, anthropic.router, gemini.router, control):
        app.include_router(router)
    return app
