"""``POST /api/v1/ask`` (JSON, or server-sent events with ``Accept: text/event-stream``) and
``GET /api/v1/conversations/{id}`` (issue 11). Thin: authenticate, call ``assistant``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event

from secretary.assistant import service
from secretary.assistant.schemas import AskRequest, AskResponse
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1", tags=["ask"])


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def ask(body: AskRequest, request: Request, user: CurrentUser, state: StateDep) -> Response:
    """Answer a question (or take a request) across mail, calendar and Drive, with citations.

    With ``Accept: text/event-stream`` the answer streams as events ``plan``, ``step``,
    ``delta``, ``citation``, ``action`` and a final ``done`` carrying this route's JSON.
    Actions are proposals waiting for approval; nothing is sent, booked or shared here.
    """
    deps = service.ask_deps(state.settings, state.sessions, state.components)
    if "text/event-stream" in request.headers.get("accept", ""):
        events = service.ask_events(deps, user.user_id, body.question, body.conversation_id)
        first = await anext(events)  # raises NotFound (404) before the stream starts

        async def stream() -> AsyncIterator[bytes]:
            yield _sse(*first)
            async for name, data in events:
                if await request.is_disconnected():
                    await events.aclose()
                    return
                yield _sse(name, data)

        return EventSourceResponse(stream())
    answer = await service.ask(deps, user.user_id, body.question, body.conversation_id)
    return JSONResponse(answer.model_dump(mode="json"))


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(data_str=json.dumps(data, default=str), event=event)


@router.get("/conversations/{conversation_id}")
def conversation(conversation_id: str, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The turns of one of your conversations, oldest first."""
    turns = service.conversation_turns(session, user.user_id, conversation_id)
    return {
        "conversation_id": conversation_id,
        "turns": [
            {
                "question": turn.question,
                "answer": turn.answer,
                "citations": turn.citations,
                "proposed_actions": turn.actions,
                "partial_failures": turn.partial_failures,
                "created_at": turn.created_at.isoformat(),
            }
            for turn in turns
        ],
    }


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
