"""``GET /api/v1/events``: a Server-Sent Events stream of pipeline events.

Each connection LISTENs on the Postgres channel the tasks ``NOTIFY`` (``worker.events``),
so events reach the browser from whichever process ran the task, and only once their
transaction committed. A comment line every 15 s keeps proxies from closing the stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from secretary.web.app import register_routes
from secretary.web.auth import StreamUser
from secretary.web.deps import StateDep
from secretary.worker.events import CHANNEL

router = APIRouter(prefix="/api/v1", tags=["events"])

KEEPALIVE_SECONDS = 15.0


def _libpq_url(sqlalchemy_url: str) -> str:
    return "postgresql://" + sqlalchemy_url.split("://", 1)[1]


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request, state: StateDep, user: StreamUser
) -> AsyncIterator[ServerSentEvent]:
    """Your pipeline events (``triage.completed`` ...) as they commit; ids and categories only."""
    url = _libpq_url(state.engine.url.render_as_string(hide_password=False))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        yield ServerSentEvent(event="ready", data={"channel": CHANNEL})
        while not await request.is_disconnected():
            # A fresh bounded ``notifies()`` per wait: it ends by itself after the timeout,
            # so nothing ever calls ``anext`` on a finished generator. (The old
            # ``anext(notifies)`` under ``wait_for`` raised StopAsyncIteration inside this
            # generator once a cancelled wait had closed it: "async generator raised
            # StopAsyncIteration" when a client went away; issue 12.)
            delivered = False
            async for note in conn.notifies(timeout=KEEPALIVE_SECONDS, stop_after=1):
                delivered = True
                payload = json.loads(note.payload)
                if payload.get("user_id") != user.user_id:  # only the caller's own events
                    continue
                yield ServerSentEvent(event=payload.get("kind", "message"), data=payload)
            if not delivered:
                yield ServerSentEvent(comment="keepalive")


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
