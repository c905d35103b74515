"""``POST /api/v1/ask`` as JSON and as server-sent events, behind authentication."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.assistant.conftest import NOW, Workspace
from tests.auth import authenticate


@pytest.fixture
def client(
    workspace: Workspace,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    monkeypatch.setenv("SECRETARY_NOW", NOW.isoformat())
    served = settings.model_copy(update={"home": tmp_path})
    state = AppState(root=compose(served, engine=engine, sessions=sessions))
    with TestClient(create_app(served, state=state)) as c:
        authenticate(c, sessions, workspace.user_id)
        yield c


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_json_answer_with_citations(client: TestClient, workspace: Workspace) -> None:
    r = client.post("/api/v1/ask", json={"question": "When is my Turkish Airlines flight?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "conversation_id", "answer", "citations", "plan", "proposed_actions", "partial_failures"
    }  # fmt: skip
    assert body["citations"][0] == {
        "kind": "email",
        "id": f"msg1-{workspace.user_id}",
        "title": "Your Turkish Airlines booking K7QX2M",
    }
    assert body["plan"]["steps"][0] == {"id": "mail_search", "agent": "mail", "depends_on": []}
    turns = client.get(f"/api/v1/conversations/{body['conversation_id']}").json()["turns"]
    assert [t["question"] for t in turns] == ["When is my Turkish Airlines flight?"]


def test_event_stream(client: TestClient) -> None:
    r = client.post(
        "/api/v1/ask",
        json={"question": "When is my Turkish Airlines flight?"},
        headers={"Accept": "text/event-stream"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r.text)
    assert events[0][0] == "plan"
    assert events[-1][0] == "done"
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed.strip() == events[-1][1]["answer"]


def test_other_users_conversation_and_no_credentials(
    client: TestClient, workspace: Workspace, sessions: sessionmaker[Session]
) -> None:
    mine = client.post("/api/v1/ask", json={"question": "When is my flight?"}).json()
    authenticate(client, sessions, workspace.other_user_id)
    r = client.post(
        "/api/v1/ask", json={"question": "and then?", "conversation_id": mine["conversation_id"]}
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "conversation_not_found"
    assert client.get(f"/api/v1/conversations/{mine['conversation_id']}").status_code == 404
    del client.headers["Authorization"]
    assert client.post("/api/v1/ask", json={"question": "hello"}).status_code == 401
