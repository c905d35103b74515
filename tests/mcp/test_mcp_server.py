"""The MCP server, driven by the official SDK client over streamable HTTP with a token."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from mcp import Client
from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import Draft
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.assistant.conftest import Workspace
from tests.auth import issue_token

TOOLS = {
    "search", "read_thread", "read_event", "read_file", "ask", "list_pending_approvals",
    "propose_reply", "find_slots", "propose_event",
}  # fmt: skip


@pytest.fixture
def base_url(
    workspace: Workspace,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> Iterator[str]:
    served = settings.model_copy(update={"home": tmp_path})
    state = AppState(root=compose(served, engine=engine, sessions=sessions))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(served, state=state), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the API stopped while starting"
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _call(base_url: str, token: str | None, work: Any) -> Any:
    async def go() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(f"{base_url}/api/v1/mcp/", http_client=http)
            async with Client(transport) as client:
                return await work(client)

    return asyncio.run(go())


def _json(result: Any) -> Any:
    assert not result.is_error, result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def test_tools_search_ask_and_a_proposal(
    base_url: str, workspace: Workspace, sessions: sessionmaker[Session]
) -> None:
    token = issue_token(sessions, workspace.user_id)
    flight_id = f"msg1-{workspace.user_id}"

    async def work(client: Client) -> dict[str, Any]:
        listed = await client.list_tools()
        found = _json(await client.call_tool("search", {"query": "Turkish Airlines flight"}))
        answer = _json(
            await client.call_tool("ask", {"question": "When is my Turkish Airlines flight?"})
        )
        proposed = _json(
            await client.call_tool(
                "propose_reply", {"message_id": flight_id, "body": "Thanks, see you there."}
            )
        )
        pending = _json(await client.call_tool("list_pending_approvals", {}))
        thread = _json(
            await client.call_tool("read_thread", {"thread_id": f"thr1-{workspace.user_id}"})
        )
        return {"tools": {t.name for t in listed.tools}, "found": found, "answer": answer,
                "proposed": proposed, "pending": pending, "thread": thread}  # fmt: skip

    out = _call(base_url, token, work)
    assert out["tools"] == TOOLS
    assert out["found"]["results"][0]["id"] == flight_id
    assert "departs London Heathrow" in out["answer"]["answer"]
    assert out["answer"]["citations"][0]["id"] == flight_id
    assert out["proposed"]["kind"] == "draft_email"
    assert out["proposed"]["status"] == "pending_approval"
    assert out["proposed"]["id"] in {p["id"] for p in out["pending"]["pending"]}
    assert "untrusted" in out["thread"]["note"]
    with sessions() as session:
        draft = session.scalars(select(Draft).where(Draft.user_id == workspace.user_id)).one()
    assert (draft.status, draft.body, draft.gmail_message_id) == (
        "pending", "Thanks, see you there.", None,  # waiting for approval, never sent
    )  # fmt: skip


def test_unauthenticated_calls_are_refused(base_url: str, workspace: Workspace) -> None:
    bare = httpx2.post(
        f"{base_url}/api/v1/mcp/",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert bare.status_code == 401
    assert bare.json()["error"]["code"] == "not_authenticated"
    forged = httpx2.post(
        f"{base_url}/api/v1/mcp/",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": "Bearer sec_forged", "Accept": "application/json"},
    )
    assert forged.status_code == 401

    async def work(client: Client) -> None:
        await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 -- the SDK raises its own transport errors
        _call(base_url, None, work)


def test_each_user_sees_only_their_own_items(
    base_url: str, workspace: Workspace, sessions: sessionmaker[Session]
) -> None:
    token = issue_token(sessions, workspace.other_user_id)
    mine = f"thr1-{workspace.user_id}"

    async def work(client: Client) -> tuple[Any, Any]:
        found = _json(await client.call_tool("search", {"query": "Turkish Airlines flight"}))
        other = _json(await client.call_tool("read_thread", {"thread_id": mine}))
        return found, other

    found, other = _call(base_url, token, work)
    assert all(r["id"].endswith(f"-{workspace.other_user_id}") for r in found["results"])
    assert other["error"]["code"] == "thread_not_found"


def test_slots_and_an_event_proposal_wait_for_approval(
    base_url: str, workspace: Workspace, sessions: sessionmaker[Session]
) -> None:
    token = issue_token(sessions, workspace.user_id)

    async def work(client: Client) -> tuple[Any, Any, Any]:
        slots = _json(
            await client.call_tool(
                "find_slots",
                {"duration_minutes": 30, "start": "2026-12-08", "end": "2026-12-10"},
            )
        )
        proposed = _json(
            await client.call_tool(
                "propose_event",
                {
                    "summary": "Budget walkthrough",
                    "start": "2026-12-08T15:00:00+00:00",
                    "end": "2026-12-08T15:30:00+00:00",
                    "attendees": ["jordan@northwind.example"],
                },
            )
        )
        pending = _json(await client.call_tool("list_pending_approvals", {}))
        return slots, proposed, pending

    slots, proposed, pending = _call(base_url, token, work)
    assert slots["slots"], slots
    assert all(s["start"] < s["end"] for s in slots["slots"])
    assert (proposed["kind"], proposed["status"]) == ("create_event", "pending_approval")
    assert proposed["id"] in {p["id"] for p in pending["pending"]}


def test_stdio_server_lists_tools_and_searches(
    workspace: Workspace, settings: Settings, tmp_path: Path
) -> None:
    """``secretary mcp`` over stdio, launched as a client would launch it."""
    from mcp.client.stdio import stdio_client

    from mcp import StdioServerParameters

    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SECRETARY_HOME": str(tmp_path),
        "SECRETARY_ENV": "test",
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "secretary", "mcp", "--user-id", str(workspace.user_id)],
        env=env,
    )

    async def go() -> tuple[set[str], Any]:
        async with Client(stdio_client(params)) as client:
            listed = await client.list_tools()
            found = _json(await client.call_tool("search", {"query": "Turkish Airlines flight"}))
            return {t.name for t in listed.tools}, found

    names, found = asyncio.run(go())
    assert names == TOOLS
    assert found["results"][0]["id"] == f"msg1-{workspace.user_id}"
